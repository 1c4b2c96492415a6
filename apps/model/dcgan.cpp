// SPDX-License-Identifier: Apache-2.0
#include "apps/model/dcgan.h"

#include <cmath>
#include <stdexcept>

namespace rg::model {
namespace {

// The layers of one network, as the builder and the parameter list both see them.
struct Layer {
  enum Kind { kConv, kConvT, kBatchNorm, kRelu, kLeakyRelu, kTanh } kind;
  int in = 0, out = 0, k = 0, stride = 1, pad = 0;
  bool bias = false;
};

std::vector<Layer> generator_layers(const ModelConfig& c) {
  const int nb = num_blocks(c.size);
  std::vector<Layer> L;
  int ch = hidden_channels(c.width, 32 << nb);
  L.push_back({Layer::kConvT, c.nz, ch, 4, 1, 0, false});
  L.push_back({Layer::kBatchNorm, ch, ch});
  L.push_back({Layer::kRelu});
  for (int i = nb; i >= 1; --i) {
    const int next = hidden_channels(c.width, 32 << (i - 1));
    L.push_back({Layer::kConvT, ch, next, 4, 2, 1, false});
    L.push_back({Layer::kBatchNorm, next, next});
    L.push_back({Layer::kRelu});
    ch = next;
  }
  L.push_back({Layer::kConvT, ch, 3, 3, 1, 1, true});
  L.push_back({Layer::kTanh});
  return L;
}

std::vector<Layer> discriminator_layers(const ModelConfig& c) {
  const int nb = num_blocks(c.size);
  std::vector<Layer> L;
  int ch = 3;
  for (int j = 0; j < nb; ++j) {
    const int next = hidden_channels(c.width, 32 << j);
    L.push_back({Layer::kConv, ch, next, 4, 2, 1, false});
    if (j >= 2) L.push_back({Layer::kBatchNorm, next, next});
    L.push_back({Layer::kLeakyRelu});
    ch = next;
  }
  L.push_back({Layer::kConv, ch, 1, 4, 1, 0, false});
  return L;
}

std::vector<ParamSpec> params_of(const std::vector<Layer>& layers) {
  std::vector<ParamSpec> p;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const std::string m = "model." + std::to_string(i) + ".";
    if (l.kind == Layer::kConv) p.push_back({m + "weight", {l.out, l.in, l.k, l.k}, DType::f32, true});
    if (l.kind == Layer::kConvT) p.push_back({m + "weight", {l.in, l.out, l.k, l.k}, DType::f32, true});
    if ((l.kind == Layer::kConv || l.kind == Layer::kConvT) && l.bias) p.push_back({m + "bias", {l.out}, DType::f32, true});
    if (l.kind == Layer::kBatchNorm) {
      p.push_back({m + "weight", {l.out}, DType::f32, true});
      p.push_back({m + "bias", {l.out}, DType::f32, true});
      p.push_back({m + "running_mean", {l.out}, DType::f32, false});
      p.push_back({m + "running_var", {l.out}, DType::f32, false});
      p.push_back({m + "num_batches_tracked", {}, DType::i64, false});
    }
  }
  return p;
}

ValueId var(Graph& g, const std::string& name, const Shape& shape, DType t) {
  const int v = g.find_variable(name);
  if (v >= 0) return g.current(v);
  return g.variable(name, shape, t == DType::i64 ? std::optional<DType>(DType::i64) : std::nullopt);
}

ValueId apply(Graph& g, const std::vector<Layer>& layers, ValueId x, bool training, const std::string& prefix) {
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const std::string m = prefix + "model." + std::to_string(i) + ".";
    switch (l.kind) {
      case Layer::kConv:
        x = g.conv2d(x, var(g, m + "weight", {l.out, l.in, l.k, l.k}, DType::f32), l.stride, l.pad);
        break;
      case Layer::kConvT:
        x = g.conv_transpose2d(x, var(g, m + "weight", {l.in, l.out, l.k, l.k}, DType::f32), l.stride, l.pad);
        if (l.bias) x = g.add(x, g.reshape(var(g, m + "bias", {l.out}, DType::f32), {1, l.out, 1, 1}));
        break;
      case Layer::kBatchNorm: {
        const ValueId gamma = var(g, m + "weight", {l.out}, DType::f32);
        const ValueId beta = var(g, m + "bias", {l.out}, DType::f32);
        const ValueId rm = var(g, m + "running_mean", {l.out}, DType::f32);
        const ValueId rv = var(g, m + "running_var", {l.out}, DType::f32);
        const ValueId nbt = var(g, m + "num_batches_tracked", {}, DType::i64);
        x = g.batch_norm(x, gamma, beta, rm, rv, nbt, training);
        break;
      }
      case Layer::kRelu: x = g.relu(x); break;
      case Layer::kLeakyRelu: x = g.leaky_relu(x, 0.2); break;
      case Layer::kTanh: x = g.tanh(x); break;
    }
  }
  return x;
}

}  // namespace

int hidden_channels(double width, int c) { return std::max(1, static_cast<int>(std::lround(c * width))); }

int num_blocks(int size) {
  switch (size) {
    case 32: return 3;
    case 64: return 4;
    case 128: return 5;
    case 256: return 6;
    default: throw std::invalid_argument("unsupported image size " + std::to_string(size) + " (use 32, 64, 128 or 256)");
  }
}

std::vector<ParamSpec> generator_params(const ModelConfig& cfg) { return params_of(generator_layers(cfg)); }
std::vector<ParamSpec> discriminator_params(const ModelConfig& cfg) { return params_of(discriminator_layers(cfg)); }

int64_t count_parameters(const std::vector<ParamSpec>& specs) {
  int64_t n = 0;
  for (const ParamSpec& s : specs)
    if (s.trainable) n += numel(s.shape);
  return n;
}

ValueId build_generator(Graph& g, const ModelConfig& cfg, ValueId z, bool training, const std::string& prefix) {
  const Shape& zs = g.shape(z);
  if (zs.size() != 2 || zs[1] != cfg.nz)
    throw GraphError("generator: latents must be [N, " + std::to_string(cfg.nz) + "], got " + shape_str(zs));
  return apply(g, generator_layers(cfg), g.reshape(z, {zs[0], cfg.nz, 1, 1}), training, prefix);
}

ValueId build_discriminator(Graph& g, const ModelConfig& cfg, ValueId x, bool training, const std::string& prefix) {
  const Shape& xs = g.shape(x);
  if (xs.size() != 4 || xs[1] != 3 || xs[2] != cfg.size || xs[3] != cfg.size)
    throw GraphError("discriminator: images must be [N, 3, " + std::to_string(cfg.size) + ", " +
                     std::to_string(cfg.size) + "], got " + shape_str(xs));
  const ValueId y = apply(g, discriminator_layers(cfg), x, training, prefix);
  return g.reshape(y, {xs[0]});
}

}  // namespace rg::model
