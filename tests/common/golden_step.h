// SPDX-License-Identifier: Apache-2.0
// Runs the PyTorch golden training step (tools/golden/make_step_golden.py,
// tests/data/golden/step_*.safetensors) on any backend and measures, per
// tensor, the relative distance ||ours - theirs|| / ||theirs||.
#pragma once

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "rg/safetensors.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::testing_golden {

inline std::string golden_path(const std::string& file) {
  return std::string(RG_SOURCE_DIR) + "/tests/data/golden/" + file;
}

inline double rel_distance(const std::vector<double>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - ref[i]) * (a[i] - ref[i]), den += ref[i] * ref[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline model::StepConfig golden_config(const io::SafetensorsContents& f) {
  const auto& m = f.metadata;
  model::StepConfig cfg;
  cfg.model = {std::stoi(m.at("size")), std::stod(m.at("width")), std::stoi(m.at("nz"))};
  cfg.batch = std::stoi(m.at("batch"));
  cfg.real_label = std::stod(m.at("real_label"));
  cfg.lr_g = cfg.lr_d = std::stod(m.at("lr"));
  cfg.beta1 = std::stod(m.at("beta1"));
  cfg.beta2 = std::stod(m.at("beta2"));
  cfg.adam_eps = std::stod(m.at("eps"));
  cfg.expose_gradients = true;
  return cfg;
}

// Everything the golden file has an answer for, as computed by one step of
// `plan` started from the file's initial state: name (the golden file's) -> values.
inline std::map<std::string, std::vector<double>> run_golden_step(Plan& plan, const model::StepGraph& s,
                                                                   const io::SafetensorsContents& f) {
  Session session(plan);
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("init.", 0) != 0) continue;
    const std::vector<double> v = io::to_f64(t);
    session.set_variable(name.substr(5), std::span<const double>(v));
  }
  for (const char* in : {"x_real", "z"}) {
    const std::vector<double> v = io::to_f64(f.tensors.at(in));
    session.set_input(in, std::span<const double>(v));
  }
  session.run();
  std::map<std::string, std::vector<double>> out;
  out["loss_d"] = session.value(s.loss_d);
  out["loss_g"] = session.value(s.loss_g);
  out["C_r"] = session.value(s.c_r);
  out["C_f"] = session.value(s.c_f);
  out["C_f2"] = session.value(s.c_f2);
  for (const auto& [name, v] : s.grads) out[name] = session.value(v);
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("new.", 0) == 0) out[name] = session.variable(name.substr(4));
    if (name.rfind("adam.", 0) == 0) out[name] = session.variable(name);
  }
  return out;
}

}  // namespace rg::testing_golden

namespace rg::testing_golden {

// Three consecutive steps (tools/golden/make_steps_golden.py,
// tests/data/golden/steps3_f64.safetensors) on any backend, one Session:
// Adam's moments, bias corrections, running statistics and counters carry
// over from step to step as in training.
struct StepsRun {
  std::vector<double> loss_d, loss_g;                    // per step
  std::map<std::string, std::vector<double>> variables;  // name -> value after the last step
};

inline StepsRun run_golden_steps(Plan& plan, const model::StepGraph& s, const io::SafetensorsContents& f) {
  const int steps = std::stoi(f.metadata.at("steps"));
  Session session(plan);
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("init.", 0) != 0) continue;
    const std::vector<double> v = io::to_f64(t);
    if (t.dtype == "I64") {
      const std::vector<int64_t> i(v.begin(), v.end());
      session.set_variable(name.substr(5), std::span<const int64_t>(i));
    } else {
      session.set_variable(name.substr(5), std::span<const double>(v));
    }
  }
  StepsRun r;
  for (int k = 0; k < steps; ++k) {
    for (const char* in : {"x_real", "z"}) {
      const std::vector<double> v = io::to_f64(f.tensors.at(std::string(in) + "." + std::to_string(k)));
      session.set_input(in, std::span<const double>(v));
    }
    session.run();
    r.loss_d.push_back(session.value(s.loss_d).at(0));
    r.loss_g.push_back(session.value(s.loss_g).at(0));
  }
  for (const VariableInfo& v : s.graph->variables()) r.variables[v.name] = session.variable(v.name);
  return r;
}

// Every tensor the file has an answer for, ours beside the golden one and
// PyTorch f32's relative distance to it ("spread", -1 where the file has none):
// the losses of each step, every variable after the last step and, for G's and
// D's state, the update (after - init) of the whole run.
struct Compared {
  std::string name;
  std::vector<double> ours, golden;
  double spread;
};

inline std::vector<Compared> compare_golden_steps(const StepsRun& r, const io::SafetensorsContents& f) {
  auto spread = [&](const std::string& key) {
    auto it = f.tensors.find(key);
    return it == f.tensors.end() ? -1.0 : io::to_f64(it->second).at(0);
  };
  std::vector<Compared> out;
  for (size_t k = 0; k < r.loss_d.size(); ++k)
    for (const auto& [which, v] : {std::pair{"loss_d.", &r.loss_d}, {"loss_g.", &r.loss_g}}) {
      const std::string n = which + std::to_string(k);
      out.push_back({n, {(*v)[k]}, io::to_f64(f.tensors.at(n)), spread("spread." + n)});
    }
  for (const auto& [name, ours] : r.variables) {
    // Adam's step counters are not in the file: they count the steps.
    if (name == "adam.G.step" || name == "adam.D.step") {
      out.push_back({name, ours, {double(r.loss_d.size())}, -1});
      continue;
    }
    const std::string key = "after." + name;
    auto it = f.tensors.find(key);
    if (it == f.tensors.end()) throw std::runtime_error("golden file lacks " + key);
    out.push_back({key, ours, io::to_f64(it->second), spread("spread." + key)});
    if (name.rfind("adam.", 0) == 0 || it->second.dtype == "I64") continue;
    const std::vector<double> init = io::to_f64(f.tensors.at("init." + name));
    std::vector<double> du(ours.size()), dg(ours.size());
    for (size_t i = 0; i < ours.size(); ++i) du[i] = ours[i] - init[i], dg[i] = out.back().golden[i] - init[i];
    out.push_back({"update." + name, du, dg, spread("spread_update." + key)});
  }
  return out;
}

}  // namespace rg::testing_golden

namespace rg::testing_golden {

// An f32 run of the three steps against the f64 golden: every tensor within
// kSlack times PyTorch's own f32 distance to it, or below kFloor (summation
// order alone moves f32 results by a few 1e-7); counters exactly. The golden
// run is kept clear of kinks (the generator asserts it), so this holds on any
// backend, layout and CPU. Returns the worst ratio ours / PyTorch's, for the log.
inline double expect_f32_steps_close(const std::vector<Compared>& cmp, std::string* worst_name) {
  constexpr double kSlack = 10.0, kFloor = 1e-5;
  double worst = 0;
  for (const Compared& c : cmp) {
    if (c.spread < 0) {
      EXPECT_EQ(c.ours, c.golden) << c.name;
      continue;
    }
    const double e = rel_distance(c.ours, c.golden);
    EXPECT_LE(e, std::max(kSlack * c.spread, kFloor)) << c.name << ": ours " << e << ", PyTorch f32 " << c.spread;
    const double ratio = e / std::max(c.spread, 1e-12);
    if (ratio > worst) worst = ratio, *worst_name = c.name;
  }
  return worst;
}

}  // namespace rg::testing_golden
