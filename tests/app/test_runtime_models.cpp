// SPDX-License-Identifier: Apache-2.0
// Models other than the generator through the embedded runtime (plan format
// version 2, docs/embedded.md): the Fashion-MNIST classifier and a graph
// that uses every kernel of the runtime's op set, with random weights,
// exported by the plan encoder and run (1) in this process on x86 and (2) by
// runtime/example/rg_run_file built for AArch64 under qemu-aarch64. Every
// output must be bit-identical to the reference backend's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

#include "apps/ralsgan/plan_encoder.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "examples/fashion_mnist/classifier_model.h"
#include "runtime/rg_runtime.h"

namespace rg {
namespace {

namespace fs = std::filesystem;

// A scratch folder of this test's own, removed afterwards.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("rg-runtime-models-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path), fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Model {
  std::shared_ptr<Graph> graph;
  std::vector<app::PlanIo> io;
};

// Uniform in [-b, b) with b = 1 / sqrt(fan in) (PyTorch's default), or in
// [0.5, 1.5) for a variance.
void randomize(Session& s, const Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  for (const VariableInfo& v : g.variables()) {
    const Shape& shape = v.desc.shape;
    const double fan_in = shape.size() > 1 ? double(numel(shape) / shape[0]) : 1.0;
    const bool var = v.name.find("var") != std::string::npos;
    std::uniform_real_distribution<float> u(var ? 0.5f : float(-1 / std::sqrt(fan_in)),
                                            var ? 1.5f : float(1 / std::sqrt(fan_in)));
    std::vector<float> x(size_t(numel(shape)));
    for (float& e : x) e = u(rng);
    s.set_variable(v.name, std::span<const float>(x));
  }
}

// Every kernel kind: conv2d (groups, dilation, asymmetric padding, depthwise),
// the transposed convolution, batch norm, max and average pooling (with and
// without padding in the divisor), concat, transpose, mean, matmul, softmax,
// log_softmax, LRN, fill, pad, nearest and bilinear resize, and chains with
// broadcasting (bias, PReLU), clip, sigmoid, tanh, ELU, hard sigmoid.
Model op_zoo() {
  auto g = std::make_shared<Graph>(DType::f32);
  const ValueId x = g->input("x", {2, 4, 12, 12});
  Graph::ConvOptions c1;
  c1.padding = {1, 1};
  ValueId a = g->conv2d(x, g->variable("c1.w", {8, 4, 3, 3}), c1);
  a = g->add(a, g->variable("c1.b", {1, 8, 1, 1}));
  a = g->batch_norm_inference(a, g->variable("bn.g", {8}), g->variable("bn.b", {8}), g->variable("bn.mean", {8}),
                              g->variable("bn.var", {8}), 1e-5);
  a = g->clip(a, 0.0, 6.0);
  Graph::ConvOptions dw;
  dw.padding = {1, 1}, dw.groups = 8, dw.stride = {2, 2};
  ValueId b = g->conv2d(a, g->variable("dw.w", {8, 1, 3, 3}), dw);  // depthwise, 6x6
  b = g->prelu(b, g->variable("prelu", {1, 8, 1, 1}));
  Graph::ConvOptions dil;
  dil.padding = {2, 1}, dil.padding_end = {2, 2}, dil.dilation = {2, 2}, dil.groups = 2;
  ValueId c = g->conv2d(b, g->variable("dil.w", {6, 4, 3, 3}), dil);
  c = g->elu(c, 0.7);
  Graph::PoolOptions mp;
  mp.kernel = {3, 3}, mp.stride = {2, 2}, mp.padding = {1, 1};
  ValueId d = g->max_pool2d(a, mp);  // 6x6
  Graph::PoolOptions ap;
  ap.kernel = {3, 3}, ap.stride = {1, 1}, ap.padding = {1, 1}, ap.count_include_pad = false;
  d = g->avg_pool2d(d, ap);
  d = g->lrn(d, 3, 1e-3, 0.75, 1.0);
  const Shape cs = g->shape(c);
  ValueId cat = g->concat({g->hard_sigmoid(g->avg_pool2d(b, {1, 1}, {1, 1}, {0, 0})), d,
                           g->tanh(g->conv2d(d, g->variable("c3.w", {cs[1], 8, 1, 1}), 1, 0))},
                          1);
  Graph::ConvOptions up;
  up.stride = {2, 2}, up.padding = {1, 1}, up.output_padding = {1, 1};
  ValueId e = g->conv_transpose2d(cat, g->variable("up.w", {g->shape(cat)[1], 5, 3, 3}), up);
  e = g->add_node(OpKind::kSigmoid, {e})[0];
  // Pad (reflect), nearest and bilinear resize: gathers and taps from tables.
  e = g->resize_bilinear(g->resize_nearest(g->pad(e, {0, 0, 1, 2, 0, 0, 1, 0}, OpAttrs::PadMode::kReflect), 9, 7), 12, 12);
  const ValueId pooled = g->mean(e, {2, 3}, false);                 // [2, 5]
  ValueId f = g->matmul(pooled, g->variable("fc.w", {3, 5}), false, true);
  f = g->add(f, g->variable("fc.b", {3}));
  const ValueId t = g->transpose(g->reshape(e, {2, 5, 12 * 12}), {0, 2, 1});
  const ValueId sm = g->softmax(g->add(t, g->fill({1, 1, 5}, 0.25)));
  g->mark_output(g->log_softmax(f), "logp");
  g->mark_output(sm, "soft");
  g->mark_output(c, "dilated");
  return {g, {{"x", x, true}, {"logp", g->output("logp"), false}, {"soft", sm, false}, {"dilated", c, false}}};
}

Model classifier() {
  classifier::ClassifierConfig cfg;
  const classifier::ClassifierGraph cg = classifier::build_classifier_eval(cfg, 3, DType::f32);
  return {cg.graph, {{"images", cg.images, true}, {"log_probs", cg.log_probs, false}}};
}

struct Exported {
  std::vector<uint8_t> file;
  std::vector<std::vector<float>> inputs, ref;  // per input / output of io
};

Exported export_and_run_ref(const Model& m, uint32_t seed) {
  auto be = make_ref_backend();
  auto plan = compile(m.graph, *be);
  Session s(*plan);
  randomize(s, *m.graph, seed);
  Exported r;
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const app::PlanIo& e : m.io) {
    if (!e.input) continue;
    std::vector<float> x(size_t(m.graph->desc(e.value).numel()));
    for (float& v : x) v = u(rng);
    s.set_input(e.name, std::span<const float>(x));
    r.inputs.push_back(x);
  }
  s.run();
  for (const app::PlanIo& e : m.io)
    if (!e.input) r.ref.push_back(s.value_f32(e.value));
  r.file = app::encode_plan(*plan, s, m.io);
  // RG_KEEP_PLANS=DIR keeps the plans (fuzz/corpus/plan's seeds come from here).
  if (const char* keep = std::getenv("RG_KEEP_PLANS"))
    io::write_file_atomic(fs::path(keep) / ("model-" + std::to_string(seed) + ".rgplan"), std::span<const uint8_t>(r.file));
  return r;
}

size_t differing(const std::vector<float>& a, const float* b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], 4) != 0;
  return n;
}

void check_x86(const Model& m, const Exported& ex) {
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(ex.file.data(), ex.file.size(), &p), RG_OK);
  std::vector<double> arena(p.header.arena_bytes / 8 + 1);
  size_t in = 0, out = 0;
  for (uint32_t i = 0; i < m.io.size(); ++i)
    if (m.io[i].input) std::memcpy(rg_io_data(&p, arena.data(), i), ex.inputs[in].data(), ex.inputs[in].size() * 4), ++in;
  ASSERT_EQ(rg_run(&p, rg_plan_weights(&p), arena.data()), RG_OK);
  for (uint32_t i = 0; i < m.io.size(); ++i)
    if (!m.io[i].input) {
      EXPECT_EQ(differing(ex.ref[out], rg_io_data(&p, arena.data(), i)), 0u) << m.io[i].name;
      ++out;
    }
}

void check_aarch64(const Model& m, const Exported& ex) {
  const fs::path program = RG_AARCH64_RUN_FILE;
  if (std::string(RG_QEMU_AARCH64).empty() || !fs::exists(program))
    GTEST_SKIP() << "no AArch64 build of the runtime or no qemu-aarch64 (install gcc-aarch64-linux-gnu, qemu-user)";
  TempDir t;
  io::write_file_atomic(t.path / "model.rgplan", std::span<const uint8_t>(ex.file));
  std::string cmd = std::string(RG_QEMU_AARCH64) + " -L /usr/aarch64-linux-gnu " + program.string() + " " +
                    (t.path / "model.rgplan").string() + " --out " + (t.path / "out").string();
  size_t in = 0;
  for (const app::PlanIo& e : m.io)
    if (e.input) {
      const fs::path f = t.path / (e.name + ".npy");
      io::write_file_atomic(f, io::npy_bytes(m.graph->shape(e.value), ex.inputs[in++]));
      cmd += " --input " + e.name + "=" + f.string();
    }
  cmd += " > " + (t.path / "stdout.txt").string() + " 2> " + (t.path / "stderr.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_text(t.path / "stderr.txt");
  size_t out = 0;
  for (const app::PlanIo& e : m.io)
    if (!e.input) {
      const io::NpyArray a = io::read_npy(t.path / "out" / (e.name + ".npy"));
      EXPECT_EQ(a.dtype, "<f4");
      EXPECT_EQ(a.shape, m.graph->shape(e.value));
      std::vector<float> got(a.data.begin(), a.data.end());
      EXPECT_EQ(differing(ex.ref[out++], got.data()), 0u) << e.name;
    }
}

TEST(RuntimeModels, ClassifierIsBitIdenticalOnX86) {
  const Model m = classifier();
  check_x86(m, export_and_run_ref(m, 7));
}

TEST(RuntimeModels, EveryKernelKindIsBitIdenticalOnX86) {
  const Model m = op_zoo();
  const Exported ex = export_and_run_ref(m, 11);
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(ex.file.data(), ex.file.size(), &p), RG_OK);
  std::set<uint32_t> ops;
  for (uint32_t k = 0; k < p.header.kernel_count; ++k) {
    rg_kernel_record r;
    std::memcpy(&r, ex.file.data() + sizeof(rg_plan_header) + p.header.io_count * sizeof(rg_io_record) + k * sizeof r,
                sizeof r);
    ops.insert(r.op);
  }
  EXPECT_EQ(ops.size(), size_t(RG_OP_RESIZE_BILINEAR)) << "a kernel kind is missing from the zoo";
  check_x86(m, ex);
}

TEST(RuntimeModels, ClassifierIsBitIdenticalOnAarch64) {
  const Model m = classifier();
  check_aarch64(m, export_and_run_ref(m, 7));
}

TEST(RuntimeModels, EveryKernelKindIsBitIdenticalOnAarch64) {
  const Model m = op_zoo();
  check_aarch64(m, export_and_run_ref(m, 11));
}

}  // namespace
}  // namespace rg
