// SPDX-License-Identifier: Apache-2.0
// ONNX export: a forward graph written by export_file, read back by the
// importer, computes what the graph computes (on the reference backend, in
// f32), for the conv-net op set and the Fashion-MNIST classifier; the batch
// axis is written symbolic. tools/onnx_models_check.py runs the exported
// DCGAN generator in onnxruntime against `ralsgan generate`'s PNGs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/io/npy.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "examples/fashion_mnist/classifier_model.h"
#include "rg/backend_ref.h"
#include "rg/onnx.h"

namespace rg {
namespace {

namespace fs = std::filesystem;

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Runs `g` (weights `w`, input "x" = `x`) on ref; the output "y".
std::vector<double> run(const std::shared_ptr<Graph>& g, const std::vector<onnx::Weight>& w,
                        const std::string& input, const std::vector<float>& x,
                        const std::string& output) {
  auto ref = make_ref_backend();
  auto plan = compile(g, *ref);
  Session s(*plan);
  for (const onnx::Weight& v : w) s.set_variable(v.name, std::span<const float>(v.data));
  s.set_input(input, std::span<const float>(x));
  s.run();
  return s.output(output);
}

void expect_roundtrip(const std::shared_ptr<Graph>& g, const std::vector<onnx::Weight>& w,
                      const std::string& input, const std::string& output, int64_t other_batch) {
  const fs::path file =
      fs::temp_directory_path() / ("rg_export_" + std::to_string(::getpid()) + ".onnx");
  onnx::export_file(*g, w, file.string());
  const Shape xs = g->shape(g->inputs()[0].value);
  const std::vector<float> x = random_floats(size_t(numel(xs)), 3);
  const std::vector<double> want = run(g, w, input, x, output);
  // RG_KEEP_EXPORTS=DIR keeps the model, its input and the engine's output
  // (tools/onnx_models_check.py --engine-exports runs them in onnxruntime).
  if (const char* keep = std::getenv("RG_KEEP_EXPORTS")) {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const fs::path dir(keep);
    fs::create_directories(dir);
    fs::copy_file(file, dir / (name + ".onnx"), fs::copy_options::overwrite_existing);
    std::ofstream(dir / (name + ".x.npy"), std::ios::binary) << io::npy_bytes(xs, x);
    const std::vector<float> wf(want.begin(), want.end());
    std::ofstream(dir / (name + ".y.npy"), std::ios::binary)
        << io::npy_bytes(g->shape(g->output(output)), wf);
  }
  onnx::ImportOptions opt;
  opt.batch = xs[0];
  const onnx::Model m = onnx::import_file(file.string(), opt);
  EXPECT_EQ(m.inputs, std::vector<std::string>{input});
  EXPECT_EQ(m.outputs, std::vector<std::string>{output});
  auto ref = make_ref_backend();
  auto plan = compile(m.graph, *ref);
  Session s(*plan);
  m.load_weights(s);
  s.set_input(input, std::span<const float>(x));
  s.run();
  const std::vector<double> got = s.output(output);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - want[i])), scale = std::max(scale, std::abs(want[i]));
  EXPECT_LE(worst, 1e-6 * std::max(scale, 1.0));
  EXPECT_GT(scale, 0);
  // The batch axis is free: another batch imports and runs.
  opt.batch = other_batch;
  const onnx::Model m2 = onnx::import_file(file.string(), opt);
  EXPECT_EQ(m2.graph->shape(m2.graph->output(output))[0], other_batch);
  fs::remove(file);
}

// The conv-net op set's forward ops in one graph.
TEST(OnnxExport, ConvNetOpsRoundTrip) {
  auto g = std::make_shared<Graph>(DType::f32);
  std::vector<onnx::Weight> w;
  auto var = [&](const std::string& name, Shape s, float lo = -0.5f, float hi = 0.5f) {
    w.push_back({name, s, random_floats(size_t(numel(s)), uint32_t(w.size() + 10), lo, hi)});
    return g->variable(name, s);
  };
  const ValueId x = g->input("x", {2, 3, 12, 12});
  Graph::ConvOptions co;
  co.stride = {2, 2}, co.padding = {1, 0}, co.padding_end = {2, 1};
  ValueId h = g->conv2d(x, var("conv.w", {8, 3, 3, 3}), co);
  h = g->add(h, g->reshape(var("conv.b", {8}), {1, 8, 1, 1}));
  h = g->batch_norm_inference(h, var("bn.g", {8}, 0.5f, 1.5f), var("bn.b", {8}), var("bn.m", {8}),
                              var("bn.v", {8}, 0.5f, 1.5f));
  h = g->leaky_relu(h, 0.1);
  Graph::ConvOptions dw;
  dw.padding = {1, 1}, dw.groups = 8;
  h = g->elu(g->conv2d(h, var("dw.w", {8, 1, 3, 3}), dw), 0.5);
  Graph::PoolOptions po;
  po.kernel = {3, 3}, po.stride = {2, 2}, po.padding = {1, 1}, po.ceil_mode = true;
  const ValueId p1 = g->max_pool2d(h, po);
  po.count_include_pad = false;
  const ValueId p2 = g->avg_pool2d(h, po);
  h = g->concat({p1, g->hard_sigmoid(p2, 0.2, 0.5)}, 1);
  h = g->resize_nearest(h, 8, 8);
  Graph::ConvOptions up;
  up.stride = {2, 2}, up.padding = {1, 1}, up.output_padding = {1, 1};
  h = g->relu(g->conv_transpose2d(h, var("up.w", {16, 4, 3, 3}), up));
  h = g->lrn(g->clip(h, -1.0, 2.0), 3, 1e-3, 0.75, 1.0);
  h = g->mean(h, {2, 3}, true);
  h = g->reshape(h, {2, 4});
  h = g->matmul(h, var("fc.w", {5, 4}), false, true);
  g->mark_output(g->softmax(g->tanh(h)), "y");
  expect_roundtrip(g, w, "x", "y", 5);
}

TEST(OnnxExport, ClassifierRoundTrips) {
  classifier::ClassifierConfig cfg;
  const classifier::ClassifierGraph cg = classifier::build_classifier_eval(cfg, 4, DType::f32);
  std::vector<onnx::Weight> w;
  uint32_t seed = 20;
  for (const classifier::ParamSpec& p : classifier::classifier_parameters(cfg))
    w.push_back({p.name, p.shape, random_floats(size_t(numel(p.shape)), seed++, -0.3f, 0.3f)});
  expect_roundtrip(cg.graph, w, "images", "log_probs", 3);
}

TEST(OnnxExport, TrainingOpsAreRefusedNamingTheNode) {
  auto g = std::make_shared<Graph>(DType::f32);
  const ValueId x = g->input("x", {2, 3});
  g->mark_output(g->add_node(OpKind::kReluBackward, {x, x})[0], "y");
  try {
    onnx::export_file(*g, {}, (fs::temp_directory_path() / "rg_never_written.onnx").string());
    ADD_FAILURE() << "exported";
  } catch (const onnx::UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("relu_backward"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "rg_never_written.onnx"));
}

}  // namespace
}  // namespace rg
