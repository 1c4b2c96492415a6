// SPDX-License-Identifier: Apache-2.0
// One check for every backend whose plans serve several Sessions: two
// sessions of one plan of the narrow training step (Adam and BatchNorm state
// updates included), with different weights and inputs, stepped in turn,
// equal bit for bit to sessions on plans of their own; the plan's own kernels
// go to whichever session comes first while none holds them.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::testing_shared_plan {

inline void initialise(Session& s, const Graph& g, double seed) {
  for (const VariableInfo& v : g.variables()) {
    if (v.desc.dtype == DType::i64 || v.name.rfind("adam.", 0) == 0) continue;  // Adam starts at 0
    std::vector<double> x(size_t(v.desc.numel()), 0.0);
    const bool unit = v.name.find("running_var") != std::string::npos ||
                      (v.desc.rank() == 1 && v.name.find(".weight") != std::string::npos);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = unit ? 1.0 : v.desc.rank() == 4 ? 0.02 * std::sin(seed + 0.7 * double(i)) : 0.0;
    s.set_variable(v.name, std::span<const double>(x));
  }
  std::vector<double> xr(size_t(4 * 3 * 32 * 32)), z(size_t(4 * 16));
  for (size_t i = 0; i < xr.size(); ++i) xr[i] = std::cos(seed * 1.3 + 0.01 * double(i));
  for (size_t i = 0; i < z.size(); ++i) z[i] = std::sin(seed * 2.1 + 0.3 * double(i));
  s.set_input("x_real", std::span<const double>(xr));
  s.set_input("z", std::span<const double>(z));
}

inline void expect_same_variables(const Session& a, const Session& b, const Graph& g, const char* what) {
  for (const VariableInfo& v : g.variables()) {
    const std::vector<double> x = a.variable(v.name), y = b.variable(v.name);
    for (double e : x) ASSERT_TRUE(std::isfinite(e)) << what << ": variable " << v.name << " not finite";
    EXPECT_EQ(x, y) << what << ": variable " << v.name;
  }
}

// The narrow training step both checks run (initialise() fills its inputs).
inline model::StepGraph narrow_step() {
  model::StepConfig cfg;
  cfg.model = {32, 0.125, 16};
  cfg.batch = 4;
  return model::build_train_step(cfg, DType::f32);
}

inline void expect_sessions_share_one_plan(Backend& be) {
  const model::StepGraph s = narrow_step();
  const Graph& g = *s.graph;
  auto shared = compile(s.graph, be), plan_a = compile(s.graph, be), plan_b = compile(s.graph, be);
  auto a = std::make_unique<Session>(*shared);
  Session b(*shared), own_a(*plan_a), own_b(*plan_b);  // each binds its own kernel instances
  initialise(*a, g, 1.0), initialise(own_a, g, 1.0);
  initialise(b, g, 2.0), initialise(own_b, g, 2.0);
  a->run(), b.run(), a->run();  // interleaved: a two steps, b one
  own_a.run(), own_a.run(), own_b.run();
  expect_same_variables(*a, own_a, g, "first session of the shared plan");
  expect_same_variables(b, own_b, g, "second session of the shared plan");
  a.reset();
  Session c(*shared);  // a third one while b lives; b is unaffected by a's end
  Session c_ref(*plan_a);  // own_a still runs plan_a
  initialise(c, g, 3.0), initialise(c_ref, g, 3.0);
  c.run(), c_ref.run(), b.run(), own_b.run();
  expect_same_variables(c, c_ref, g, "a third session after the first is gone");
  expect_same_variables(b, own_b, g, "second session after the first is gone");
}

// Session::run_timed is one run, with a time per kernel: a session stepped
// three times with run_timed (CUDA: eager, then timed inside a captured
// graph) ends bit for bit where one stepped with run() does, and each call
// gives one finite, non-negative time per group.
inline void expect_timed_runs_are_runs(Backend& be) {
  const model::StepGraph s = narrow_step();
  const Graph& g = *s.graph;
  auto plan = compile(s.graph, be);
  Session timed(*plan), plain(*plan);
  initialise(timed, g, 1.0), initialise(plain, g, 1.0);
  for (int i = 0; i < 3; ++i) {
    plain.run();
    const std::vector<double> ms = timed.run_timed();
    ASSERT_EQ(ms.size(), plan->kernels.size()) << "run " << i;
    double total = 0;
    for (double t : ms) {
      EXPECT_TRUE(std::isfinite(t) && t >= 0) << "run " << i << ": " << t << " ms";
      total += t;
    }
    EXPECT_GT(total, 0.0) << "run " << i;
  }
  expect_same_variables(timed, plain, g, "three timed runs against three runs");
}

}  // namespace rg::testing_shared_plan
