// SPDX-License-Identifier: Apache-2.0
// bf16 mode stores an activation as bf16 where whatever writes it and
// whatever reads it can (choose_bf16_storage in bf16_storage.cpp;
// docs/cpu_backend.md, "bf16"). Checked against the same plan with every
// activation f32 (OneDnnOptions::bf16_activations = false): convolutions
// reading the value compute exactly what they computed before (they rounded
// it to bf16 themselves) or, for Winograd, what they compute on the rounded
// value; a chain computes on the rounded value; batch norm reads and writes
// bf16 with f32 statistics, and ties the values it reads and writes to one
// type.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <tuple>

#include "engine/backend.h"
#include "rg/backend_onednn.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "tests/common/round_bf16.h"

namespace rg {
namespace {

using testing_bf16::round_bf16;

bool has_avx512() {
  const int want = int(dnnl::cpu_isa::avx512_core);
  return (int(dnnl::get_effective_cpu_isa()) & want) == want;
}

std::vector<float> normal(size_t n, float scale, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (float& e : v) e = nd(rng);
  return v;
}

// v = leaky_relu(conv2d(x, w1)) (3x3, stride 1: a oneDNN primitive with the
// activation as a post-op), read by conv2d(v, w2) and by the chain
// v * (that convolution's result); with batch_norm, also by a batch norm.
struct Net {
  std::shared_ptr<Graph> g;
  ValueId v, y1, y2;
};
Net build(bool v_is_output, bool batch_norm) {
  Net n{std::make_shared<Graph>(DType::f32), kNoValue, kNoValue, kNoValue};
  Graph& g = *n.g;
  const ValueId x = g.input("x", {4, 16, 16, 16});
  const ValueId w1 = g.variable("w1", {32, 16, 3, 3}), w2 = g.variable("w2", {32, 32, 3, 3});
  n.v = g.leaky_relu(g.conv2d(x, w1, 1, 1), 0.2);
  n.y1 = g.conv2d(n.v, w2, 1, 1);
  n.y2 = g.mul(n.v, n.y1);
  g.mark_output(n.y1, "y1");
  g.mark_output(n.y2, "y2");
  if (batch_norm) {
    const ValueId gamma = g.variable("gamma", {32}), beta = g.variable("beta", {32});
    g.mark_output(g.batch_norm_train(n.v, gamma, beta, 1e-5).y, "bn");
  }
  if (v_is_output) g.mark_output(n.v, "v");
  return n;
}

struct Result {
  std::vector<float> v, y1, y2;
  std::string kernels;  // every kernel's describe(), one a line
};
Result run(const Net& n, bool bf16_activations) {
  auto dnn = make_onednn_backend({.threads = 2,
                                  .bf16 = true,
                                  .bf16_activations = bf16_activations,
                                  .allow_emulated_bf16 = true});
  auto plan = compile(n.g, *dnn);
  Result r;
  for (const auto& k : plan->kernels) r.kernels += k->describe() + "\n";
  Session s(*plan);
  std::mt19937 rng(5);
  const std::vector<float> x = normal(4 * 16 * 16 * 16, 1.f, rng);
  const std::vector<float> w1 = normal(32 * 16 * 9, 0.1f, rng), w2 = normal(32 * 32 * 9, 0.1f, rng);
  s.set_input("x", std::span<const float>(x));
  s.set_variable("w1", std::span<const float>(w1));
  s.set_variable("w2", std::span<const float>(w2));
  if (n.g->find_variable("gamma") >= 0) {
    const std::vector<float> one(32, 1.f), zero(32, 0.f);
    s.set_variable("gamma", std::span<const float>(one));
    s.set_variable("beta", std::span<const float>(zero));
  }
  s.run();
  auto get = [&](ValueId v) {
    const std::vector<double> d = s.value(v);
    return std::vector<float>(d.begin(), d.end());
  };
  r.y1 = get(n.y1);
  r.y2 = get(n.y2);
  if (std::find(n.g->outputs().begin(), n.g->outputs().end(), n.v) != n.g->outputs().end())
    r.v = get(n.v);
  return r;
}

TEST(OneDnnBf16Storage, ConvolutionReadersUnchangedAndChainsReadTheRoundedValue) {
  if (!has_avx512())
    GTEST_SKIP() << "no AVX-512 (oneDNN has no bf16 convolutions below it): " << onednn_cpu_isa();
  const Result stored = run(build(false, false), true);
  const Result f32 = run(build(true, false), false);
  // The plan says what it stores as bf16 and who widens it.
  EXPECT_NE(stored.kernels.find("dst stored bf16"), std::string::npos) << stored.kernels;
  EXPECT_NE(stored.kernels.find("src stored bf16"), std::string::npos) << stored.kernels;
  EXPECT_NE(stored.kernels.find("(widens bf16)"), std::string::npos) << stored.kernels;
  EXPECT_EQ(f32.kernels.find("stored bf16"), std::string::npos) << f32.kernels;
  ASSERT_EQ(stored.y1.size(), f32.y1.size());
  size_t rounded_differs = 0;
  for (size_t i = 0; i < f32.y1.size(); ++i) {
    // The convolution read the same bf16 operand: the same bits.
    ASSERT_EQ(stored.y1[i], f32.y1[i]) << "y1 element " << i;
    // The chain read v rounded to bf16 (and the product is exact to compute in float).
    ASSERT_EQ(stored.y2[i], round_bf16(f32.v[i]) * f32.y1[i]) << "y2 element " << i;
    rounded_differs += round_bf16(f32.v[i]) != f32.v[i];
  }
  EXPECT_GT(rounded_differs, stored.y1.size() / 2);  // the rounding was real
}

// Batch norm reads and writes its data in one type, and here its output is a
// graph output (f32, what the host reads): so its input stays f32 too.
TEST(OneDnnBf16Storage, BatchNormTiesItsInputToAnF32GraphOutput) {
  if (!has_avx512())
    GTEST_SKIP() << "no AVX-512 (oneDNN has no bf16 convolutions below it): " << onednn_cpu_isa();
  const Result stored = run(build(false, true), true);
  EXPECT_EQ(stored.kernels.find("stored bf16"), std::string::npos) << stored.kernels;
  EXPECT_EQ(stored.kernels.find("widens bf16"), std::string::npos) << stored.kernels;
}

// The same through our Winograd kernels (4x4 stride-2 layers wide enough to
// run on them in bf16): v = conv2d(x, w1) written as bf16 by the kernel, read by a second Winograd
// convolution y1 = conv2d(v, w2) and by the chain v * t, t = conv_transpose2d(y1, w3) (a chain the
// transposed layer's group runs, so not fused into v's). Expected values come from the f32 plan: v
// rounded to bf16, and the second convolution (and a weight gradient reading v) run on that rounded
// v given as an input (its f32 transform of bf16-representable values is what the stored plan's
// widened loads give).
TEST(OneDnnBf16Storage, WinogradKernelsWriteAndReadBf16Activations) {
  if (!has_avx512())
    GTEST_SKIP() << "no AVX-512 (no bf16 Winograd kernel below it): " << onednn_cpu_isa();
  if (dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_amx)
    GTEST_SKIP() << "AMX: oneDNN's AMX kernels run every bf16 convolution, no Winograd";
  struct WNet {
    std::shared_ptr<Graph> g;
    ValueId v, y1, t, y2, dw;
  };
  auto build_net = [](bool v_is_output) {
    WNet n{std::make_shared<Graph>(DType::f32), kNoValue, kNoValue, kNoValue, kNoValue, kNoValue};
    Graph& g = *n.g;
    const ValueId x = g.input("x", {2, 128, 32, 32});
    const ValueId w1 = g.variable("w1", {128, 128, 4, 4}), w2 = g.variable("w2", {128, 128, 4, 4}),
                  w3 = g.variable("w3", {128, 128, 4, 4});
    n.v = g.conv2d(x, w1, 2, 1);
    n.y1 = g.conv2d(n.v, w2, 2, 1);
    n.t = g.conv_transpose2d(n.y1, w3, 2, 1);
    n.y2 = g.mul(n.v, n.t);
    n.dw = g.conv2d_backward_weight(n.v, g.input("dy", {2, 128, 8, 8}), {128, 128, 4, 4}, {2, 2},
                                    {1, 1});
    g.mark_output(n.dw, "dw");
    g.mark_output(n.y1, "y1");
    g.mark_output(n.t, "t");
    g.mark_output(n.y2, "y2");
    if (v_is_output) g.mark_output(n.v, "v");
    return n;
  };
  std::mt19937 rng(9);
  const std::vector<float> x = normal(2 * 128 * 32 * 32, 1.f, rng);
  const std::vector<float> dy = normal(2 * 128 * 8 * 8, 1.f, rng);
  std::vector<std::vector<float>> w;
  for (int i = 0; i < 3; ++i) w.push_back(normal(128 * 128 * 16, 0.05f, rng));
  struct Out {
    std::vector<float> v, y1, t, y2, dw;
    std::string kernels;
  };
  auto run_net = [&](const WNet& n, bool stored) {
    auto dnn = make_onednn_backend(
        {.threads = 2, .bf16 = true, .bf16_activations = stored, .allow_emulated_bf16 = true});
    auto plan = compile(n.g, *dnn);
    Out o;
    for (const auto& k : plan->kernels) o.kernels += k->describe() + "\n";
    Session s(*plan);
    s.set_input("x", std::span<const float>(x));
    s.set_input("dy", std::span<const float>(dy));
    for (int i = 0; i < 3; ++i)
      s.set_variable("w" + std::to_string(i + 1), std::span<const float>(w[size_t(i)]));
    s.run();
    auto get = [&](ValueId id) {
      const std::vector<double> d = s.value(id);
      return std::vector<float>(d.begin(), d.end());
    };
    o.y1 = get(n.y1), o.t = get(n.t), o.y2 = get(n.y2), o.dw = get(n.dw);
    if (stored == false) o.v = get(n.v);
    return o;
  };
  const Out a = run_net(build_net(false), true), b = run_net(build_net(true), false);
  EXPECT_NE(a.kernels.find("dst stored bf16](avx512_bf16"), std::string::npos) << a.kernels;
  EXPECT_NE(a.kernels.find("src stored bf16](avx512_bf16"), std::string::npos) << a.kernels;
  EXPECT_NE(a.kernels.find("(widens bf16)"), std::string::npos) << a.kernels;
  // The second convolution alone, on v rounded to bf16.
  std::vector<float> rounded(b.v.size());
  for (size_t i = 0; i < b.v.size(); ++i) rounded[i] = round_bf16(b.v[i]);
  auto g = std::make_shared<Graph>(DType::f32);
  const ValueId vin = g->input("v", {2, 128, 16, 16});
  const ValueId y = g->conv2d(vin, g->variable("w2", {128, 128, 4, 4}), 2, 1);
  const ValueId dw = g->conv2d_backward_weight(vin, g->input("dy", {2, 128, 8, 8}),
                                               {128, 128, 4, 4}, {2, 2}, {1, 1});
  g->mark_output(y, "y");
  g->mark_output(dw, "dw");
  auto dnn = make_onednn_backend({.threads = 2, .bf16 = true, .allow_emulated_bf16 = true});
  auto plan = compile(g, *dnn);
  std::string kernels;
  for (const auto& k : plan->kernels) kernels += k->describe() + "\n";
  ASSERT_NE(kernels.find("winograd_conv"), std::string::npos) << kernels;
  ASSERT_NE(kernels.find("winograd_bwd_w"), std::string::npos) << kernels;
  EXPECT_NE(a.kernels.find("winograd_bwd_w[nChw16c,nChw16c,src stored bf16]"), std::string::npos)
      << a.kernels;
  Session s(*plan);
  s.set_input("v", std::span<const float>(rounded));
  s.set_input("dy", std::span<const float>(dy));
  s.set_variable("w2", std::span<const float>(w[1]));
  s.run();
  const std::vector<double> want = s.value(y), want_dw = s.value(dw);
  for (size_t i = 0; i < a.dw.size(); ++i)
    ASSERT_EQ(double(a.dw[i]), want_dw[i]) << "dw element " << i;
  ASSERT_EQ(want.size(), a.y1.size());
  for (size_t i = 0; i < a.y2.size(); ++i)
    ASSERT_EQ(a.y2[i], rounded[i] * a.t[i]) << "y2 element " << i;
  for (size_t i = 0; i < a.y1.size(); ++i)
    ASSERT_EQ(double(a.y1[i]), want[i]) << "y1 element " << i;
  // Rounding v first moved the result (the kernels did run on different operands).
  EXPECT_NE(a.y1, b.y1);
}

// Batch norm reads and writes its data in one type: c = conv2d(x, w1),
// h = relu(batch_norm_train(c)), y = conv2d(h, w2) store c and h as bf16 (the
// primitive's statistics stay f32: the batch mean is the f32 mean of c rounded
// to bf16), and y stays within bf16 rounding of the all-f32 plan.
TEST(OneDnnBf16Storage, BatchNormReadsAndWritesBf16WithF32Statistics) {
  if (!has_avx512())
    GTEST_SKIP() << "no AVX-512 (oneDNN has no bf16 convolutions below it): " << onednn_cpu_isa();
  auto build_net = [](bool c_is_output) {
    auto g = std::make_shared<Graph>(DType::f32);
    const ValueId x = g->input("x", {4, 16, 16, 16});
    const ValueId c = g->conv2d(x, g->variable("w1", {32, 16, 3, 3}), 1, 1);
    const Graph::BatchNormOutputs bn =
        g->batch_norm_train(c, g->variable("gamma", {32}), g->variable("beta", {32}));
    const ValueId y = g->conv2d(g->relu(bn.y), g->variable("w2", {32, 32, 3, 3}), 1, 1);
    g->mark_output(y, "y");
    g->mark_output(bn.mean, "mean");
    if (c_is_output) g->mark_output(c, "c");
    return g;
  };
  std::mt19937 rng(13);
  const std::vector<float> x = normal(4 * 16 * 16 * 16, 1.f, rng);
  const std::vector<float> w1 = normal(32 * 16 * 9, 0.1f, rng), w2 = normal(32 * 32 * 9, 0.1f, rng);
  const std::vector<float> gamma = normal(32, 0.2f, rng), beta = normal(32, 0.2f, rng);
  struct Out {
    std::vector<double> y, mean, c;
    std::string kernels;
  };
  auto run_net = [&](const std::shared_ptr<Graph>& g, bool stored) {
    auto dnn = make_onednn_backend(
        {.threads = 2, .bf16 = true, .bf16_activations = stored, .allow_emulated_bf16 = true});
    auto plan = compile(g, *dnn);
    Out o;
    for (const auto& k : plan->kernels) o.kernels += k->describe() + "\n";
    Session s(*plan);
    s.set_input("x", std::span<const float>(x));
    s.set_variable("w1", std::span<const float>(w1));
    s.set_variable("w2", std::span<const float>(w2));
    std::vector<float> gm = gamma, bt = beta;
    for (float& e : gm) e += 1.f;
    s.set_variable("gamma", std::span<const float>(gm));
    s.set_variable("beta", std::span<const float>(bt));
    s.run();
    o.y = s.value(g->output("y"));
    o.mean = s.value(g->output("mean"));
    if (stored == false) o.c = s.value(g->output("c"));
    return o;
  };
  const Out a = run_net(build_net(false), true), b = run_net(build_net(true), false);
  EXPECT_NE(a.kernels.find("dst stored bf16"), std::string::npos) << a.kernels;
  EXPECT_NE(a.kernels.find("src stored bf16"), std::string::npos) << a.kernels;
  EXPECT_NE(a.kernels.find("bnorm_fwd_train+relu"), std::string::npos) << a.kernels;
  // The statistics: the mean of c rounded to bf16, per channel (NCHW), summed in f32.
  const size_t hw = 16 * 16;
  for (size_t ch = 0; ch < 32; ++ch) {
    double sum = 0;
    for (size_t n = 0; n < 4; ++n)
      for (size_t i = 0; i < hw; ++i) sum += round_bf16(float(b.c[(n * 32 + ch) * hw + i]));
    EXPECT_NEAR(a.mean[ch], sum / double(4 * hw), 1e-5) << "channel " << ch;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < a.y.size(); ++i)
    num += (a.y[i] - b.y[i]) * (a.y[i] - b.y[i]), den += b.y[i] * b.y[i];
  EXPECT_LT(std::sqrt(num / den), 1e-2);  // bf16 rounding of c and h (measured 2e-3)
  EXPECT_GT(std::sqrt(num / den), 1e-5);  // and it did round
}

}  // namespace
}  // namespace rg
