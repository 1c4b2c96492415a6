// SPDX-License-Identifier: Apache-2.0
// Every differentiable op's gradient against central finite differences in f64,
// run through the whole pipeline (autodiff -> compiler -> reference backend).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "graph/graph.h"
#include "rg/autodiff.h"
#include "tests/common/op_cases.h"

namespace rg {
namespace {

using testing_ops::Case;
using testing_ops::cases;

void check_gradients(const Case& c, uint32_t seed = 1) {
  const testing_ops::BuiltCase b = testing_ops::build_case(c, DType::f64);
  auto backend = make_ref_backend();
  auto plan = compile(b.graph, *backend);
  validate_memory_plan(*plan);
  Session s(*plan);
  auto values = testing_ops::random_values(b, seed);
  testing_ops::set_values(s, values);
  s.run();
  std::map<ValueId, std::vector<double>> analytic_of;  // read before any perturbation
  for (const auto& [v, d] : b.grads) analytic_of[v] = s.value(d);
  for (const testing_ops::Param& p : b.params) {
    if (!p.differentiate) continue;
    const std::vector<double>& analytic = analytic_of.at(p.value);
    std::vector<double> x = values[p.name];
    std::vector<double> fd(x.size());
    const double h = 1e-6;
    auto loss_with = [&](size_t i, double xi) {
      const double x0 = x[i];
      x[i] = xi;
      s.set_variable(p.name, std::span<const double>(x));
      s.run();
      x[i] = x0;
      return s.value(b.loss)[0];
    };
    for (size_t i = 0; i < x.size(); ++i) fd[i] = (loss_with(i, x[i] + h) - loss_with(i, x[i] - h)) / (2 * h);
    s.set_variable(p.name, std::span<const double>(x));
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) num += (analytic[i] - fd[i]) * (analytic[i] - fd[i]), den += fd[i] * fd[i];
    ASSERT_GT(den, 0.0) << c.name << ": gradient wrt " << p.name << " is zero; the test would be vacuous";
    EXPECT_LT(std::sqrt(num / den), 1e-6) << c.name << ": gradient wrt " << p.name;
  }
}

class Gradients : public ::testing::TestWithParam<Case> {};

TEST_P(Gradients, MatchFiniteDifferencesInF64) { check_gradients(GetParam()); }

INSTANTIATE_TEST_SUITE_P(EveryOp, Gradients, ::testing::ValuesIn(testing_ops::differentiable_cases()),
                         [](const auto& info) { return info.param.name; });

// Recomputed activations (GradientOptions::recompute_bn_activation, kept by
// CompileOptions::recompute): the backward pass reads BatchNorm + (Leaky)ReLU
// outputs recomputed from the BatchNorm's input and statistics. In f64 the
// whole step must give the same gradients and updated state as keeping the
// forward values.
TEST(Gradients, RecomputedBnActivationsGiveTheSameStepInF64) {
  std::map<std::string, std::vector<double>> got[2];
  int recomputed_bn[2] = {0, 0};
  for (int recompute = 0; recompute < 2; ++recompute) {
    model::StepConfig cfg;
    cfg.model = {32, 0.25, 16};
    cfg.batch = 3;
    cfg.expose_gradients = true;
    const model::StepGraph st = model::build_train_step(cfg, DType::f64);
    auto be = make_ref_backend();
    CompileOptions co;
    co.recompute = recompute == 1 ? Recompute::kWherePeakDrops : Recompute::kNone;
    auto plan = compile(st.graph, *be, co);
    for (NodeId id : plan->order) recomputed_bn[recompute] += plan->graph->node(id).op == OpKind::kBatchNormInference;
    Session s(*plan);
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (const VariableInfo& v : st.graph->variables()) {
      std::vector<double> x(size_t(v.desc.numel()));
      if (v.desc.dtype == DType::i64) {
        std::vector<int64_t> z(x.size(), 0);
        s.set_variable(v.name, std::span<const int64_t>(z));
        continue;
      }
      const bool var = v.name.find("running_var") != std::string::npos || v.name.find("exp_avg_sq") != std::string::npos;
      for (double& e : x) e = var ? 0.5 + std::abs(u(rng)) : (v.name.find("adam.") == 0 ? 0.0 : 0.3 * u(rng));
      s.set_variable(v.name, std::span<const double>(x));
    }
    std::vector<double> xr(size_t(3 * 3 * 32 * 32)), z(size_t(3 * 16));
    for (double& e : xr) e = u(rng);
    for (double& e : z) e = u(rng);
    s.set_input("x_real", std::span<const double>(xr));
    s.set_input("z", std::span<const double>(z));
    s.run();
    for (const auto& [name, v] : st.grads) got[recompute][name] = s.value(v);
    for (const VariableInfo& v : st.graph->variables()) got[recompute][v.name] = s.variable(v.name);
  }
  EXPECT_EQ(recomputed_bn[0], 0);
  // G's 4 BN layers at size 32: each read by a weight gradient and a ReLU
  // gradient (D's activations are kept).
  EXPECT_GE(recomputed_bn[1], 4);
  ASSERT_EQ(got[0].size(), got[1].size());
  for (const auto& [name, a] : got[0]) {
    const std::vector<double>& b = got[1].at(name);
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += a[i] * a[i];
    EXPECT_LE(std::sqrt(num / std::max(den, 1e-300)), 1e-12) << name;
  }
}

TEST(Gradients, StopGradientCutsThePath) {
  // loss = sum(r * x * stop_gradient(x)): d/dx = r * x (not 2 r x).
  auto g = std::make_shared<Graph>(DType::f64);
  const ValueId x = g->variable("x", {4});
  const ValueId r = g->variable("r", {4});
  const ValueId loss = g->mul_scalar(g->mean(g->mul(r, g->mul(x, g->stop_gradient(x)))), 4.0);
  g->mark_output(loss);
  const ValueId dx = gradients(*g, loss, {x}).at(x);
  g->mark_output(dx);
  auto be = make_ref_backend();
  auto plan = compile(g, *be);
  Session s(*plan);
  const std::vector<double> xv{1, -2, 3, 0.5}, rv{0.3, 0.1, -1, 2};
  s.set_variable("x", std::span<const double>(xv));
  s.set_variable("r", std::span<const double>(rv));
  s.run();
  const auto d = s.value(dx);
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(d[i], rv[i] * xv[i]);
}

}  // namespace
}  // namespace rg
