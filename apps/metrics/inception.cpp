// SPDX-License-Identifier: Apache-2.0
#include "apps/metrics/inception.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "rg/safetensors.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::metrics {
namespace {

int64_t ch(int64_t c, double width) { return std::max<int64_t>(1, int64_t(double(c) * width + 0.5)); }

class Builder {
 public:
  Builder(Graph& g, double width, std::vector<std::string>& names) : g_(g), w_(width), names_(names) {}

  double width() const { return w_; }
  int64_t c(int64_t base) const { return ch(base, w_); }

  // BasicConv2d: conv (no bias) -> BatchNorm(eps 1e-3, inference) -> ReLU.
  ValueId conv(const std::string& name, ValueId x, int64_t cout, std::array<int, 2> k,
               std::array<int, 2> stride = {1, 1}, std::array<int, 2> pad = {0, 0}) {
    const int64_t cin = g_.shape(x)[1];
    const ValueId w = var(name + ".conv.weight", {cout, cin, k[0], k[1]});
    const ValueId gamma = var(name + ".bn.weight", {cout});
    const ValueId beta = var(name + ".bn.bias", {cout});
    const ValueId mean = var(name + ".bn.running_mean", {cout});
    const ValueId varv = var(name + ".bn.running_var", {cout});
    const ValueId y = g_.conv2d(x, w, stride, pad);
    return g_.relu(g_.batch_norm_inference(y, gamma, beta, mean, varv, 1e-3));
  }
  ValueId conv(const std::string& name, ValueId x, int64_t cout, int k, int stride = 1, int pad = 0) {
    return conv(name, x, cout, {k, k}, {stride, stride}, {pad, pad});
  }

  ValueId avg3(ValueId x) { return g_.avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, /*count_include_pad=*/false); }
  ValueId max3s2(ValueId x) { return g_.max_pool2d(x, {3, 3}, {2, 2}); }

  ValueId inception_a(const std::string& n, ValueId x, int64_t pool_features) {
    const ValueId b1 = conv(n + ".branch1x1", x, c(64), 1);
    ValueId b5 = conv(n + ".branch5x5_1", x, c(48), 1);
    b5 = conv(n + ".branch5x5_2", b5, c(64), 5, 1, 2);
    ValueId b3 = conv(n + ".branch3x3dbl_1", x, c(64), 1);
    b3 = conv(n + ".branch3x3dbl_2", b3, c(96), 3, 1, 1);
    b3 = conv(n + ".branch3x3dbl_3", b3, c(96), 3, 1, 1);
    const ValueId bp = conv(n + ".branch_pool", avg3(x), c(pool_features), 1);
    return g_.concat({b1, b5, b3, bp}, 1);
  }

  ValueId inception_b(const std::string& n, ValueId x) {
    const ValueId b3 = conv(n + ".branch3x3", x, c(384), 3, 2);
    ValueId bd = conv(n + ".branch3x3dbl_1", x, c(64), 1);
    bd = conv(n + ".branch3x3dbl_2", bd, c(96), 3, 1, 1);
    bd = conv(n + ".branch3x3dbl_3", bd, c(96), 3, 2);
    return g_.concat({b3, bd, max3s2(x)}, 1);
  }

  ValueId inception_c(const std::string& n, ValueId x, int64_t c7base) {
    const int64_t c7 = c(c7base);
    const ValueId b1 = conv(n + ".branch1x1", x, c(192), 1);
    ValueId b7 = conv(n + ".branch7x7_1", x, c7, 1);
    b7 = conv(n + ".branch7x7_2", b7, c7, {1, 7}, {1, 1}, {0, 3});
    b7 = conv(n + ".branch7x7_3", b7, c(192), {7, 1}, {1, 1}, {3, 0});
    ValueId bd = conv(n + ".branch7x7dbl_1", x, c7, 1);
    bd = conv(n + ".branch7x7dbl_2", bd, c7, {7, 1}, {1, 1}, {3, 0});
    bd = conv(n + ".branch7x7dbl_3", bd, c7, {1, 7}, {1, 1}, {0, 3});
    bd = conv(n + ".branch7x7dbl_4", bd, c7, {7, 1}, {1, 1}, {3, 0});
    bd = conv(n + ".branch7x7dbl_5", bd, c(192), {1, 7}, {1, 1}, {0, 3});
    const ValueId bp = conv(n + ".branch_pool", avg3(x), c(192), 1);
    return g_.concat({b1, b7, bd, bp}, 1);
  }

  ValueId inception_d(const std::string& n, ValueId x) {
    ValueId b3 = conv(n + ".branch3x3_1", x, c(192), 1);
    b3 = conv(n + ".branch3x3_2", b3, c(320), 3, 2);
    ValueId b7 = conv(n + ".branch7x7x3_1", x, c(192), 1);
    b7 = conv(n + ".branch7x7x3_2", b7, c(192), {1, 7}, {1, 1}, {0, 3});
    b7 = conv(n + ".branch7x7x3_3", b7, c(192), {7, 1}, {1, 1}, {3, 0});
    b7 = conv(n + ".branch7x7x3_4", b7, c(192), 3, 2);
    return g_.concat({b3, b7, max3s2(x)}, 1);
  }

  // max_pool = false: FIDInceptionE_1 (average pool without padding); true: FIDInceptionE_2.
  ValueId inception_e(const std::string& n, ValueId x, bool max_pool) {
    const ValueId b1 = conv(n + ".branch1x1", x, c(320), 1);
    const ValueId b3 = conv(n + ".branch3x3_1", x, c(384), 1);
    const ValueId b3a = conv(n + ".branch3x3_2a", b3, c(384), {1, 3}, {1, 1}, {0, 1});
    const ValueId b3b = conv(n + ".branch3x3_2b", b3, c(384), {3, 1}, {1, 1}, {1, 0});
    ValueId bd = conv(n + ".branch3x3dbl_1", x, c(448), 1);
    bd = conv(n + ".branch3x3dbl_2", bd, c(384), 3, 1, 1);
    const ValueId bda = conv(n + ".branch3x3dbl_3a", bd, c(384), {1, 3}, {1, 1}, {0, 1});
    const ValueId bdb = conv(n + ".branch3x3dbl_3b", bd, c(384), {3, 1}, {1, 1}, {1, 0});
    const ValueId pooled = max_pool ? g_.max_pool2d(x, {3, 3}, {1, 1}, {1, 1}) : avg3(x);
    const ValueId bp = conv(n + ".branch_pool", pooled, c(192), 1);
    return g_.concat({b1, g_.concat({b3a, b3b}, 1), g_.concat({bda, bdb}, 1), bp}, 1);
  }

 private:
  ValueId var(const std::string& name, Shape s) {
    names_.push_back(name);
    return g_.variable(name, std::move(s));
  }
  Graph& g_;
  double w_;
  std::vector<std::string>& names_;
};

}  // namespace

InceptionGraph build_inception(Graph& g, int64_t batch, int64_t image_size, double width) {
  if (!(width > 0) || width > 4) throw std::invalid_argument("inception: width must be in (0, 4]");
  if (batch < 1 || image_size < 1) throw std::invalid_argument("inception: batch and image size must be positive");
  InceptionGraph r;
  Builder b(g, width, r.variables);
  r.images = g.input("images", {batch, 3, image_size, image_size});
  ValueId x = g.resize_bilinear(r.images, 299, 299);
  x = g.add_scalar(g.mul_scalar(x, 2.0), -1.0);
  x = b.conv("Conv2d_1a_3x3", x, b.c(32), 3, 2);
  x = b.conv("Conv2d_2a_3x3", x, b.c(32), 3);
  x = b.conv("Conv2d_2b_3x3", x, b.c(64), 3, 1, 1);
  x = b.max3s2(x);
  x = b.conv("Conv2d_3b_1x1", x, b.c(80), 1);
  x = b.conv("Conv2d_4a_3x3", x, b.c(192), 3);
  x = b.max3s2(x);
  x = b.inception_a("Mixed_5b", x, 32);
  x = b.inception_a("Mixed_5c", x, 64);
  x = b.inception_a("Mixed_5d", x, 64);
  x = b.inception_b("Mixed_6a", x);
  x = b.inception_c("Mixed_6b", x, 128);
  x = b.inception_c("Mixed_6c", x, 160);
  x = b.inception_c("Mixed_6d", x, 160);
  x = b.inception_c("Mixed_6e", x, 192);
  x = b.inception_d("Mixed_7a", x);
  x = b.inception_e("Mixed_7b", x, false);
  x = b.inception_e("Mixed_7c", x, true);
  r.features = g.mean(x, {2, 3});  // adaptive average pool to 1 x 1, flattened
  r.feature_dim = g.shape(r.features)[1];
  g.mark_output(r.features, "features");
  return r;
}

struct InceptionExtractor::Compiled {
  int size = 0;
  InceptionGraph net;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Plan> plan;
  std::unique_ptr<Session> session;
};

InceptionExtractor::InceptionExtractor(InceptionOptions opts) : opts_(std::move(opts)) {
  if (opts_.weights.empty())
    throw std::runtime_error("inception: no weights file given (--inception FILE, see docs/metrics.md)");
  if (opts_.batch < 1) throw std::invalid_argument("inception: batch must be >= 1");
  // Names and shapes come from a throwaway graph of the same width.
  Graph probe(opts_.dtype);
  const InceptionGraph net = build_inception(probe, 1, 299, opts_.width);
  feature_dim_ = net.feature_dim;
  const io::SafetensorsContents file = io::read_safetensors(opts_.weights);
  for (const std::string& name : net.variables) {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      throw std::runtime_error(opts_.weights + ": no tensor '" + name +
                               "' (not an Inception weights file of width " + std::to_string(opts_.width) + "?)");
    const Shape& want = probe.variables()[size_t(probe.find_variable(name))].desc.shape;
    if (it->second.shape != want)
      throw std::runtime_error(opts_.weights + ": tensor '" + name + "' has shape " + shape_str(it->second.shape) +
                               ", expected " + shape_str(want));
    const std::vector<double> v = io::to_f64(it->second);
    weights_.emplace_back(name, std::vector<float>(v.begin(), v.end()));
  }
}

InceptionExtractor::~InceptionExtractor() = default;

InceptionExtractor::Compiled& InceptionExtractor::compiled_for(int size) {
  if (compiled_ && compiled_->size == size) return *compiled_;
  compiled_.reset();
  auto c = std::make_unique<Compiled>();
  c->size = size;
  auto g = std::make_shared<Graph>(opts_.dtype);
  c->net = build_inception(*g, opts_.batch, size, opts_.width);
  c->backend = opts_.make_backend ? opts_.make_backend() : make_ref_backend();
  c->plan = compile(g, *c->backend);
  c->session = std::make_unique<Session>(*c->plan);
  for (const auto& [name, v] : weights_) c->session->set_variable(name, std::span<const float>(v));
  compiled_ = std::move(c);
  return *compiled_;
}

Eigen::MatrixXd InceptionExtractor::features(const std::vector<const uint8_t*>& images, int size,
                                             const std::function<void(size_t, size_t)>& progress) {
  if (size < 1) throw std::invalid_argument("inception: image size must be positive");
  Eigen::MatrixXd out(Eigen::Index(images.size()), feature_dim_);
  if (images.empty()) return out;
  Compiled& c = compiled_for(size);
  const size_t B = size_t(opts_.batch), plane = size_t(size) * size_t(size);
  std::vector<float> batch_f32;
  std::vector<double> batch_f64;
  const bool f64 = opts_.dtype == DType::f64;
  (f64 ? batch_f64.resize(B * 3 * plane) : batch_f32.resize(B * 3 * plane));
  for (size_t start = 0; start < images.size(); start += B) {
    const size_t n = std::min(B, images.size() - start);
    for (size_t i = 0; i < B; ++i)
      for (size_t ch = 0; ch < 3; ++ch)
        for (size_t p = 0; p < plane; ++p) {
          const size_t at = (i * 3 + ch) * plane + p;
          // uint8 / 255 as torchvision's ToTensor (a division, in the working precision).
          const uint8_t u = i < n ? images[start + i][p * 3 + ch] : 0;
          if (f64) batch_f64[at] = double(u) / 255.0;
          else batch_f32[at] = float(u) / 255.0f;
        }
    if (f64) c.session->set_input("images", std::span<const double>(batch_f64));
    else c.session->set_input("images", std::span<const float>(batch_f32));
    c.session->run();
    const std::vector<double> f = c.session->value(c.net.features);
    for (size_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < feature_dim_; ++k) out(Eigen::Index(start + i), k) = f[i * size_t(feature_dim_) + size_t(k)];
    if (progress) progress(start + n, images.size());
  }
  return out;
}

}  // namespace rg::metrics
