// SPDX-License-Identifier: Apache-2.0
// The embedded runtime (runtime/, docs/embedded.md) against the reference
// backend whose arithmetic it reproduces bit for bit: one batch of the
// generator, one thread each, same freshly initialised weights (seed 1).
// Arguments: image size, width x 100, batch. PyTorch eager with one thread on
// the same shapes: bench/pytorch/bench_generator_eager.py.
//   build/release/bench/runtime/bench_runtime --benchmark_out=rt.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/export_plan.h"
#include "apps/ralsgan/init.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "runtime/rg_generate.h"
#include "runtime/rg_runtime.h"

namespace rg {
namespace {

// A 64-byte aligned buffer.
struct Aligned {
  explicit Aligned(size_t n) : p(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64 + 64))) {}
  Aligned& operator=(Aligned&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~Aligned() { std::free(p); }
  uint8_t* p;
};

struct Fixture {
  explicit Fixture(const benchmark::State& state)
      : cfg{int(state.range(0)), double(state.range(1)) / 100.0, 128},
        gg(model::build_generate_graph(cfg, int(state.range(2)), DType::f32)),
        backend(make_ref_backend()),
        plan(compile(gg.graph, *backend)),
        session(*plan),
        latents(size_t(state.range(2)) * 128) {
    app::initialize_network(session, gg.g_params, "G.", 1, 0);
    for (size_t j = 0; j < latents.size() / 128; ++j)
      rg_latent_vector(1, RG_STREAM_GENERATION, j, &latents[j * 128], 128);
    session.set_input("z", std::span<const float>(latents));
  }
  model::ModelConfig cfg;
  model::GenerateGraph gg;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Plan> plan;
  Session session;
  std::vector<float> latents;
};

void BM_RefGenerate(benchmark::State& state) {
  Fixture f(state);
  for (auto _ : state) f.session.run();
  state.counters["img/s"] =
      benchmark::Counter(double(state.range(2)), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_RuntimeGenerate(benchmark::State& state) {
  Fixture f(state);
  const std::vector<uint8_t> bytes =
      app::encode_plan(*f.plan, f.session, {{"z", f.gg.z, true}, {"images", f.gg.images, false}});
  // The plan and the arena 64-byte aligned, as docs/embedded.md asks of a
  // device (vectors then never straddle cache lines).
  Aligned file(bytes.size()), arena_mem(0);
  std::copy(bytes.begin(), bytes.end(), file.p);
  rg_plan p;
  if (rg_plan_validate(file.p, bytes.size(), &p) != RG_OK)
    return state.SkipWithError("plan does not validate");
  arena_mem = Aligned(p.header.arena_bytes);
  std::copy(f.latents.begin(), f.latents.end(), rg_io_data(&p, arena_mem.p, 0));
  for (auto _ : state)
    if (rg_run(&p, rg_plan_weights(&p), arena_mem.p) != RG_OK)
      return state.SkipWithError("rg_run failed");
  state.counters["img/s"] =
      benchmark::Counter(double(state.range(2)), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_bytes"] = double(p.header.arena_bytes);
  state.counters["weights_bytes"] = double(p.header.weights_bytes);
}

// {size, width x 100, batch}: the golden test model, and the seed's model at 128.
#define RG_SHAPES \
  ->Args({32, 25, 1})->Args({32, 25, 64})->Args({128, 100, 1})->Unit(benchmark::kMillisecond)
BENCHMARK(BM_RefGenerate) RG_SHAPES;
BENCHMARK(BM_RuntimeGenerate) RG_SHAPES;

}  // namespace
}  // namespace rg

BENCHMARK_MAIN();
