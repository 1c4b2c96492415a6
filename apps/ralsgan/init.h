// SPDX-License-Identifier: Apache-2.0
// Initial weights. The distributions are PyTorch's defaults, as in the seed:
// conv and transposed-conv weights and biases U(-b, b) with b = 1/sqrt(fan_in),
// fan_in = weight.size(1) * kh * kw (PyTorch's rule, also for ConvTranspose2d);
// BatchNorm weight 1, bias 0, running mean 0, running var 1, counters 0.
// The random numbers come from Philox stream 4 (after B4's streams 0-3),
// index = the tensor's position in the state_dict, so they depend only on the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/model/dcgan.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::app {

void initialize_network(Session& s, const std::vector<model::ParamSpec>& specs, const std::string& prefix,
                        uint64_t seed, uint32_t network_id);

}  // namespace rg::app
