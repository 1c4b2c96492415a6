// SPDX-License-Identifier: Apache-2.0
// One training step of the Fashion-MNIST classifier (examples/fashion_mnist) against
// PyTorch (tests/common/classifier_golden.h): the reference backend in f64 and
// f32 and, when built, the oneDNN backend in f32.
#include <gtest/gtest.h>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "tests/common/classifier_golden.h"
#ifdef RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif

namespace rg {
namespace {

using testing_golden::check_classifier_step;

TEST(ClassifierStep, ReferenceF64MatchesPyTorch) {
  auto be = make_ref_backend();
  check_classifier_step(*be, DType::f64, "classifier_step_f64.safetensors", 1e-10);
}

TEST(ClassifierStep, ReferenceF32MatchesPyTorch) {
  auto be = make_ref_backend();
  check_classifier_step(*be, DType::f32, "classifier_step_f32.safetensors", 1e-5);
}

#ifdef RALSGAN_HAVE_ONEDNN
TEST(ClassifierStep, OneDnnF32MatchesPyTorch) {
  auto be = make_onednn_backend({.threads = 2});
  check_classifier_step(*be, DType::f32, "classifier_step_f32.safetensors", 1e-5);
}
#endif

}  // namespace
}  // namespace rg
