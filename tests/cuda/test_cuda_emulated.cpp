// SPDX-License-Identifier: Apache-2.0
// The CUDA backend's generated kernels, compiled for the host and run there
// (make_cuda_host_emulator: no GPU needed), against the reference backend:
// every op case forward and backward, a whole narrow training step and the
// generation graph. This checks the code generators' semantics (indexing,
// broadcasting, reductions, BN, Adam, conv roles) on any machine; the GPU
// tests check the same code on the device, with cuDNN.
#include <algorithm>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "apps/model/ralsgan_step.h"
#include "backends/cuda/cuda_internal.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "tests/common/golden_augment_step.h"
#include "tests/common/op_cases.h"
#include "tests/common/shared_plan.h"
#include "tests/cuda/bf16_checks.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/forward_only_ops.h"
#include "tests/cuda/golden_check.h"

namespace rg::testing_ops {
// Readable test names in ctest (instead of the bytes of the case).
inline void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
}  // namespace rg::testing_ops

namespace rg {
namespace {

// The host emulator compiles generated code with $CXX: default to this build's compiler.
const bool kHostCompiler = [] { return setenv("CXX", RG_HOST_CXX, 0) == 0; }();

using cudatest::rel_err;
using testing_ops::Case;

class CudaEmulated : public ::testing::TestWithParam<Case> {};

// The NVRTC cache compares the source it stored: another source under the same
// file name (a 64-bit hash collision), a truncated or foreign file is a miss.
TEST(NvrtcCache, AnEntryServesOnlyItsOwnSource) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/rg_nvrtc_cache_test.cubin";
  const std::string src = "extern \"C\" __global__ void k() {}", cubin = std::string("\x7f" "ELF cubin", 10);
  {
    std::ofstream f(path, std::ios::binary);
    const std::string e = cuda::cache_entry(src, cubin);
    f.write(e.data(), std::streamsize(e.size()));
  }
  std::string got;
  ASSERT_TRUE(cuda::read_cache_entry(path, src, got));
  EXPECT_EQ(got, cubin);
  EXPECT_FALSE(cuda::read_cache_entry(path, src + " ", got));           // a colliding other source
  EXPECT_FALSE(cuda::read_cache_entry(path, "x" + src.substr(1), got));  // same length, other bytes
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);  // a cubin of the old format
    f << cubin;
  }
  EXPECT_FALSE(cuda::read_cache_entry(path, src, got));
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);  // truncated inside the source
    f << cuda::cache_entry(src, cubin).substr(0, 20);
  }
  EXPECT_FALSE(cuda::read_cache_entry(path, src, got));
  std::remove(path.c_str());
}

TEST_P(CudaEmulated, MatchReferenceForwardAndBackwardInF32) {
  const testing_ops::BuiltCase b = testing_ops::build_case(GetParam(), DType::f32);
  const auto values = testing_ops::random_values(b, 7);
  auto ref = make_ref_backend();
  auto emu = make_cuda_host_emulator();
  auto rp = compile(b.graph, *ref), ep = compile(b.graph, *emu);
  validate_memory_plan(*ep);
  Session rs(*rp), es(*ep);
  for (Session* s : {&rs, &es}) {
    testing_ops::set_values(*s, values);
    s->run();
  }
  std::vector<ValueId> outs{b.y, b.loss};
  for (const auto& [v, d] : b.grads) outs.push_back(d);
  for (ValueId v : outs) EXPECT_LT(rel_err(es.value(v), rs.value(v)), 1e-4) << b.graph->value_label(v);
}

INSTANTIATE_TEST_SUITE_P(EveryOp, CudaEmulated, ::testing::ValuesIn(testing_ops::cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CudaEmulatedStep, NarrowStepMatchesTheReferenceBackend) {
  model::StepConfig cfg;
  cfg.model = {32, 0.125, 16};
  cfg.batch = 4;
  cfg.expose_gradients = true;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  auto ref = make_ref_backend();
  auto emu = make_cuda_host_emulator();
  auto rp = compile(s.graph, *ref), ep = compile(s.graph, *emu);
  validate_memory_plan(*ep);
  Session rs(*rp), es(*ep);
  const auto x = cudatest::uniform(size_t(4 * 3 * 32 * 32), 5);
  const auto z = cudatest::normal(size_t(4 * 16), 6);
  for (Session* p : {&rs, &es}) {
    cudatest::init_variables(*s.graph, *p, 11);
    p->set_input("x_real", std::span<const float>(x));
    p->set_input("z", std::span<const float>(z));
    p->run();
    p->run();  // a second step: Adam's second moments and step 2 bias corrections
  }
  for (ValueId v : {s.loss_d, s.loss_g}) EXPECT_LT(rel_err(es.value(v), rs.value(v)), 1e-4) << s.graph->value_label(v);
  // Multi-tensor Adam: each network's updates in one launch.
  int adam_groups = 0, launches = 0;
  for (Kernel* k : es.kernels()) {  // the session's bound instances know their launch
    const std::string d = k->describe();
    adam_groups += d.find("adam_update") != std::string::npos;
    launches += d.find("(multi-tensor Adam,") != std::string::npos;
  }
  std::cout << adam_groups << " Adam groups in " << launches << " launches\n";
  EXPECT_GT(adam_groups, 10);
  EXPECT_EQ(launches, 2);
  for (const auto& [name, v] : s.grads) EXPECT_LT(rel_err(es.value(v), rs.value(v)), 1e-3) << name;
  for (const VariableInfo& v : s.graph->variables()) EXPECT_LT(rel_err(es.variable(v.name), rs.variable(v.name)), 1e-3) << v.name;
}

// bf16 convolutions (CudaPrecision::kBF16): the conversions and the rounded
// operands around each convolution, with the same generated code as the GPU.
// The emulator sums in the reference backend's order, so forward results are
// exactly the rounded reference.
using cudatest::bf16_options;

TEST(CudaEmulatedBf16, ConvolutionsRoundOperandsAndResultsToBf16) {
  auto emu = make_cuda_host_emulator(bf16_options());
  cudatest::check_bf16_convolutions(*emu, 0.0, 2e-2);
}

TEST(CudaEmulatedBf16, NarrowStepStaysCloseToTheF32Reference) {
  auto emu = make_cuda_host_emulator(bf16_options());
  cudatest::check_bf16_step(*emu);
}

// A bf16 convolution whose result only its group's elementwise chain reads
// (convolution + LeakyReLU, + ReLU gradient, ...) keeps it in bf16: the chain
// widens it on load, no conversion kernel. Its values are checked by the step
// test above; here, that the path is taken.
TEST(CudaEmulatedBf16, ChainsWidenConvolutionResultsThemselves) {
  model::StepConfig cfg;
  cfg.model = {32, 0.125, 16};
  cfg.batch = 2;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  auto emu = make_cuda_host_emulator(bf16_options());
  auto plan = compile(s.graph, *emu);
  int convs = 0, widened = 0;
  for (size_t k = 0; k < plan->kernels.size(); ++k) {
    const std::string d = plan->kernels[k]->describe();
    if (d.find("host conv") == std::string::npos) continue;
    ++convs;
    widened += d.find("from_bf16_") == std::string::npos;
    EXPECT_NE(d.find("to_bf16_"), std::string::npos) << d;
  }
  std::cout << widened << " of " << convs << " bf16 convolutions leave their result to the chain\n";
  EXPECT_GT(convs, 20);
  EXPECT_GT(widened, 5);
  EXPECT_LT(widened, convs);
}

TEST(CudaEmulatedForwardOnlyOps, MatchTheReferenceBackend) {
  cudatest::check_forward_only_ops([] { return make_cuda_host_emulator(); });
}

TEST(CudaEmulatedStep, MatchesPyTorchGoldenStep) {
  auto emu = make_cuda_host_emulator();
  cudatest::check_golden_step(*emu);
}

// DiffAugment and the moving average in the generated kernels: the forward
// values against PyTorch's step (tools/golden/make_step_aug_golden.py), and
// G_ema after the step against the reference backend's.
TEST(CudaEmulatedStep, DiffAugmentAndEmaMatchPyTorchAndTheReference) {
  auto emu = make_cuda_host_emulator();
  auto ref = make_ref_backend();
  testing_golden::expect_augmented_step_matches(*emu, *ref);
}

TEST(CudaEmulatedGenerate, ImagesWithinOneLevelOfTheReferenceBackend) {
  const model::ModelConfig mc{32, 0.25, 16};
  const model::GenerateGraph gen = model::build_generate_graph(mc, 3, DType::f32);
  auto ref = make_ref_backend();
  auto emu = make_cuda_host_emulator();
  auto rp = compile(gen.graph, *ref), ep = compile(gen.graph, *emu);
  Session rs(*rp), es(*ep);
  const auto z = cudatest::normal(size_t(3 * mc.nz), 3);
  for (Session* p : {&rs, &es}) {
    cudatest::init_variables(*gen.graph, *p, 21);
    p->set_input("z", std::span<const float>(z));
    p->run();
  }
  auto q = [](double x) { return std::clamp(std::floor((x + 1.0) * 127.5 + 0.5), 0.0, 255.0); };
  const auto a = es.value(gen.images), b = rs.value(gen.images);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(q(a[i]) - q(b[i])));
  EXPECT_LE(worst, 1.0);
  EXPECT_LT(rel_err(a, b), 1e-5);
}

// The generator's transfer pipeline (bench_cuda's with_copy loop): two plans,
// pinned buffers, uploads and downloads through CudaTransfers; every batch's
// images must equal a plain session's. On the emulator the transfers are plain
// copies, so this checks the pointers, sizes and slot bookkeeping.
TEST(CudaEmulatedGenerate, PipelinedTransfersGiveEachBatchItsImages) {
  const model::ModelConfig mc{32, 0.25, 16};
  const int batch = 2, batches = 5;
  const model::GenerateGraph gen = model::build_generate_graph(mc, batch, DType::f32);
  auto emu = make_cuda_host_emulator();
  auto p0 = compile(gen.graph, *emu), p1 = compile(gen.graph, *emu), pr = compile(gen.graph, *emu);
  Session s0(*p0), s1(*p1), sr(*pr);
  Session* sess[2] = {&s0, &s1};
  for (Session* s : {&s0, &s1, &sr}) cudatest::init_variables(*gen.graph, *s, 21);
  CudaTransfers tr(*emu);
  const size_t zn = size_t(batch * mc.nz), img_bytes = gen.graph->desc(gen.images).bytes();
  const auto zall = cudatest::normal(zn * batches, 4);
  float* zs = static_cast<float*>(tr.pinned(zn * batches * sizeof(float)));
  std::copy(zall.begin(), zall.end(), zs);
  float* out[2] = {static_cast<float*>(tr.pinned(img_bytes)), static_cast<float*>(tr.pinned(img_bytes))};
  ValueId zv = kNoValue;
  for (const InputInfo& i : gen.graph->inputs())
    if (i.name == "z") zv = i.value;
  ASSERT_NE(zv, kNoValue);
  std::vector<std::vector<float>> got(batches);
  auto take = [&](int b) { got[size_t(b)].assign(out[b & 1], out[b & 1] + img_bytes / sizeof(float)); };
  for (int b = 0; b < batches; ++b) {
    const int s = b & 1;
    if (b >= 2) tr.device_wait(s);
    tr.upload(sess[s]->device_ptr(zv), zs + size_t(b) * zn, zn * sizeof(float));
    sess[s]->run();
    tr.download(s, out[s], sess[s]->device_ptr(gen.images), img_bytes);
    if (b >= 1) {
      tr.host_wait(1 - s);
      take(b - 1);
    }
  }
  tr.host_wait((batches - 1) & 1);
  take(batches - 1);
  for (int b = 0; b < batches; ++b) {
    sr.set_input("z", std::span<const float>(zs + size_t(b) * zn, zn));
    sr.run();
    const std::vector<float> want = sr.value_f32(gen.images);
    ASSERT_EQ(got[size_t(b)].size(), want.size());
    EXPECT_EQ(0, std::memcmp(got[size_t(b)].data(), want.data(), want.size() * sizeof(float))) << "batch " << b;
  }
  EXPECT_THROW(CudaTransfers{*make_ref_backend()}, std::runtime_error);
}

}  // namespace
}  // namespace rg

namespace rg {
namespace {
// Several Sessions of one cuda plan (host emulation): the later ones bind
// CudaKernel::clone()s, and each session's Adam launches group its own
// kernels. On a GPU each session's kernel list is also captured in a CUDA
// graph of its own; that part runs only there (CudaStep.SeveralSessionsRunOnePlan).
TEST(CudaEmulatedStep, SeveralSessionsRunOnePlan) {
  auto emu = make_cuda_host_emulator();
  testing_shared_plan::expect_sessions_share_one_plan(*emu);
}
// The emulator runs in order (no CUDA graph); CudaStep.TimedRunsAreRuns times
// on the device.
TEST(CudaEmulatedStep, TimedRunsAreRuns) {
  auto emu = make_cuda_host_emulator();
  testing_shared_plan::expect_timed_runs_are_runs(*emu);
}
}  // namespace
}  // namespace rg
