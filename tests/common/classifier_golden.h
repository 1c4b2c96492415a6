// SPDX-License-Identifier: Apache-2.0
// The classifier's PyTorch golden step (tools/golden/make_classifier_golden.py,
// tests/data/golden/classifier_step_*.safetensors) run on any backend and
// checked tensor by tensor: loss, log-probabilities, every gradient, Adam's
// moments and the parameter updates. Used by tests/classifier (reference,
// oneDNN) and tests/cuda (host emulation, GPU).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "rg/safetensors.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "examples/fashion_mnist/classifier_model.h"
#include "tests/common/golden_step.h"

namespace rg::testing_golden {

inline classifier::ClassifierConfig classifier_config(const io::SafetensorsContents& f) {
  const auto& m = f.metadata;
  classifier::ClassifierConfig c;
  c.batch = std::stoi(m.at("batch"));
  c.conv1_channels = std::stoi(m.at("conv1_channels"));
  c.conv2_channels = std::stoi(m.at("conv2_channels"));
  c.lr = std::stod(m.at("lr"));
  c.beta1 = std::stod(m.at("beta1"));
  c.beta2 = std::stod(m.at("beta2"));
  c.adam_eps = std::stod(m.at("eps"));
  return c;
}

// Runs the golden step on `backend` and checks every tensor the file has
// against `tol` (relative distance). Updated parameters are compared only
// where the golden gradient is not tiny: Adam's first step is about
// lr * sign(grad), which rounding may flip where the gradient is ~0.
inline void check_classifier_step(Backend& backend, DType t, const std::string& file, double tol) {
  const io::SafetensorsContents f = io::read_safetensors(golden_path(file));
  const classifier::ClassifierConfig cfg = classifier_config(f);
  const classifier::ClassifierGraph st = classifier::build_classifier_step(cfg, t, true);
  auto plan = compile(st.graph, backend);
  Session s(*plan);
  auto golden = [&](const std::string& name) { return io::to_f64(f.tensors.at(name)); };
  for (const classifier::ParamSpec& p : classifier::classifier_parameters(cfg)) {
    const std::vector<double> v = golden("init." + p.name);
    s.set_variable(p.name, std::span<const double>(v));
  }
  for (const char* in : {"images", "labels"}) {
    const std::vector<double> v = golden(in);
    s.set_input(in, std::span<const double>(v));
  }
  s.run();
  EXPECT_LT(rel_distance(s.value(st.loss), golden("loss")), tol) << file << ": loss";
  EXPECT_LT(rel_distance(s.value(st.log_probs), golden("log_probs")), tol) << file << ": log_probs";
  for (const classifier::ParamSpec& p : classifier::classifier_parameters(cfg)) {
    const std::vector<double> grad = golden("grad." + p.name);
    EXPECT_LT(rel_distance(s.value(st.grads.at(p.name)), grad), tol) << file << ": grad." << p.name;
    for (const char* moment : {".exp_avg", ".exp_avg_sq"})
      EXPECT_LT(
          rel_distance(s.variable("adam." + p.name + moment), golden("adam." + p.name + moment)),
          tol)
          << file << ": adam." << p.name << moment;
    double largest = 0;
    for (double g : grad) largest = std::max(largest, std::abs(g));
    const std::vector<double> init = golden("init." + p.name), want = golden("new." + p.name),
                              got = s.variable(p.name);
    std::vector<double> step_got,
        step_want;  // the update (new - init), where the gradient decides its sign
    for (size_t i = 0; i < grad.size(); ++i)
      if (std::abs(grad[i]) > 1e-3 * largest)
        step_got.push_back(got[i] - init[i]), step_want.push_back(want[i] - init[i]);
    EXPECT_GT(step_got.size(), grad.size() * 9 / 10)
        << file << ": " << p.name << " has too many tiny gradients";
    EXPECT_LT(rel_distance(step_got, step_want), tol) << file << ": update of " << p.name;
  }
}

}  // namespace rg::testing_golden
