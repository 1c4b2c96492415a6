// SPDX-License-Identifier: Apache-2.0
// PyTorch's golden training step against a backend (used by the GPU and the
// host-emulated CUDA tests).
#pragma once

#include <iostream>
#include <string>

#include "apps/model/ralsgan_step.h"
#include "rg/safetensors.h"
#include "engine/plan.h"
#include "tests/cuda/cuda_test_util.h"

namespace rg::cudatest {

using io::read_safetensors;
using io::SafetensorsContents;
using io::to_f64;

// PyTorch's golden step (tools/golden/make_step_golden.py): size 64, width
// 0.125, nz 32, batch 4. Losses within 1e-4 of PyTorch's f64 run; each gradient
// and each updated tensor within kSpreadFactor times PyTorch's own f32-vs-f64
// spread for that tensor (the spread floored at 1e-6):
// cuDNN's f32 convolutions sum in other orders than PyTorch's CPU f32 kernels,
// so an error of the same order as PyTorch's f32 error is what f32 can promise.
constexpr double kSpreadFactor = 50.0;

inline void check_golden_step(Backend& backend) {
  const std::string dir = std::string(RG_SOURCE_DIR) + "/tests/data/golden/";
  const SafetensorsContents g32 = read_safetensors(dir + "step_f32.safetensors");
  const SafetensorsContents g64 = read_safetensors(dir + "step_f64.safetensors");
  auto t64 = [&](const std::string& k) { return to_f64(g64.tensors.at(k)); };
  auto t32 = [&](const std::string& k) { return to_f64(g32.tensors.at(k)); };
  model::StepConfig cfg;
  cfg.model = {64, 0.125, 32};
  cfg.batch = 4;
  cfg.expose_gradients = true;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  auto cp = compile(s.graph, backend);
  Session cs(*cp);
  cudatest::init_variables(*s.graph, cs, 1);  // Adam state and counters: zero
  int set = 0;
  for (const VariableInfo& v : s.graph->variables()) {
    const auto it = g32.tensors.find("init." + v.name);
    if (it == g32.tensors.end()) continue;
    const std::vector<double> x = to_f64(it->second);
    if (v.desc.dtype == DType::i64) {
      std::vector<int64_t> xi(x.begin(), x.end());
      cs.set_variable(v.name, std::span<const int64_t>(xi));
    } else {
      cs.set_variable(v.name, std::span<const double>(x));
    }
    ++set;
  }
  ASSERT_GT(set, 20);
  const auto x_real = t32("x_real"), z = t32("z");
  cs.set_input("x_real", std::span<const double>(x_real));
  cs.set_input("z", std::span<const double>(z));
  cs.run();
  for (auto [v, name] : {std::pair{s.loss_d, "loss_d"}, {s.loss_g, "loss_g"}})
    EXPECT_LT(rel_err(cs.value(v), t64(name)), 1e-4) << name;
  double worst = 0;
  std::string worst_name;
  for (const auto& [key, t] : g64.tensors) {
    const bool grad = key.rfind("grad.", 0) == 0, upd = key.rfind("new.", 0) == 0;
    if (!grad && !upd) continue;
    std::vector<double> ours;
    if (grad) {
      auto it = s.grads.find(key);
      ASSERT_NE(it, s.grads.end()) << key;
      ours = cs.value(it->second);
    } else {
      const std::string var = key.substr(4);
      if (s.graph->find_variable(var) < 0 || s.graph->variables()[size_t(s.graph->find_variable(var))].desc.dtype == DType::i64) continue;
      ours = cs.variable(var);
    }
    const std::vector<double> want = to_f64(t);
    const double spread = rel_err(t32(key), want), err = rel_err(ours, want);
    const double bound = kSpreadFactor * std::max(spread, 1e-6);
    EXPECT_LE(err, bound) << key << ": ours " << err << ", PyTorch f32 " << spread;
    if (err / std::max(spread, 1e-12) > worst) worst = err / std::max(spread, 1e-12), worst_name = key;
  }
  std::cout << "golden step: worst error / PyTorch f32 spread = " << worst << " (" << worst_name << ")\n";
}

}  // namespace rg::cudatest
