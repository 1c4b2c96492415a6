// SPDX-License-Identifier: Apache-2.0
// The whole RaLSGAN training step (docs/contracts.md §3) on the reference backend against
// PyTorch 1.13's own step (tools/golden/make_step_golden.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "tests/common/golden_step.h"

namespace rg {
namespace {

using testing_golden::golden_path;
using testing_golden::rel_distance;

TEST(GoldenStep, F64MatchesPyTorchF64Within1e9) {
  const io::SafetensorsContents f = io::read_safetensors(golden_path("step_f64.safetensors"));
  const model::StepConfig cfg = testing_golden::golden_config(f);
  const model::StepGraph s = model::build_train_step(cfg, DType::f64);
  auto be = make_ref_backend();
  auto plan = compile(s.graph, *be);
  const auto ours = testing_golden::run_golden_step(*plan, s, f);
  int compared = 0;
  double worst = 0;
  for (const auto& [name, v] : ours) {
    ASSERT_TRUE(f.tensors.count(name)) << "golden file lacks " << name;
    const double d = rel_distance(v, io::to_f64(f.tensors.at(name)));
    EXPECT_LT(d, 1e-9) << name;
    worst = std::max(worst, d);
    ++compared;
  }
  // Every gradient, every updated weight, BN statistic, counter and Adam moment.
  size_t expected = 5;
  for (const auto& [name, t] : f.tensors)
    expected += name.rfind("grad.", 0) == 0 || name.rfind("new.", 0) == 0 || name.rfind("adam.", 0) == 0;
  EXPECT_EQ(size_t(compared), expected);
  std::cout << "f64: " << compared << " tensors, worst relative distance " << worst << "\n";
}

TEST(GoldenStep, F32IsAsCloseToPyTorchF64AsPyTorchF32Is) {
  const io::SafetensorsContents f64 = io::read_safetensors(golden_path("step_f64.safetensors"));
  const io::SafetensorsContents f32 = io::read_safetensors(golden_path("step_f32.safetensors"));
  const model::StepConfig cfg = testing_golden::golden_config(f32);
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(s.graph, *be);
  const auto ours = testing_golden::run_golden_step(*plan, s, f32);
  for (const char* loss : {"loss_d", "loss_g"})
    EXPECT_LT(rel_distance(ours.at(loss), io::to_f64(f32.tensors.at(loss))), 1e-4) << loss;
  // Gradients and scores: our f32 distance to PyTorch's f64 against PyTorch's
  // own f32 distance to it. Both are rounding noise of the same order, so the
  // bound is that noise with a factor of 4 (and a floor of 1e-6 for tensors
  // where PyTorch's f32 happens to land unusually close).
  double worst_ratio = 0;
  std::string worst_name;
  for (const auto& [name, v] : ours) {
    if (name.rfind("grad.", 0) != 0 && name.rfind("C_", 0) != 0) continue;
    const std::vector<double> ref = io::to_f64(f64.tensors.at(name));
    const double mine = rel_distance(v, ref);
    const double theirs = rel_distance(io::to_f64(f32.tensors.at(name)), ref);
    EXPECT_LE(mine, std::max(4 * theirs, 1e-6)) << name << ": ours " << mine << ", PyTorch f32 " << theirs;
    if (mine / theirs > worst_ratio) worst_ratio = mine / theirs, worst_name = name;
  }
  // Updated weights: Adam's first step is about lr * sign(grad), so compare
  // the update (new - init) the same way.
  for (const auto& [name, v] : ours) {
    if (name.rfind("new.", 0) != 0 || name.find("num_batches") != std::string::npos) continue;
    const std::vector<double> init = io::to_f64(f64.tensors.at("init." + name.substr(4)));
    const std::vector<double> ref = io::to_f64(f64.tensors.at(name));
    const std::vector<double> theirs32 = io::to_f64(f32.tensors.at(name));
    std::vector<double> du(v.size()), dr(v.size()), dt(v.size());
    for (size_t i = 0; i < v.size(); ++i) du[i] = v[i] - init[i], dr[i] = ref[i] - init[i], dt[i] = theirs32[i] - init[i];
    const double mine = rel_distance(du, dr), theirs = rel_distance(dt, dr);
    EXPECT_LE(mine, std::max(4 * theirs, 1e-5)) << name << ": ours " << mine << ", PyTorch f32 " << theirs;
  }
  std::cout << "f32: worst ratio to PyTorch's own f32 spread " << worst_ratio << " (" << worst_name << ")\n";
}

}  // namespace
}  // namespace rg

namespace rg {
namespace {

// Three steps from one state, one Session (Adam past its first step, running
// statistics and counters carrying over): in f64 every tensor within 1e-9 of
// PyTorch's f64 run.
// The three golden steps on the reference backend in `dt`, compared tensor by tensor.
std::vector<testing_golden::Compared> ref_golden_steps(DType dt) {
  const io::SafetensorsContents f = io::read_safetensors(golden_path("steps3_f64.safetensors"));
  const model::StepGraph s = model::build_train_step(testing_golden::golden_config(f), dt);
  auto be = make_ref_backend();
  auto plan = compile(s.graph, *be);
  return testing_golden::compare_golden_steps(testing_golden::run_golden_steps(*plan, s, f), f);
}

TEST(GoldenSteps, ThreeStepsInF64MatchPyTorchF64Within1e9) {
  const auto cmp = ref_golden_steps(DType::f64);
  double worst = 0;
  for (const auto& c : cmp) {
    const double d = rel_distance(c.ours, c.golden);
    EXPECT_LT(d, 1e-9) << c.name;
    worst = std::max(worst, d);
  }
  EXPECT_GT(cmp.size(), size_t(100));
  std::cout << "f64, 3 steps: " << cmp.size() << " tensors, worst relative distance " << worst << "\n";
}

}  // namespace
}  // namespace rg

namespace rg {
namespace {
TEST(GoldenSteps, ThreeStepsInF32StayWithinPyTorchsOwnF32Spread) {
  const auto cmp = ref_golden_steps(DType::f32);
  std::string worst;
  const double ratio = testing_golden::expect_f32_steps_close(cmp, &worst);
  std::cout << "ref f32, 3 steps: worst ratio to PyTorch's own f32 distance " << ratio << " (" << worst << ")\n";
}
}  // namespace
}  // namespace rg
