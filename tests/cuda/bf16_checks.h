// SPDX-License-Identifier: Apache-2.0
// Checks of CudaPrecision::kBF16 that run on any CUDA backend: the host
// emulator (no GPU) or the real one (cuDNN's bf16 convolutions).
//
// What bf16 promises (cuda_backend.h): each convolution's operands are rounded
// to bf16 (nearest even), the products are summed in f32 and the sum is rounded
// to bf16; everything else stays f32. The reference here is independent of the
// backend's own conversion code: bf16 rounding by frexp/nearbyint in double,
// and the reference backend's f32 convolution of the rounded operands.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/plan.h"
#include "tests/common/op_cases.h"
#include "tests/cuda/cuda_test_util.h"

namespace rg::cudatest {

inline CudaOptions bf16_options() {
  CudaOptions o;
  o.precision = CudaPrecision::kBF16;
  return o;
}

// x rounded to the nearest bf16 (8 significant bits), ties to even.
inline double round_to_bf16(double x) {
  if (x == 0 || !std::isfinite(x)) return x;
  int e = 0;
  const double m = std::frexp(x, &e);                          // x = m * 2^e, 0.5 <= |m| < 1
  return std::ldexp(std::nearbyint(std::ldexp(m, 8)), e - 8);  // default rounding: to nearest even
}

// One unit in the last place of a bf16 number of x's magnitude.
inline double bf16_ulp(double x) {
  int e = 0;
  std::frexp(x == 0 ? 1e-38 : x, &e);
  return std::ldexp(1.0, e - 8);
}

// Every conv op case: the forward result must be exactly bf16(conv_f32(bf16(x),
// bf16(w))), except where the backend's f32 summation order moves a sum across
// a rounding boundary (then one bf16 ulp; at most `max_off_fraction` of the
// elements). Gradients (more convolutions of rounded operands) are held to the
// reference backend's f32 ones within `grad_tol` (norm-wise).
inline void check_bf16_convolutions(Backend& bf16, double max_off_fraction, double grad_tol) {
  int conv_cases = 0;
  for (const testing_ops::Case& c : testing_ops::cases()) {
    if (c.name.rfind("conv", 0) != 0) continue;
    ++conv_cases;
    SCOPED_TRACE(c.name);
    const testing_ops::BuiltCase b = testing_ops::build_case(c, DType::f32);
    const auto values = testing_ops::random_values(b, 7);
    std::map<std::string, std::vector<double>> rounded = values;
    for (auto& [name, v] : rounded)
      for (double& e : v) e = round_to_bf16(double(float(e)));
    auto ref = make_ref_backend();
    std::unique_ptr<Plan> bp;
    try {
      bp = compile(b.graph, bf16);
    } catch (const std::runtime_error& e) {
      // A GPU's cuDNN refuses padding that differs between sides (test_cuda_ops.cpp checks the refusal).
      if (!testing_ops::is_cudnn_padding_refusal(e)) throw;
      --conv_cases;
      continue;
    }
    auto rp = compile(b.graph, *ref), rp2 = compile(b.graph, *ref);  // one session per plan
    Session exact_of_rounded(*rp), f32_session(*rp2), bs(*bp);
    testing_ops::set_values(exact_of_rounded, rounded);
    testing_ops::set_values(f32_session, values);
    testing_ops::set_values(bs, values);  // the backend rounds by itself
    for (Session* s : {&exact_of_rounded, &f32_session, &bs}) s->run();
    const std::vector<double> y = bs.value(b.y), want = exact_of_rounded.value(b.y),
                              f32 = f32_session.value(b.y);
    ASSERT_EQ(y.size(), want.size());
    size_t off = 0, differs_from_f32 = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_EQ(y[i], round_to_bf16(y[i])) << "element " << i << " is not a bf16 number";
      const double w = round_to_bf16(double(float(want[i])));
      if (y[i] != w) {
        ++off;
        EXPECT_LE(std::abs(y[i] - w), bf16_ulp(w)) << "element " << i;
      }
      differs_from_f32 += y[i] != f32[i];
    }
    EXPECT_LE(double(off), max_off_fraction * double(y.size()))
        << off << " of " << y.size() << " off by one bf16 ulp";
    EXPECT_GT(differs_from_f32, 0u)
        << "bf16 gave the f32 result bit for bit: the bf16 path did not run";
    for (const auto& [v, d] : b.grads)
      EXPECT_LT(rel_err(bs.value(d), f32_session.value(d)), grad_tol) << b.graph->value_label(d);
  }
  EXPECT_GE(conv_cases, 6);
}

struct Bf16StepErrors {
  double loss = 0, grad = 0, weight = 0;  // worst norm-wise relative error of each kind
  std::string worst_grad;
  // The model's own sensitivity: the worst gradient error of an f32 step whose
  // weights were multiplied by 1 + u, u uniform in +-2^-9 (bf16's rounding).
  // This GAN is ill-conditioned: on the narrow test model that alone moves G's
  // gradients by ~10 %, so bf16's errors are judged against it.
  double sensitivity = 0;
};

// A narrow training step in bf16 against the reference backend's f32 step, from
// the same state and inputs. Returns the worst errors (the caller bounds them).
inline Bf16StepErrors bf16_step_errors(Backend& bf16, int size, int batch, double width) {
  model::StepConfig cfg;
  cfg.model = {size, width, 16};
  cfg.batch = batch;
  cfg.expose_gradients = true;
  const model::StepGraph s = model::build_train_step(cfg, DType::f32);
  auto ref = make_ref_backend();
  auto rp = compile(s.graph, *ref), pp = compile(s.graph, *ref), bp = compile(s.graph, bf16);
  Session rs(*rp), perturbed(*pp), bs(*bp);
  const auto x = uniform(size_t(batch * 3 * size * size), 5);
  const auto z = normal(size_t(batch * 16), 6);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1.0 / 512, 1.0 / 512);
  for (Session* p : {&rs, &perturbed, &bs}) {
    init_variables(*s.graph, *p, 11);
    if (p == &perturbed)
      for (const VariableInfo& v : s.graph->variables()) {
        if (v.desc.dtype != DType::f32 || v.name.rfind("adam.", 0) == 0) continue;
        std::vector<double> d = p->variable(v.name);
        for (double& e : d) e *= 1 + u(rng);
        p->set_variable(v.name, std::span<const double>(d));
      }
    p->set_input("x_real", std::span<const float>(x));
    p->set_input("z", std::span<const float>(z));
    p->run();
  }
  Bf16StepErrors e;
  for (ValueId v : {s.loss_d, s.loss_g})
    e.loss = std::max(e.loss, rel_err(bs.value(v), rs.value(v)));
  for (const auto& [name, v] : s.grads) {
    const double r = rel_err(bs.value(v), rs.value(v));
    if (r > e.grad) e.grad = r, e.worst_grad = name;
    e.sensitivity = std::max(e.sensitivity, rel_err(perturbed.value(v), rs.value(v)));
  }
  for (const VariableInfo& v : s.graph->variables()) {
    if (v.name.find("exp_avg") != std::string::npos) continue;  // Adam moments follow the gradients
    e.weight = std::max(e.weight, rel_err(bs.variable(v.name), rs.variable(v.name)));
  }
  std::cout << "bf16 step vs f32 reference: loss " << e.loss << ", gradients " << e.grad << " ("
            << e.worst_grad << "), updated state " << e.weight
            << "; f32 with weights perturbed by bf16 rounding: gradients " << e.sensitivity << "\n";
  return e;
}

// The narrow step's bounds: bf16 keeps 8 significant bits (relative rounding
// 2^-9 = 2e-3 per operand); gradients are held to twice what that rounding of
// the weights alone does in f32 (Bf16StepErrors::sensitivity).
inline void check_bf16_step(Backend& bf16) {
  const Bf16StepErrors e = bf16_step_errors(bf16, 32, 4, 0.125);
  EXPECT_LT(e.loss, 2e-2);
  EXPECT_LT(e.grad, 2 * e.sensitivity);
  EXPECT_LT(e.weight, 2e-2);
  EXPECT_GT(e.grad, 1e-5) << "no bf16 rounding visible: the bf16 path did not run";
}

}  // namespace rg::cudatest
