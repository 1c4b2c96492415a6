// Every differentiable op's gradient against central finite differences in f64,
// run through the whole pipeline (autodiff -> compiler -> reference backend).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "apps/model/ralsgan_step.h"
#include "backends/ref/ref_backend.h"
#include "engine/session.h"
#include "graph/autodiff.h"
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

INSTANTIATE_TEST_SUITE_P(EveryOp, Gradients, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

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
