// SPDX-License-Identifier: Apache-2.0
// The Fashion-MNIST classifier (the engine's second model, docs/classifier.md):
// conv 3x3 -> ReLU -> max-pool 2 -> conv 3x3 -> ReLU -> max-pool 2 -> linear,
// trained with log-softmax cross-entropy and Adam, as graphs of the engine.
// Public API only (<rg/...>): the in-tree golden-step tests compile this file
// too. Graph-only: no backend, no data (classifier_train.h runs it).
#pragma once

#include <rg/graph.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rg::classifier {

inline constexpr int kImageSize = 28;  // Fashion-MNIST: 28x28 gray
inline constexpr int kClasses = 10;

struct ClassifierConfig {
  int batch = 64;
  int conv1_channels = 8, conv2_channels = 16;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;  // torch.optim.Adam's defaults
};

struct ParamSpec {
  std::string name;  // as PyTorch's state_dict of the same nn.Module: "conv1.weight", ...
  Shape shape;
  int64_t fan_in;  // PyTorch's default init draws U(-1/sqrt(fan_in), 1/sqrt(fan_in))
};
std::vector<ParamSpec> classifier_parameters(const ClassifierConfig& cfg);

struct ClassifierGraph {
  std::shared_ptr<Graph> graph;
  ValueId images = kNoValue;     // input "images" [batch, 1, 28, 28]
  ValueId labels = kNoValue;     // input "labels" [batch, 10], one-hot (training graph only)
  ValueId log_probs = kNoValue;  // [batch, 10]
  ValueId loss = kNoValue;       // mean cross-entropy before the update (training graph only)
  std::map<std::string, ValueId> grads;  // parameter name -> gradient (expose_gradients)
};

// One training step: forward, loss, gradients and one Adam update of every
// parameter (variables "<name>", "adam.<name>.exp_avg", "adam.<name>.exp_avg_sq"
// and the i64 counter "adam.step").
ClassifierGraph build_classifier_step(const ClassifierConfig& cfg, DType t,
                                      bool expose_gradients = false);
// Forward only, for evaluation: log-probabilities of `batch` images.
ClassifierGraph build_classifier_eval(const ClassifierConfig& cfg, int batch, DType t);

}  // namespace rg::classifier
