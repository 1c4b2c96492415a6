// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <new>
#include <set>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/inspect.h"
#include "graph/graph.h"
#include "rg/autodiff.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "tests/common/allocation_counter.h"  // replaces the allocation functions of this test binary

using rg::testing_alloc::allocations;
using rg::testing_alloc::counting;

namespace rg {
namespace {

model::StepConfig narrow_step() {
  model::StepConfig cfg;
  cfg.model = {32, 0.125, 16};
  cfg.batch = 4;
  return cfg;
}

TEST(Plan, RunningAPlanAllocatesNothing) {
  const model::StepGraph s = model::build_train_step(narrow_step(), DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(s.graph, *be);
  Session session(*plan);
  std::vector<float> x(size_t(4 * 3 * 32 * 32), 0.25f), z(size_t(4 * 16), 0.5f);
  session.set_input("x_real", std::span<const float>(x));
  session.set_input("z", std::span<const float>(z));
  session.run();  // warm-up (first touch of pages, OpenMP pool start)
  allocations = 0;
  counting = true;
  for (int i = 0; i < 3; ++i) session.run();
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations during Session::run()";
  // The count works: a known allocation is seen.
  counting = true;
  std::vector<int>* probe = new std::vector<int>(1000);
  counting = false;
  delete probe;
  EXPECT_GE(allocations.load(), 1);
}

TEST(Plan, SeedTrainingStepAt128ArenaIsWellUnderHalfOfAllBuffers) {
  model::StepConfig cfg;  // the seed's model: size 128, width 1, nz 128
  cfg.batch = 64;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(s.graph, *be);
  validate_memory_plan(*plan);
  std::cout << "seed step at 128, batch 64: " << plan->groups.size() << " kernels, arena "
            << human_bytes(plan->arena_bytes) << " of " << human_bytes(plan->sum_bytes) << " ("
            << 100.0 * double(plan->arena_bytes) / double(plan->sum_bytes) << "%)\n";
  EXPECT_LT(double(plan->arena_bytes), 0.5 * double(plan->sum_bytes));
  // Fusion happened: BN + ReLU and conv + LeakyReLU groups exist.
  int bn_relu = 0, conv_lrelu = 0;
  for (const FusionGroup& g : plan->groups) {
    if (g.nodes.size() < 2) continue;
    const OpKind a = s.graph->node(g.nodes[0]).op, b = s.graph->node(g.nodes[1]).op;
    bn_relu += a == OpKind::kBatchNormTrain && b == OpKind::kRelu;
    conv_lrelu += a == OpKind::kConv2d && b == OpKind::kLeakyRelu;
  }
  EXPECT_EQ(bn_relu, 6);         // G's six BN + ReLU blocks
  EXPECT_EQ(conv_lrelu, 2 * 3);  // D's two BN-free blocks, three D applications
}

// Recomputing BN + ReLU outputs in the backward pass (CompileOptions::
// recompute), anchors' internal values in their chain's output and in-place
// BatchNorm backward: the seed step's arena on the reference backend, with
// and without recomputation (measured: 520 vs 711 MiB; 786 before the last
// two changes). The compiler's choice (kWherePeakDrops, the CPU backends'
// default) keeps G's six BN activations, which live across the peak, drops
// D's, and gives the arena of recomputing every one.
TEST(Plan, RecomputingBnActivationsShrinksTheSeedStepArena) {
  model::StepConfig cfg;
  cfg.batch = 64;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  // Offered by autodiff: G's 6 and D's 3 per D application with a gradient (3).
  ASSERT_EQ(s.graph->recomputations().size(), 6u + 3u * 3u);
  auto be = make_ref_backend();
  std::map<Recompute, std::unique_ptr<Plan>> plans;
  for (Recompute r : {Recompute::kNone, Recompute::kWherePeakDrops, Recompute::kAll, Recompute::kBackendDefault}) {
    CompileOptions co;
    co.recompute = r;
    plans[r] = compile(s.graph, *be, co);
    validate_memory_plan(*plans[r]);
  }
  const size_t keep = plans[Recompute::kNone]->arena_bytes, chosen = plans[Recompute::kWherePeakDrops]->arena_bytes;
  std::cout << "seed step at 128, batch 64, arena: " << human_bytes(keep) << " keeping activations, "
            << human_bytes(chosen) << " recomputing G's, " << human_bytes(plans[Recompute::kAll]->arena_bytes)
            << " recomputing all\n";
  EXPECT_LT(double(chosen), 0.75 * double(keep));
  EXPECT_LE(chosen, plans[Recompute::kAll]->arena_bytes);
  EXPECT_EQ(plans[Recompute::kBackendDefault]->arena_bytes, chosen);
  // Which were kept: G's, the activations of the graph's first BatchNorms.
  const auto& kept = plans[Recompute::kWherePeakDrops]->graph->recomputations();
  ASSERT_EQ(kept.size(), 6u);
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i].original, s.graph->recomputations()[i + 9].original);
  EXPECT_TRUE(plans[Recompute::kNone]->graph->recomputations().empty());
  EXPECT_EQ(plans[Recompute::kAll]->graph.get(), s.graph.get());  // nothing to rewrite
  EXPECT_EQ(s.graph->recomputations().size(), 15u);                // the caller's graph is not changed
  EXPECT_THROW(Graph(*s.graph).drop_recomputation(s.x_real), GraphError);  // x_real has none
}

TEST(Plan, ReadersSeeTheVersionTheyNameAcrossAStateUpdate) {
  auto g = std::make_shared<Graph>(DType::f64);
  const ValueId w = g->variable("w", {2});
  const ValueId before = g->mul_scalar(w, 2.0);
  const ValueId step = g->increment(g->variable("step", {}, DType::i64));
  const ValueId w1 = g->adam_update(w, g->fill({2}, 1.0), g->variable("m", {2}), g->variable("v", {2}), step,
                                    {0.1, 0.9, 0.999, 1e-8});
  const ValueId after = g->mul_scalar(w1, 3.0);
  const ValueId late_reader = g->mul_scalar(w, 5.0);  // reads the old version, added last
  for (ValueId v : {before, after, late_reader}) g->mark_output(v);
  auto be = make_ref_backend();
  auto plan = compile(g, *be);
  Session s(*plan);
  const std::vector<double> w0{1.0, -2.0};
  s.set_variable("w", std::span<const double>(w0));
  s.run();
  // Adam's first step moves each weight by lr * sign(grad) / (1 + eps).
  const double delta = 0.1 / (1.0 + 1e-8);
  EXPECT_DOUBLE_EQ(s.value(before)[1], -4.0);
  EXPECT_DOUBLE_EQ(s.value(late_reader)[1], -10.0);
  EXPECT_NEAR(s.value(after)[0], 3.0 * (1.0 - delta), 1e-14);
  EXPECT_NEAR(s.value(after)[1], 3.0 * (-2.0 - delta), 1e-14);
  EXPECT_NEAR(s.variable("w")[0], 1.0 - delta, 1e-15);
  EXPECT_EQ(s.variable("step")[0], 1.0);
}

// A host-memory backend without max pooling: the engine compiles exactly the
// groups it does not support on its host fallback and runs them on the same
// memory (results bit-identical to the reference backend's, since the kernels
// are the same); without a fallback it refuses the graph, naming the op.
class NoPoolingBackend final : public Backend {
 public:
  explicit NoPoolingBackend(bool with_fallback)
      : inner_(make_ref_backend()), fallback_(with_fallback ? make_ref_backend() : nullptr) {}
  std::string name() const override { return "no-pooling"; }
  void* allocate(size_t bytes) override { return inner_->allocate(bytes); }
  void release(void* p) override { inner_->release(p); }
  void copy_in(void* dst, const void* src, size_t bytes) override { inner_->copy_in(dst, src, bytes); }
  void copy_out(void* dst, const void* src, size_t bytes) override { inner_->copy_out(dst, src, bytes); }
  static bool pooling(OpKind op) { return op == OpKind::kMaxPool2d || op == OpKind::kMaxPool2dBackward; }
  static bool pooling(const Graph& g, const FusionGroup& grp) {
    for (NodeId id : grp.nodes)
      if (pooling(g.node(id).op)) return true;
    return false;
  }
  bool lowers(OpKind op) const override { return !pooling(op) && inner_->lowers(op); }
  Backend* host_fallback() override { return fallback_.get(); }
  // The reference backend's compiler, counting the groups it is given.
  class Counting final : public PlanCompiler {
   public:
    Counting(const Graph& g, Backend& device, std::unique_ptr<PlanCompiler> inner, int& compiled)
        : PlanCompiler(g, device), inner_(std::move(inner)), compiled_(compiled) {}
    std::unique_ptr<Kernel> compile(const FusionGroup& grp) override {
      EXPECT_FALSE(pooling(g_, grp)) << "compile() called for a group it does not lower";
      ++compiled_;
      return inner_->compile(grp);
    }

   private:
    std::unique_ptr<PlanCompiler> inner_;
    int& compiled_;
  };
  std::unique_ptr<PlanCompiler> prepare(const Graph& g, const std::vector<FusionGroup>& groups,
                                        const std::vector<char>& on_fallback) override {
    for (size_t k = 0; k < groups.size(); ++k)
      EXPECT_EQ(bool(on_fallback.at(k)), pooling(g, groups[k])) << group_str(g, groups[k]);
    return std::make_unique<Counting>(g, *this, inner_->prepare(g, groups, on_fallback), compiled);
  }
  int compiled = 0;

 private:
  std::unique_ptr<Backend> inner_, fallback_;
};

TEST(Plan, GroupsABackendDoesNotSupportRunOnItsHostFallback) {
  auto g = std::make_shared<Graph>(DType::f32);
  const ValueId x = g->input("x", {2, 3, 8, 8}), w = g->variable("w", {4, 3, 3, 3});
  const ValueId loss = g->mean(g->max_pool2d(g->conv2d(x, w, 1, 1), {2, 2}, {2, 2}));
  g->mark_output(loss, "loss");
  const auto grads = gradients(*g, loss, {w});
  g->mark_output(grads.at(w), "dw");

  NoPoolingBackend routed(true);
  auto ref = make_ref_backend();
  auto pr = compile(g, routed), pe = compile(g, *ref);
  size_t pooling_groups = 0;
  for (const FusionGroup& grp : pr->groups) pooling_groups += NoPoolingBackend::pooling(*g, grp);
  EXPECT_EQ(pooling_groups, 2u);  // forward and backward
  EXPECT_EQ(size_t(routed.compiled) + pooling_groups, pr->groups.size());
  std::vector<double> xv(2 * 3 * 64), wv(4 * 3 * 9);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(0.37 * double(i));
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = 0.1 * std::cos(0.53 * double(i));
  Session sr(*pr), se(*pe);
  for (Session* s : {&sr, &se}) {
    s->set_input("x", std::span<const double>(xv));
    s->set_variable("w", std::span<const double>(wv));
    s->run();
  }
  EXPECT_EQ(sr.output("loss"), se.output("loss"));
  EXPECT_EQ(sr.output("dw"), se.output("dw"));

  NoPoolingBackend alone(false);
  try {
    compile(g, alone);
    ADD_FAILURE() << "a graph with an unsupported op compiled without a fallback";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no-pooling backend: no kernel for max_pool2d (node #"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace rg

#include "tests/common/shared_plan.h"

namespace rg {
namespace {
TEST(Plan, SeveralSessionsRunOnePlanOnTheReferenceBackend) {
  auto be = make_ref_backend();
  testing_shared_plan::expect_sessions_share_one_plan(*be);
}
TEST(Plan, TimedRunsAreRunsOnTheReferenceBackend) {
  auto be = make_ref_backend();
  testing_shared_plan::expect_timed_runs_are_runs(*be);
}
}  // namespace
}  // namespace rg

namespace rg {
namespace {
// The engine forms the horizontal runs a backend may launch as one (CUDA's
// multi-tensor Adam): in the training step, D's Adam updates are one run and
// G's another (their own step counters), every Adam group is in one, and
// nothing else is.
TEST(Plan, EachNetworksAdamUpdatesFormOneHorizontalRun) {
  const model::StepGraph s = model::build_train_step(narrow_step(), DType::f32);
  auto be = make_ref_backend();
  auto plan = compile(s.graph, *be);
  std::set<int> heads;
  size_t adam_groups = 0;
  for (const FusionGroup& grp : plan->groups) {
    const bool adam = grp.nodes.size() == 1 && s.graph->node(grp.nodes[0]).op == OpKind::kAdamUpdate;
    adam_groups += adam;
    EXPECT_EQ(grp.horizontal_first >= 0, adam) << group_str(*s.graph, grp);
    if (grp.horizontal_first < 0) continue;
    heads.insert(grp.horizontal_first);
    // A run is consecutive: the group before is in the same run, or this one heads it.
    if (grp.horizontal_first != grp.id) {
      EXPECT_EQ(plan->groups[size_t(grp.id - 1)].horizontal_first, grp.horizontal_first);
    }
  }
  EXPECT_EQ(heads.size(), 2u);
  size_t adam_nodes = 0;
  for (NodeId id : plan->order) adam_nodes += s.graph->node(id).op == OpKind::kAdamUpdate;
  EXPECT_EQ(adam_groups, adam_nodes);  // each Adam update a group of its own
  EXPECT_GT(adam_groups, 10u);
}
}  // namespace
}  // namespace rg
