// SPDX-License-Identifier: Apache-2.0
// Helpers for the CUDA tests: the GPU skip, relative errors, deterministic init.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "graph/graph.h"

// The only allowed skip: no GPU on this machine.
#define RG_REQUIRE_GPU()                                                                     \
  do {                                                                                       \
    if (::rg::cuda_device_count() == 0)                                                      \
      GTEST_SKIP() << "no CUDA GPU: cudaGetDeviceCount failed or returned 0";                \
  } while (0)

namespace rg::cudatest {

// ||a - b|| / ||b|| (absolute when b is zero).
inline double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Deterministic initial state for every variable of a model graph: conv weights
// uniform in +-1/sqrt(fan_in) (PyTorch's default bound), BN gamma near 1, biases
// and beta small, running_var 1, counters and Adam state 0.
inline void init_variables(const Graph& g, Session& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const VariableInfo& v : g.variables()) {
    const size_t n = size_t(v.desc.numel());
    if (v.desc.dtype == DType::i64) {
      std::vector<int64_t> z(n, 0);
      s.set_variable(v.name, std::span<const int64_t>(z));
      continue;
    }
    std::vector<double> x(n, 0.0);
    const bool adam = v.name.rfind("adam.", 0) == 0;
    if (!adam) {
      if (v.name.find("running_var") != std::string::npos) {
        for (double& e : x) e = 1.0 + 0.2 * std::abs(u(rng));
      } else if (v.name.find("running_mean") != std::string::npos) {
        for (double& e : x) e = 0.1 * u(rng);
      } else if (v.desc.rank() == 4) {
        const double bound = 1.0 / std::sqrt(double(v.desc.shape[1] * v.desc.shape[2] * v.desc.shape[3]));
        for (double& e : x) e = bound * u(rng);
      } else if (v.name.size() > 7 && v.name.substr(v.name.size() - 7) == ".weight") {
        for (double& e : x) e = 1.0 + 0.1 * u(rng);
      } else {
        for (double& e : x) e = 0.1 * u(rng);
      }
    }
    s.set_variable(v.name, std::span<const double>(x));
  }
}

inline std::vector<float> uniform(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

inline std::vector<float> normal(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& e : v) e = d(rng);
  return v;
}

}  // namespace rg::cudatest
