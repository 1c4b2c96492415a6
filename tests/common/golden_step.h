// Runs the PyTorch golden training step (tools/golden/make_step_golden.py,
// tests/data/golden/step_*.safetensors) on any backend and measures, per
// tensor, the relative distance ||ours - theirs|| / ||theirs||.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "engine/io/safetensors.h"
#include "engine/session.h"

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
