// SPDX-License-Identifier: Apache-2.0
// Every op of tests/common/op_cases.h, forward and backward, on the CUDA
// backend against the reference backend in f32; repeat runs (eager, captured,
// replayed) bit-identical; and the generated code of whole plans compiles with
// NVRTC (that part needs no GPU).
#include <cstring>
#include <string>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "engine/schedule.h"
#include "tests/common/op_cases.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/forward_only_ops.h"

namespace rg::testing_ops {
// Readable test names in ctest (instead of the bytes of the case).
inline void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
}  // namespace rg::testing_ops

namespace rg {
namespace {

using testing_ops::Case;

class CudaOps : public ::testing::TestWithParam<Case> {};

TEST_P(CudaOps, MatchReferenceForwardAndBackwardInF32) {
  RG_REQUIRE_GPU();
  const testing_ops::BuiltCase b = testing_ops::build_case(GetParam(), DType::f32);
  const auto values = testing_ops::random_values(b, 7);
  auto ref = make_ref_backend();
  auto ref_plan = compile(b.graph, *ref);
  Session rs(*ref_plan);
  testing_ops::set_values(rs, values);
  rs.run();
  auto cuda = make_cuda_backend();
  const std::string name = GetParam().name;
  if (name.starts_with("conv") && name.ends_with("_pads_asymmetric")) {
    // cuDNN's descriptor has one padding per axis: refused, naming why.
    try {
      (void)compile(b.graph, *cuda);
      ADD_FAILURE() << name << ": compiled, expected a refusal";
    } catch (const std::exception& e) {
      EXPECT_TRUE(testing_ops::is_cudnn_padding_refusal(e)) << e.what();
    }
    return;
  }
  auto plan = compile(b.graph, *cuda);
  validate_memory_plan(*plan);
  Session cs(*plan);
  testing_ops::set_values(cs, values);
  std::vector<ValueId> outs{b.y, b.loss};
  for (const auto& [v, d] : b.grads) outs.push_back(d);
  std::vector<std::vector<float>> first;
  for (int run = 0; run < 3; ++run) {  // eager, captured into a CUDA graph, replayed
    cs.run();
    for (size_t i = 0; i < outs.size(); ++i) {
      const std::vector<float> got = cs.value_f32(outs[i]);
      if (run == 0) {
        first.push_back(got);
        const std::vector<double> want = rs.value(outs[i]);
        const std::vector<double> gotd(got.begin(), got.end());
        EXPECT_LT(cudatest::rel_err(gotd, want), 1e-4) << GetParam().name << ": " << b.graph->value_label(outs[i]);
      } else {
        EXPECT_EQ(0, std::memcmp(got.data(), first[i].data(), got.size() * sizeof(float)))
            << GetParam().name << ": run " << run << " differs from run 0 in " << b.graph->value_label(outs[i]);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryOp, CudaOps, ::testing::ValuesIn(testing_ops::cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CudaForwardOnlyOps, MatchTheReferenceBackend) {
  RG_REQUIRE_GPU();
  cudatest::check_forward_only_ops([] { return make_cuda_backend(); });
}

// No GPU needed: NVRTC compiles every kernel the backend generates for these plans.
int codegen(const std::shared_ptr<Graph>& g, CudaPrecision p = CudaPrecision::kF32) {
  const std::vector<NodeId> order = schedule(*g);
  return cuda_codegen_check(*g, fuse(*g, order), 90, p);
}

TEST(CudaCodegen, EveryOpCaseCompilesWithNvrtc) {
  for (const Case& c : testing_ops::cases()) {
    for (DType t : {DType::f32, DType::f64}) {
      const testing_ops::BuiltCase b = testing_ops::build_case(c, t);
      EXPECT_GT(codegen(b.graph), 0) << c.name;
    }
  }
}

TEST(CudaCodegen, ForwardOnlyOpsCompileWithNvrtc) {
  for (DType t : {DType::f32, DType::f64}) {
    std::vector<ValueId> outs;
    EXPECT_GT(codegen(cudatest::forward_only_graph(t, outs)), 5) << dtype_name(t);
  }
}

TEST(CudaCodegen, SeedTrainingStepAndGenerationCompileWithNvrtc) {
  model::StepConfig cfg;
  cfg.batch = 64;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  const int n = codegen(s.graph);
  std::cout << "seed training step: " << n << " distinct NVRTC kernels\n";
  EXPECT_GT(n, 50);
  const model::GenerateGraph gen = model::build_generate_graph(cfg.model, 256, DType::f32);
  EXPECT_GT(codegen(gen.graph), 5);
  // bf16 adds the conversions around each convolution (distinct shapes, distinct kernels).
  const int nb = codegen(s.graph, CudaPrecision::kBF16);
  std::cout << "seed training step in bf16: " << nb << " distinct NVRTC kernels\n";
  EXPECT_GT(nb, n + 10);
  EXPECT_GT(codegen(gen.graph, CudaPrecision::kBF16), codegen(gen.graph));
}

TEST(CudaPrecisionNames, ParseWhatTheyPrint) {
  for (CudaPrecision p : {CudaPrecision::kF32, CudaPrecision::kTF32, CudaPrecision::kBF16}) {
    CudaPrecision q = CudaPrecision::kF32;
    EXPECT_TRUE(parse_cuda_precision(cuda_precision_name(p), q));
    EXPECT_EQ(q, p);
  }
  CudaPrecision q = CudaPrecision::kTF32;
  EXPECT_FALSE(parse_cuda_precision("fp16", q));
  EXPECT_FALSE(parse_cuda_precision("", q));
  EXPECT_EQ(q, CudaPrecision::kTF32);
}

TEST(CudaBackend, DescribesTheDeviceOrSaysThereIsNone) {
  const std::string d = cuda_describe_device(0);
  EXPECT_FALSE(d.empty());
  std::cout << d << "\n";
  RG_REQUIRE_GPU();
  auto be = make_cuda_backend();
  EXPECT_EQ(be->name(), "cuda");
}

}  // namespace
}  // namespace rg
