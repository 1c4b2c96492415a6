// SPDX-License-Identifier: Apache-2.0
// A program that uses the installed rg library through its public headers
// only (docs/library.md): it builds loss = mean((x * w)^2), asks autodiff for
// d loss / d w, runs the graph on every CPU backend of the build and checks
// the results against the values worked out by hand below. On the reference
// backend it also hands the session its own memory (arena and w).
#include <rg/rg.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

// x = [1, 2, 3, 4], w = [0.5, -1, 2, 0.25]: x * w = [0.5, -2, 6, 1],
// loss = (0.25 + 4 + 36 + 1) / 4 = 10.3125, d loss / d w = x * (x * w) / 2.
const std::vector<float> kX{1, 2, 3, 4}, kW{0.5f, -1, 2, 0.25f};
const double kLoss = 10.3125;
const std::vector<double> kGradW{0.25, -2, 9, 2};

std::shared_ptr<rg::Graph> build() {
  auto g = std::make_shared<rg::Graph>();
  const rg::ValueId x = g->input("x", {2, 2});
  const rg::ValueId w = g->variable("w", {2, 2});
  const rg::ValueId loss = g->mean(g->square(g->mul(x, w)));
  const rg::ValueId dw = rg::gradients(*g, loss, {w}).at(w);
  g->mark_output(loss, "loss");
  g->mark_output(dw, "dw");
  return g;
}

bool check(const std::string& what, rg::Session& s) {
  s.set_input("x", kX);
  s.run();
  const double loss = s.output("loss")[0];
  std::vector<float> dw(4);
  s.read_output("dw", dw);
  bool ok = std::fabs(loss - kLoss) < 1e-6;
  for (size_t i = 0; i < dw.size(); ++i) ok = ok && std::fabs(dw[i] - kGradW[i]) < 1e-6;
  std::printf("%s: loss %.6f (expected %.6f), dw [%g %g %g %g]: %s\n", what.c_str(), loss, kLoss,
              dw[0], dw[1], dw[2], dw[3], ok ? "ok" : "WRONG");
  return ok;
}

bool run_on(const std::string& name, rg::Backend& backend, const std::shared_ptr<rg::Graph>& g) {
  auto plan = rg::compile(g, backend);
  rg::Session s(*plan);
  s.set_variable("w", kW);
  return check(name, s);
}

// The caller's memory: an arena of the size and alignment the plan asks for,
// and w in the caller's own array (plain row-major f32).
bool run_in_caller_memory(rg::Backend& backend, const std::shared_ptr<rg::Graph>& g) {
  auto plan = rg::compile(g, backend);
  const rg::MemoryRequirements req = rg::memory_requirements(*plan);
  const size_t arena_bytes =
      (req.arena_bytes + req.arena_alignment - 1) / req.arena_alignment * req.arena_alignment;
  std::unique_ptr<void, decltype(&std::free)> arena(
      std::aligned_alloc(req.arena_alignment, arena_bytes), &std::free);
  std::vector<float> w = kW;
  rg::CallerMemory mem;
  mem.arena = arena.get();
  mem.arena_bytes = arena_bytes;
  mem.add_variable("w", std::as_writable_bytes(std::span<float>(w)));
  rg::Session s(*plan, mem);
  return check(rg::backend_name(backend) + " (caller memory)", s);
}

}  // namespace

int main() {
  try {
    const auto g = build();
    bool ok = true;
    auto ref = rg::make_ref_backend();
    ok &= run_on("ref", *ref, g);
    ok &= run_in_caller_memory(*ref, g);
#if RG_HAVE_ONEDNN
    auto cpu = rg::make_onednn_backend();
    ok &= run_on("cpu (oneDNN)", *cpu, g);
#endif
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
