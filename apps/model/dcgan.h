// SPDX-License-Identifier: Apache-2.0
// The seed's DCGAN generator and discriminator (docs/contracts.md §2) as graph builders.
// Variables are named "<prefix><PyTorch state_dict key>", e.g. "G.model.0.weight",
// so checkpoints map one to one onto PyTorch's nn.Sequential.
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"

namespace rg::model {

struct ModelConfig {
  int size = 128;       // image side: 32, 64, 128 or 256
  double width = 1.0;   // multiplier of every hidden channel count
  int nz = 128;         // latent size
};

struct ParamSpec {
  std::string key;  // state_dict key without prefix, e.g. "model.1.running_mean"
  Shape shape;
  DType dtype = DType::f32;  // i64 for num_batches_tracked; float entries take the graph's type
  bool trainable = false;    // weights, biases, BN gamma/beta (what Adam updates)
};

int hidden_channels(double width, int c);  // max(1, round(c * width))
int num_blocks(int size);                   // log2(size / 4); throws for unsupported sizes
std::vector<ParamSpec> generator_params(const ModelConfig& cfg);
std::vector<ParamSpec> discriminator_params(const ModelConfig& cfg);
int64_t count_parameters(const std::vector<ParamSpec>& specs);  // trainable elements

// Forward passes. Variables are created on first use; later calls read each
// variable's newest version, so applying D after its Adam update sees the new weights.
// Training mode uses batch statistics and updates running statistics (state writes).
ValueId build_generator(Graph& g, const ModelConfig& cfg, ValueId z, bool training, const std::string& prefix = "G.");
ValueId build_discriminator(Graph& g, const ModelConfig& cfg, ValueId x, bool training,
                            const std::string& prefix = "D.");

}  // namespace rg::model
