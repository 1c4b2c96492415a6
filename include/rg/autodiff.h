// SPDX-License-Identifier: Apache-2.0
// Reverse-mode autodiff: appends the backward nodes of `loss` to the same graph.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "rg/graph.h"

namespace rg {

// d loss / d v for every v in `wrt` (parameters, variable versions or any
// intermediate value). `loss` must be a scalar (numel 1). Only nodes on a path
// from some wrt value to the loss get backward nodes; stop_gradient cuts paths.
// A wrt value that does not influence the loss gets a zero gradient.
struct GradientOptions {
  // Rematerialise cheap activations instead of keeping them for the backward
  // pass: where a gradient rule reads a = relu(y) or leaky_relu(y) of a
  // training-mode BatchNorm output y, it reads a copy recomputed from the
  // BatchNorm's input, gamma, beta and batch statistics (batch_norm_inference
  // + the activation, for the next layer's weight gradient; the activation's
  // own gradient only needs y's sign and shares that copy, except for the
  // largest activations, whose sign is recomputed inside the gradient's own
  // pass so the copy dies early). Those inputs are kept for BatchNorm's own
  // backward anyway, so `a` dies after its forward readers: one
  // activation-sized buffer less per BN layer between the forward and the
  // backward pass, for one elementwise pass more (two at the largest). The
  // weight gradient of a convolution whose input is recomputed is built before
  // its input gradient (the copy is freed before the input gradient is allocated).
  // Asked for each such activation; null: none is recomputed. By default
  // every one is offered: the recomputations are recorded in the graph
  // (Graph::recomputations) and compile() keeps only those its option asks
  // for (CompileOptions::recompute; by default those that lower the plan's
  // peak memory, on backends that trade time for memory), pointing the others
  // back at the activation. Worth it for activations kept across much of the
  // graph (a generator's, read again at the end of a GAN step), not for ones
  // read back a few nodes later; the compiler sees which are which.
  std::function<bool(ValueId)> recompute_bn_activation = [](ValueId) { return true; };
};

std::map<ValueId, ValueId> gradients(Graph& g, ValueId loss, const std::vector<ValueId>& wrt,
                                     const GradientOptions& options = {});

}  // namespace rg
