// SPDX-License-Identifier: Apache-2.0
// The whole RaLSGAN training step of docs/contracts.md §3 as one graph: D on real and
// fake, both losses, both backward passes, BatchNorm state, both Adam updates.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apps/model/dcgan.h"
#include "apps/model/diffaugment.h"
#include "graph/graph.h"

namespace rg::model {

struct StepConfig {
  ModelConfig model;
  int batch = 64;
  double real_label = 0.8;  // the margin inside the RaLS loss (not label smoothing)
  double lr_g = 8e-4, lr_d = 8e-4;
  double beta1 = 0.5, beta2 = 0.999, adam_eps = 1e-8;
  bool expose_gradients = false;  // mark every gradient as an output (tests, inspection)
  // A moving average of G's trainable weights, "G_ema.<key>", updated after
  // G's Adam step as StyleGAN2-ADA's: ema' = ema + (beta - 1) (ema - w), beta
  // from the input "ema_beta" [1] (the schedule is the caller's, per step).
  bool ema = false;
  // DiffAugment before each of the step's three D evaluations, with inputs
  // "daug.real.*", "daug.fake.*" and "daug.fake_g.*" (diffaugment.h).
  DiffAugmentPolicy diffaugment;
  // Which BatchNorm + (Leaky)ReLU outputs the backward pass recomputes
  // instead of keeping is the compiler's choice (CompileOptions::recompute):
  // on the CPU backends G's, which live across the step's peak (the seed
  // step's arena on oneDNN: 468 MiB instead of 711).
};

struct StepGraph {
  std::shared_ptr<Graph> graph;
  ValueId x_real, z;                 // inputs "x_real" [B,3,S,S] and "z" [B,nz]
  ValueId fake, c_r, c_f, c_f2;      // C(x_r), C(x_f) before D's update, C(x_f) after it
  ValueId loss_d, loss_g;
  std::map<std::string, ValueId> grads;  // "grad.D.model.0.weight", ..., "grad.fake" (when exposed)
  std::vector<ParamSpec> g_params, d_params;
};

// Variables: "G.<key>", "D.<key>" (all state_dict entries), Adam state
// "adam.G.<key>.exp_avg", "adam.G.<key>.exp_avg_sq", and step counters
// "adam.G.step", "adam.D.step" (i64 scalars, incremented before each update),
// and with cfg.ema "G_ema.<key>" for every key of G (the moving-average
// generator as a whole network).
StepGraph build_train_step(const StepConfig& cfg, DType float_type);

// L_D or L_G of B3 for scores a (the side whose mean is subtracted with -y) and b.
ValueId rals_loss(Graph& g, ValueId c_first, ValueId c_second, double y);

}  // namespace rg::model

namespace rg::model {

// Generation: G in eval mode (BatchNorm uses running statistics), input "z"
// [batch, nz], output "images" [batch, 3, S, S] in [-1, 1].
struct GenerateGraph {
  std::shared_ptr<Graph> graph;
  ValueId z, images;
  std::vector<ParamSpec> g_params;
};
GenerateGraph build_generate_graph(const ModelConfig& cfg, int batch, DType float_type);

}  // namespace rg::model
