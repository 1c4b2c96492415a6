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

namespace rg {
namespace {

struct Case {
  std::string name;
  // Builds the op on variables made with `param`; returns its output.
  std::function<ValueId(Graph&, const std::function<ValueId(const std::string&, Shape, bool)>&)> build;
};

struct Param {
  std::string name;
  Shape shape;
  bool differentiate;
  ValueId value;
};

void check_gradients(const Case& c, uint32_t seed = 1) {
  auto g = std::make_shared<Graph>(DType::f64);
  std::vector<Param> params;
  auto param = [&](const std::string& name, Shape shape, bool diff) {
    const ValueId v = g->variable(name, shape);
    params.push_back({name, shape, diff, v});
    return v;
  };
  const ValueId y = c.build(*g, param);
  // loss = sum(y * r) for a fixed random r, so every output element matters.
  const ValueId r = g->variable("__r", g->shape(y));
  const ValueId loss = g->mul_scalar(g->mean(g->mul(y, r)), double(g->desc(y).numel()));
  g->mark_output(loss, "loss");
  std::vector<ValueId> wrt;
  for (const Param& p : params)
    if (p.differentiate) wrt.push_back(p.value);
  const auto grads = gradients(*g, loss, wrt);
  for (const auto& [v, d] : grads) g->mark_output(d);

  auto backend = make_ref_backend();
  auto plan = compile(g, *backend);
  validate_memory_plan(*plan);
  Session s(*plan);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::map<std::string, std::vector<double>> values;
  auto set = [&](const std::string& name, const Shape& shape, bool positive) {
    std::vector<double> v(size_t(numel(shape)));
    for (double& x : v) {
      x = u(rng);
      if (std::abs(x) < 0.05) x += x < 0 ? -0.05 : 0.05;  // keep clear of kinks at 0
      if (positive) x = 0.5 + std::abs(x);
    }
    values[name] = v;
    s.set_variable(name, std::span<const double>(v));
  };
  for (const Param& p : params) set(p.name, p.shape, p.name.find("var") != std::string::npos || p.name == "den");
  set("__r", g->shape(y), false);

  s.run();
  std::map<ValueId, std::vector<double>> analytic_of;  // read before any perturbation
  for (const auto& [v, d] : grads) analytic_of[v] = s.value(d);
  auto loss_at = [&]() {
    s.run();
    return s.value(loss)[0];
  };
  for (const Param& p : params) {
    if (!p.differentiate) continue;
    const std::vector<double>& analytic = analytic_of.at(p.value);
    std::vector<double> x = values[p.name];
    std::vector<double> fd(x.size());
    const double h = 1e-6;
    for (size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i];
      x[i] = x0 + h;
      s.set_variable(p.name, std::span<const double>(x));
      const double lp = loss_at();
      x[i] = x0 - h;
      s.set_variable(p.name, std::span<const double>(x));
      const double lm = loss_at();
      x[i] = x0;
      fd[i] = (lp - lm) / (2 * h);
    }
    s.set_variable(p.name, std::span<const double>(x));
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) num += (analytic[i] - fd[i]) * (analytic[i] - fd[i]), den += fd[i] * fd[i];
    ASSERT_GT(den, 0.0) << c.name << ": gradient wrt " << p.name << " is zero; the test would be vacuous";
    EXPECT_LT(std::sqrt(num / den), 1e-6) << c.name << ": gradient wrt " << p.name;
  }
}

using P = std::function<ValueId(const std::string&, Shape, bool)>;

std::vector<Case> cases() {
  return {
      {"conv2d_s2p1", [](Graph& g, const P& p) { return g.conv2d(p("x", {2, 3, 7, 6}, true), p("w", {4, 3, 3, 3}, true), 2, 1); }},
      {"conv2d_k4s2p1", [](Graph& g, const P& p) { return g.conv2d(p("x", {2, 2, 8, 8}, true), p("w", {3, 2, 4, 4}, true), 2, 1); }},
      {"conv2d_s1p0_rect", [](Graph& g, const P& p) { return g.conv2d(p("x", {1, 2, 5, 6}, true), p("w", {3, 2, 2, 3}, true), 1, 0); }},
      {"conv_transpose2d_k4s2p1", [](Graph& g, const P& p) { return g.conv_transpose2d(p("x", {2, 3, 4, 5}, true), p("w", {3, 2, 4, 4}, true), 2, 1); }},
      {"conv_transpose2d_k4s1p0", [](Graph& g, const P& p) { return g.conv_transpose2d(p("x", {2, 5, 1, 1}, true), p("w", {5, 3, 4, 4}, true), 1, 0); }},
      {"conv_transpose2d_k3s2p1op1", [](Graph& g, const P& p) { return g.conv_transpose2d(p("x", {1, 2, 3, 3}, true), p("w", {2, 3, 3, 3}, true), 2, 1, 1); }},
      {"batch_norm_train", [](Graph& g, const P& p) { return g.batch_norm_train(p("x", {3, 4, 2, 3}, true), p("gamma", {4}, true), p("beta", {4}, true)).y; }},
      {"batch_norm_inference", [](Graph& g, const P& p) {
         return g.batch_norm_inference(p("x", {2, 3, 2, 2}, true), p("gamma", {3}, true), p("beta", {3}, true), p("mean", {3}, false), p("var", {3}, false)); }},
      {"relu", [](Graph& g, const P& p) { return g.relu(p("x", {2, 3, 4}, true)); }},
      {"leaky_relu", [](Graph& g, const P& p) { return g.leaky_relu(p("x", {2, 3, 4}, true), 0.2); }},
      {"tanh", [](Graph& g, const P& p) { return g.tanh(p("x", {2, 3, 4}, true)); }},
      {"add_broadcast", [](Graph& g, const P& p) { return g.add(p("a", {2, 3, 4}, true), p("b", {3, 1}, true)); }},
      {"sub_broadcast", [](Graph& g, const P& p) { return g.sub(p("a", {4}, true), p("b", {2, 3, 4}, true)); }},
      {"mul_broadcast", [](Graph& g, const P& p) { return g.mul(p("a", {2, 1, 4}, true), p("b", {3, 1}, true)); }},
      {"div_broadcast", [](Graph& g, const P& p) { return g.div(p("a", {2, 3, 4}, true), p("den", {3, 4}, true)); }},
      {"scalars", [](Graph& g, const P& p) { return g.mul_scalar(g.add_scalar(p("x", {5}, true), 0.7), -1.3); }},
      {"square", [](Graph& g, const P& p) { return g.square(p("x", {3, 2}, true)); }},
      {"mean_all", [](Graph& g, const P& p) { return g.mean(p("x", {2, 3, 4}, true)); }},
      {"mean_axes", [](Graph& g, const P& p) { return g.mean(p("x", {2, 3, 4}, true), {0, 2}); }},
      {"mean_keepdims", [](Graph& g, const P& p) { return g.mean(p("x", {2, 3, 4}, true), {-2}, true); }},
      {"sum_to", [](Graph& g, const P& p) { return g.sum_to(p("x", {2, 3, 4}, true), {3, 1}); }},
      {"broadcast_to", [](Graph& g, const P& p) { return g.broadcast_to(p("x", {3, 1}, true), {2, 3, 4}); }},
      {"reshape", [](Graph& g, const P& p) { return g.tanh(g.reshape(p("x", {2, 6}, true), {3, 4})); }},
      {"fused_chain", [](Graph& g, const P& p) {  // an anchor and an elementwise chain in one group
         const ValueId c = g.conv2d(p("x", {2, 2, 5, 5}, true), p("w", {3, 2, 3, 3}, true), 1, 1);
         return g.tanh(g.mul(g.leaky_relu(c, 0.2), g.add_scalar(c, 1.0))); }},
      {"rals_loss", [](Graph& g, const P& p) { return model::rals_loss(g, p("a", {6}, true), p("b", {6}, true), 0.8); }},
  };
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
