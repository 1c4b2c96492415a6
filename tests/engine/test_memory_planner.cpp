// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <random>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/memory_planner.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg {
namespace {

TEST(MemoryPlanner, RandomRequestsNeverOverlapWhileLive) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferRequest> req(size_t(1 + rng() % 60));
    for (auto& r : req) {
      r.bytes = 1 + rng() % 5000;
      r.first = int(rng() % 40);
      r.last = r.first + int(rng() % 10);
    }
    const MemoryPlan p = plan_memory(req);
    size_t sum = 0;
    for (size_t i = 0; i < req.size(); ++i) {
      sum += align_up(req[i].bytes, kArenaAlignment);
      EXPECT_EQ(p.offsets[i] % kArenaAlignment, 0u);
      EXPECT_LE(p.offsets[i] + req[i].bytes, p.arena_bytes);
      for (size_t j = i + 1; j < req.size(); ++j) {
        const bool live = req[i].first <= req[j].last && req[j].first <= req[i].last;
        const bool overlap = p.offsets[i] < p.offsets[j] + req[j].bytes && p.offsets[j] < p.offsets[i] + req[i].bytes;
        ASSERT_FALSE(live && overlap) << "trial " << trial << " buffers " << i << " and " << j;
      }
    }
    EXPECT_EQ(p.sum_bytes, sum);
    EXPECT_LE(p.arena_bytes, sum);
  }
}

TEST(MemoryPlanner, DisjointLifetimesShareOneSlot) {
  const MemoryPlan p = plan_memory({{1000, 0, 1}, {1000, 2, 3}, {1000, 4, 5}});
  EXPECT_EQ(p.arena_bytes, align_up(1000, kArenaAlignment));
}

// A random graph of elementwise ops, reductions, broadcasts and convolutions.
std::shared_ptr<Graph> random_graph(std::mt19937& rng, DType t) {
  auto g = std::make_shared<Graph>(t);
  const Shape s{2, 3, 6, 6};
  std::vector<ValueId> pool{g->input("a", s), g->variable("b", s), g->input("c", {3, 1, 1})};
  const ValueId w = g->variable("w", {3, 3, 3, 3});
  const ValueId wt = g->variable("wt", {3, 3, 4, 4});
  auto pick = [&] { return pool[rng() % pool.size()]; };
  auto full = [&] {
    for (int i = 0; i < 20; ++i) {
      const ValueId v = pick();
      if (g->shape(v) == s) return v;
    }
    return pool[0];
  };
  const int n = 10 + int(rng() % 30);
  for (int i = 0; i < n; ++i) {
    switch (rng() % 10) {
      case 0: pool.push_back(g->add(full(), pick())); break;
      case 1: pool.push_back(g->mul(full(), pick())); break;
      case 2: pool.push_back(g->tanh(pick())); break;
      case 3: pool.push_back(g->leaky_relu(pick(), 0.2)); break;
      case 4: pool.push_back(g->conv2d(full(), w, 1, 1)); break;
      case 5: pool.push_back(g->conv2d(g->conv_transpose2d(full(), wt, 2, 1), w, 2, 1)); break;
      case 6: pool.push_back(g->broadcast_to(g->mean(full(), {0, 2, 3}, true), s)); break;
      case 7: pool.push_back(g->sub(full(), g->reshape(g->mean(full(), {0, 2, 3}), {3, 1, 1}))); break;
      case 8: pool.push_back(g->square(g->add_scalar(pick(), 0.5))); break;
      default: pool.push_back(g->mul_scalar(pick(), -0.7)); break;
    }
  }
  // A few outputs, including one early value that must survive to the end.
  g->mark_output(pool.back());
  g->mark_output(pool[pool.size() / 2]);
  g->mark_output(g->mean(full()));
  return g;
}

TEST(MemoryPlanner, RandomGraphsRunIdenticallyWithAndWithoutReuse) {
  std::mt19937 rng(7);
  auto be = make_ref_backend();
  for (int trial = 0; trial < 40; ++trial) {
    auto g = random_graph(rng, DType::f64);
    auto reused = compile(g, *be);
    auto separate = compile(g, *be, {.fuse = false, .reuse_memory = false});
    ASSERT_NO_THROW(validate_memory_plan(*reused)) << "trial " << trial;
    EXPECT_LE(reused->arena_bytes, separate->arena_bytes);
    Session s1(*reused), s2(*separate);
    std::vector<double> a(216), b(216), c(3), w(81), wt(144);
    for (auto* v : {&a, &b, &c, &w, &wt})
      for (double& x : *v) x = std::uniform_real_distribution<double>(-0.5, 0.5)(rng);
    for (Session* s : {&s1, &s2}) {
      s->set_input("a", std::span<const double>(a));
      s->set_input("c", std::span<const double>(c));
      s->set_variable("b", std::span<const double>(b));
      s->set_variable("w", std::span<const double>(w));
      s->set_variable("wt", std::span<const double>(wt));
      s->run();
      s->run();  // replay: a reused buffer must not leak state into the next run
    }
    for (ValueId o : g->outputs()) {
      const auto x1 = s1.value(o), x2 = s2.value(o);
      ASSERT_EQ(x1.size(), x2.size());
      for (size_t i = 0; i < x1.size(); ++i) ASSERT_DOUBLE_EQ(x1[i], x2[i]) << "trial " << trial << " output %" << o;
    }
  }
}

}  // namespace
}  // namespace rg
