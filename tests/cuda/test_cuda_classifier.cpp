// SPDX-License-Identifier: Apache-2.0
// The Fashion-MNIST classifier's PyTorch golden step (tests/common/classifier_golden.h)
// on the CUDA backend: its generated kernels host-emulated (runs anywhere), and
// on a GPU (skips without one), in f32 and f64.
#include <gtest/gtest.h>

#include <cstdlib>

#include "backends/cuda/cuda_backend.h"
#include "engine/schedule.h"
#include "tests/common/classifier_golden.h"
#include "tests/cuda/cuda_test_util.h"

namespace rg {
namespace {

// The host emulator compiles generated code with $CXX: default to this build's compiler.
const bool kHostCompiler = [] { return setenv("CXX", RG_HOST_CXX, 0) == 0; }();

using testing_golden::check_classifier_step;

TEST(CudaEmulatedClassifier, GoldenStepInF64AndF32) {
  ASSERT_TRUE(kHostCompiler);
  auto emu = make_cuda_host_emulator();
  check_classifier_step(*emu, DType::f64, "classifier_step_f64.safetensors", 1e-10);
  check_classifier_step(*emu, DType::f32, "classifier_step_f32.safetensors", 1e-5);
}

// No GPU needed: NVRTC compiles every kernel of the default-sized training step.
TEST(CudaCodegenClassifier, TrainingStepCompilesWithNvrtc) {
  for (DType t : {DType::f32, DType::f64}) {
    const classifier::ClassifierGraph st = classifier::build_classifier_step({}, t);
    EXPECT_GT(cuda_codegen_check(*st.graph, fuse(*st.graph, schedule(*st.graph)), 90), 10) << dtype_name(t);
  }
}

TEST(CudaClassifier, GoldenStepInF64AndF32) {
  RG_REQUIRE_GPU();
  auto be = make_cuda_backend();
  check_classifier_step(*be, DType::f64, "classifier_step_f64.safetensors", 1e-10);
  check_classifier_step(*be, DType::f32, "classifier_step_f32.safetensors", 1e-5);
}

}  // namespace
}  // namespace rg
