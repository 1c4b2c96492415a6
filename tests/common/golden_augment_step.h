// SPDX-License-Identifier: Apache-2.0
// Runs the golden step with DiffAugment and the moving-average generator
// (tools/golden/make_step_aug_golden.py, tests/data/golden/step_aug_f64.safetensors)
// on any backend: the file's initial state (G_ema = G), inputs and draws.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/common/golden_step.h"

namespace rg::testing_golden {

inline const io::SafetensorsContents& augmented_golden() {
  static const io::SafetensorsContents f =
      io::read_safetensors(golden_path("step_aug_f64.safetensors"));
  return f;
}

inline model::StepConfig augmented_config() {
  model::StepConfig cfg = testing_golden::golden_config(augmented_golden());
  cfg.ema = true;
  cfg.diffaugment = model::parse_diffaugment(augmented_golden().metadata.at("diffaugment"));
  cfg.expose_gradients = false;
  return cfg;
}

// One step from the file's initial state (G_ema = G), with the file's draws.
inline std::map<std::string, std::vector<double>> run_augmented_step(Backend& be, DType type) {
  const io::SafetensorsContents& f = augmented_golden();
  const model::StepConfig cfg = augmented_config();
  const model::StepGraph s = model::build_train_step(cfg, type);
  auto plan = compile(s.graph, be);
  Session session(*plan);
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("init.", 0) != 0) continue;
    const std::vector<double> v = io::to_f64(t);
    for (const std::string& var :
         {name.substr(5), name.rfind("init.G.", 0) == 0 ? "G_ema." + name.substr(7) : ""}) {
      if (var.empty()) continue;
      if (t.dtype == "I64") {
        const std::vector<int64_t> i(v.begin(), v.end());
        session.set_variable(var, std::span<const int64_t>(i));
      } else {
        session.set_variable(var, std::span<const double>(v));
      }
    }
  }
  for (const char* in : {"x_real", "z"}) {
    const std::vector<double> v = io::to_f64(f.tensors.at(in));
    session.set_input(in, std::span<const double>(v));
  }
  const double beta = std::stod(f.metadata.at("ema_beta"));
  session.set_input("ema_beta", std::span<const double>(&beta, 1));
  const uint64_t seed = std::stoull(f.metadata.at("draw_seed")),
                 step = std::stoull(f.metadata.at("step"));
  int k = 0;
  for (const char* which : {"daug.real", "daug.fake", "daug.fake_g"}) {
    const auto names = model::diffaugment_inputs(cfg.diffaugment, which);
    const auto values =
        model::diffaugment_values(cfg.diffaugment, cfg.batch, cfg.model.size, seed, 3 * step + k++);
    for (size_t i = 0; i < names.size(); ++i) {
      const std::vector<double> d(values[i].begin(), values[i].end());
      session.set_input(names[i], std::span<const double>(d));
    }
  }
  session.run();
  std::map<std::string, std::vector<double>> out;
  for (auto [v, name] : {std::pair{s.loss_d, "loss_d"},
                         {s.loss_g, "loss_g"},
                         {s.c_r, "C_r"},
                         {s.c_f, "C_f"},
                         {s.c_f2, "C_f2"}})
    out[name] = session.value(v);
  for (const auto& [name, t] : f.tensors)
    if (name.rfind("new.", 0) == 0) out[name] = session.variable(name.substr(4));
  return out;
}

// A backend's f32 step: the forward values against PyTorch's, G_ema after the
// step against the reference backend's (`ref`).
inline void expect_augmented_step_matches(Backend& be, Backend& ref) {
  const auto ours = run_augmented_step(be, DType::f32);
  const auto theirs = run_augmented_step(ref, DType::f32);
  for (const char* name : {"C_r", "C_f", "loss_d"})
    EXPECT_LT(rel_distance(ours.at(name), io::to_f64(augmented_golden().tensors.at(name))), 1e-4) << name;
  for (const auto& [name, v] : theirs) {
    if (name.rfind("new.G_ema.", 0) == 0) {
      EXPECT_LT(rel_distance(ours.at(name), v), 1e-3) << name;
    }
  }
}

}  // namespace rg::testing_golden
