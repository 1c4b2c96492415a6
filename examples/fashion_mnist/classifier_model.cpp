// SPDX-License-Identifier: Apache-2.0
#include "classifier_model.h"

#include <rg/autodiff.h>

namespace rg::classifier {
namespace {

// Spatial size after the two 2x2 poolings (28 -> 14 -> 7).
constexpr int64_t kPooled = kImageSize / 4;

int64_t flat_features(const ClassifierConfig& cfg) {
  return cfg.conv2_channels * kPooled * kPooled;
}

// conv 3x3 (padding 1) + per-channel bias, ReLU, 2x2 max pooling.
ValueId conv_block(Graph& g, ValueId x, const std::string& name) {
  const ValueId w = g.current(g.find_variable(name + ".weight"));
  const ValueId b = g.current(g.find_variable(name + ".bias"));
  const int64_t c = g.shape(w)[0];
  const ValueId y = g.add(g.conv2d(x, w, 1, 1), g.reshape(b, {c, 1, 1}));
  return g.max_pool2d(g.relu(y), {2, 2}, {2, 2});
}

// The model on `images`: log-probabilities [N, 10].
ValueId forward(Graph& g, const ClassifierConfig& cfg, ValueId images) {
  for (const ParamSpec& p : classifier_parameters(cfg)) g.variable(p.name, p.shape);
  const ValueId h = conv_block(g, conv_block(g, images, "conv1"), "conv2");
  const int64_t n = g.shape(images)[0];
  const ValueId flat = g.reshape(h, {n, flat_features(cfg)});
  // nn.Linear: x @ W^T + b with W [out, in].
  const ValueId logits = g.add(g.matmul(flat, g.current(g.find_variable("fc.weight")), false, true),
                               g.current(g.find_variable("fc.bias")));
  return g.log_softmax(logits);
}

}  // namespace

std::vector<ParamSpec> classifier_parameters(const ClassifierConfig& cfg) {
  const int64_t c1 = cfg.conv1_channels, c2 = cfg.conv2_channels, f = flat_features(cfg);
  return {
      {"conv1.weight", {c1, 1, 3, 3}, 9},       {"conv1.bias", {c1}, 9},
      {"conv2.weight", {c2, c1, 3, 3}, c1 * 9}, {"conv2.bias", {c2}, c1 * 9},
      {"fc.weight", {kClasses, f}, f},          {"fc.bias", {kClasses}, f},
  };
}

ClassifierGraph build_classifier_step(const ClassifierConfig& cfg, DType t, bool expose_gradients) {
  ClassifierGraph r;
  r.graph = std::make_shared<Graph>(t);
  Graph& g = *r.graph;
  r.images = g.input("images", {cfg.batch, 1, kImageSize, kImageSize});
  r.labels = g.input("labels", {cfg.batch, kClasses});
  r.log_probs = forward(g, cfg, r.images);
  // Cross-entropy with one-hot labels, averaged over the batch (F.nll_loss of
  // log_softmax): -sum(labels * log_probs) / N = -mean(labels * log_probs) * classes.
  r.loss = g.mul_scalar(g.mean(g.mul(r.log_probs, r.labels)), -double(kClasses));
  g.mark_output(r.loss, "loss");
  g.mark_output(r.log_probs, "log_probs");
  std::vector<ValueId> params;
  for (const ParamSpec& p : classifier_parameters(cfg))
    params.push_back(g.current(g.find_variable(p.name)));
  const auto grads = gradients(g, r.loss, params);
  const ValueId step = g.increment(g.variable("adam.step", {}, DType::i64));
  const std::vector<ParamSpec> specs = classifier_parameters(cfg);
  for (size_t i = 0; i < specs.size(); ++i) {
    const ValueId d = grads.at(params[i]);
    if (expose_gradients) {
      g.mark_output(d, "grad." + specs[i].name);
      r.grads[specs[i].name] = d;
    }
    g.adam_update(params[i], d, g.variable("adam." + specs[i].name + ".exp_avg", specs[i].shape),
                  g.variable("adam." + specs[i].name + ".exp_avg_sq", specs[i].shape), step,
                  {cfg.lr, cfg.beta1, cfg.beta2, cfg.adam_eps});
  }
  return r;
}

ClassifierGraph build_classifier_eval(const ClassifierConfig& cfg, int batch, DType t) {
  ClassifierGraph r;
  r.graph = std::make_shared<Graph>(t);
  r.images = r.graph->input("images", {batch, 1, kImageSize, kImageSize});
  r.log_probs = forward(*r.graph, cfg, r.images);
  r.graph->mark_output(r.log_probs, "log_probs");
  return r;
}

}  // namespace rg::classifier
