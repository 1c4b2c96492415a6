// SPDX-License-Identifier: Apache-2.0
// The reference backend's training step and generation at the seed's model,
// with the plan's memory figures as counters. The reference backend is the
// correctness oracle (single-threaded, plain loops); these numbers say what
// it costs, not how fast the product is (see bench/onednn, bench/cuda).
//   build/release/bench/ref/bench_ref --benchmark_out=ref.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <random>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void set_random_parameters(Session& s, const std::vector<model::ParamSpec>& specs, const std::string& prefix) {
  uint32_t seed = 1;
  for (const auto& p : specs) {
    if (p.dtype == DType::i64) continue;
    const bool bn_scale = p.key.find("running_var") != std::string::npos ||
                          (p.shape.size() == 1 && p.key.find("weight") != std::string::npos);
    std::vector<float> v = random_vector(size_t(numel(p.shape)), seed++, bn_scale ? 0.f : 0.02f);
    if (bn_scale)
      for (float& x : v) x = 1.f;
    s.set_variable(prefix + p.key, std::span<const float>(v));
  }
}

void BM_RefTrainStep(benchmark::State& state) {
  model::StepConfig cfg;  // seed model at 128
  cfg.batch = int(state.range(0));
  const model::StepGraph sg = model::build_train_step(cfg, DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(sg.graph, *be);
  Session s(*plan);
  set_random_parameters(s, sg.g_params, "G.");
  set_random_parameters(s, sg.d_params, "D.");
  const auto x = random_vector(size_t(cfg.batch) * 3 * 128 * 128, 7, 0.5f);
  const auto z = random_vector(size_t(cfg.batch) * 128, 8, 1.f);
  s.set_input("x_real", std::span<const float>(x));
  s.set_input("z", std::span<const float>(z));
  for (auto _ : state) s.run();
  state.counters["arena_MiB"] = double(plan->arena_bytes) / (1 << 20);
  state.counters["sum_of_buffers_MiB"] = double(plan->sum_bytes) / (1 << 20);
  state.counters["kernels"] = double(plan->groups.size());
  // 424 GFLOP per step at batch 64 (LEARN-FROM), linear in the batch.
  state.counters["GFLOPps"] = benchmark::Counter(424e9 / 64 * cfg.batch, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RefTrainStep)->Arg(8)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();

}  // namespace
}  // namespace rg

BENCHMARK_MAIN();
