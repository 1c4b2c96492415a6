#include "backends/ref/ref_backend.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <stdexcept>

#include "backends/ref/conv_ref.h"
#include "backends/ref/elementwise_ref.h"
#include "engine/conv_geometry.h"
#include "engine/host_memory.h"
#include "engine/strided_walk.h"
#include "graph/state_update_rules.h"

namespace rg {
namespace {

// Strided walk for reductions and broadcasts: index into a tensor of shape
// `small` (broadcast-aligned to `big`) for every linear index of `big`.
struct BroadcastIndex {
  StridedWalk walk;
  BroadcastIndex() = default;
  BroadcastIndex(const Shape& big, const Shape& small) : walk(big, broadcast_strides(big, small)) {}
  template <typename F>
  void for_each(F&& f) const {  // f(big linear index, small index)
    walk.run(0, numel(walk.dims), f);
  }
};

template <typename T>
class RefGroupKernel final : public Kernel {
 public:
  RefGroupKernel(const Graph& g, const FusionGroup& grp) : g_(g), grp_(grp) {
    // Internal outputs of the anchor: in a chain output or in scratch
    // (internal_homes; the program reads an element's inputs before storing
    // it), followed by the im2col columns.
    for (const InternalHome& h : internal_homes(g, grp)) {
      if (h.chain_output != kNoValue) in_output_.push_back({h.value, h.chain_output});
      else scratch_values_.push_back({h.value, scratch_.take(g.desc(h.value).bytes())});
    }
    for (NodeId id : grp.nodes)
      if (is_convolution(g.node(id).op)) {
        const ConvGeometry cg = conv_geometry(g, g.node(id));
        geometry_[id] = cg;
        col_bytes_ = std::max(col_bytes_, size_t(cg.col_rows() * cg.col_cols()) * sizeof(T));
      }
    if (col_bytes_) col_offset_ = scratch_.take(col_bytes_);
    for (NodeId id : grp.nodes) {  // index maps and accumulators, made once
      const Node& n = g.node(id);
      if (n.op == OpKind::kMean || n.op == OpKind::kSumTo) {
        const Shape xs = g.shape(n.inputs[0]);
        index_[id] = BroadcastIndex(xs, reduced_keepdims_shape(n, xs));
        acc_.resize(std::max(acc_.size(), size_t(g.desc(n.outputs[0]).numel())));
      } else if (n.op == OpKind::kBroadcastTo) {
        index_[id] = BroadcastIndex(g.shape(n.outputs[0]), g.shape(n.inputs[0]));
      } else if (n.op == OpKind::kResizeBilinear) {
        const Shape &xs = g.shape(n.inputs[0]), &ys = g.shape(n.outputs[0]);
        taps_[id] = {bilinear_taps(xs[2], ys[2]), bilinear_taps(xs[3], ys[3])};
      }
    }
    std::vector<NodeId> chain;
    for (NodeId id : grp.nodes)
      if (is_elementwise(g.node(id).op)) chain.push_back(id);
    if (!chain.empty()) program_ = std::make_unique<ref::ElementwiseProgram<T>>(g, grp, chain);
  }

  size_t scratch_bytes() const override { return scratch_.bytes(); }

  std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const override {
    // BatchNorm backward alone: per channel, the sums over dy come first, then
    // each dx element is written after its dy element is read.
    const Node& first = g_.node(grp_.nodes[0]);
    if (grp_.nodes.size() == 1 && first.op == OpKind::kBatchNormBackward) return {{first.outputs[0], first.inputs[0]}};
    if (grp_.has_anchor || !program_) return {};
    return program_->inplace_candidates();
  }

  std::unique_ptr<Kernel> clone() const override { return std::make_unique<RefGroupKernel>(g_, grp_); }
  void bind(const KernelBinding& b) override {
    ptr_ = b.values;
    for (auto [v, off] : scratch_values_) ptr_[size_t(v)] = static_cast<char*>(b.scratch) + off;
    for (auto [v, host] : in_output_) ptr_[size_t(v)] = ptr_[size_t(host)];
    col_ = reinterpret_cast<T*>(static_cast<char*>(b.scratch) + col_offset_);
    if (program_) program_->bind(ptr_);
  }

  void run() override {
    for (NodeId id : grp_.nodes) {
      const Node& n = g_.node(id);
      if (!is_elementwise(n.op)) run_node(id, n);
    }
    if (program_) program_->run();
  }

  std::string describe() const override {
    std::string s = std::string("ref/") + (sizeof(T) == 4 ? "f32" : "f64") + ":";
    for (NodeId id : grp_.nodes) s += std::string(" ") + op_name(g_.node(id).op);
    return s;
  }

 private:
  T* p(ValueId v) const { return static_cast<T*>(ptr_[size_t(v)]); }

  void run_node(NodeId id, const Node& n) {
    const auto& in = n.inputs;
    const auto& out = n.outputs;
    switch (n.op) {
      case OpKind::kFill: {
        T* y = p(out[0]);
        std::fill(y, y + g_.desc(out[0]).numel(), T(n.attrs.scalar));
        break;
      }
      case OpKind::kConv2d:
        ref::conv2d_forward(geometry_.at(id), p(in[0]), p(in[1]), p(out[0]), col_);
        break;
      case OpKind::kConvTranspose2d:
        ref::conv2d_backward_data(geometry_.at(id), p(in[0]), p(in[1]), p(out[0]), col_);
        break;
      case OpKind::kConv2dBackwardWeight:
        ref::conv2d_backward_weight(geometry_.at(id), p(in[0]), p(in[1]), p(out[0]), col_);
        break;
      case OpKind::kBatchNormTrain:
      case OpKind::kBatchNormInference:
        batch_norm_forward(n);
        break;
      case OpKind::kBatchNormBackward:
        batch_norm_backward(n);
        break;
      case OpKind::kBatchNormRunningUpdate: {
        const RunningUpdate u = running_update(n.attrs);
        T* r = p(in[0]);
        const T* s = p(in[1]);
        for (int64_t i = 0, c = g_.desc(in[0]).numel(); i < c; ++i)
          r[i] = T(running_update_element(double(r[i]), double(s[i]), u));
        break;
      }
      case OpKind::kMean:
      case OpKind::kSumTo: {
        reduce_in_double(n.op == OpKind::kMean, p(in[0]), g_.desc(in[0]).numel(), index_.at(id).walk, acc_.data(), p(out[0]),
                         g_.desc(out[0]).numel());
        break;
      }
      case OpKind::kBroadcastTo: {
        const T* x = p(in[0]);
        T* y = p(out[0]);
        index_.at(id).for_each([&](int64_t e, int64_t i) { y[e] = x[i]; });
        break;
      }
      case OpKind::kAdamUpdate:
        adam(n);
        break;
      case OpKind::kIncrement:
        *static_cast<int64_t*>(ptr_[size_t(in[0])]) += 1;
        break;
      case OpKind::kMaxPool2d:
      case OpKind::kAvgPool2d:
        pool2d(n);
        break;
      case OpKind::kMaxPool2dBackward:
        max_pool2d_backward(n);
        break;
      case OpKind::kMatMul:
        matmul(n);
        break;
      case OpKind::kLogSoftmax:
      case OpKind::kLogSoftmaxBackward:
        log_softmax(n);
        break;
      case OpKind::kConcat:
        concat(n);
        break;
      case OpKind::kResizeBilinear:
        resize_bilinear(id, n);
        break;
      default:
        throw std::logic_error(std::string("ref backend: no kernel for ") + op_name(n.op));
    }
  }

  void batch_norm_forward(const Node& n) {
    const Shape& s = g_.shape(n.inputs[0]);
    const int64_t N = s[0], C = s[1], HW = s[2] * s[3], M = N * HW;
    const T *x = p(n.inputs[0]), *gamma = p(n.inputs[1]), *beta = p(n.inputs[2]);
    T* y = p(n.outputs[0]);
    const bool train = n.op == OpKind::kBatchNormTrain;
    for (int64_t c = 0; c < C; ++c) {
      double mean, var;
      if (train) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < N; ++i)
          for (int64_t k = 0; k < HW; ++k) sum += double(x[(i * C + c) * HW + k]);
        mean = sum / double(M);
        for (int64_t i = 0; i < N; ++i)
          for (int64_t k = 0; k < HW; ++k) {
            const double d = double(x[(i * C + c) * HW + k]) - mean;
            sq += d * d;
          }
        var = sq / double(M);
        p(n.outputs[1])[c] = T(mean);
        p(n.outputs[2])[c] = T(var);
      } else {
        mean = double(p(n.inputs[3])[c]);
        var = double(p(n.inputs[4])[c]);
      }
      const double inv = 1.0 / std::sqrt(var + n.attrs.eps);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < HW; ++k) {
          const int64_t e = (i * C + c) * HW + k;
          y[e] = T((double(x[e]) - mean) * inv * double(gamma[c]) + double(beta[c]));
        }
    }
  }

  void batch_norm_backward(const Node& n) {
    const Shape& s = g_.shape(n.inputs[1]);
    const int64_t N = s[0], C = s[1], HW = s[2] * s[3], M = N * HW;
    const T *dy = p(n.inputs[0]), *x = p(n.inputs[1]), *gamma = p(n.inputs[2]), *mean = p(n.inputs[3]),
            *var = p(n.inputs[4]);
    T *dx = p(n.outputs[0]), *dgamma = p(n.outputs[1]), *dbeta = p(n.outputs[2]);
    for (int64_t c = 0; c < C; ++c) {
      const double mu = double(mean[c]), inv = 1.0 / std::sqrt(double(var[c]) + n.attrs.eps);
      double sdy = 0, sdyx = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < HW; ++k) {
          const int64_t e = (i * C + c) * HW + k;
          sdy += double(dy[e]);
          sdyx += double(dy[e]) * (double(x[e]) - mu) * inv;
        }
      if (dgamma) dgamma[c] = T(sdyx);
      if (dbeta) dbeta[c] = T(sdy);
      if (!dx) continue;
      const double scale = double(gamma[c]) * inv / double(M);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < HW; ++k) {
          const int64_t e = (i * C + c) * HW + k;
          const double xhat = (double(x[e]) - mu) * inv;
          dx[e] = T(scale * (double(M) * double(dy[e]) - sdy - xhat * sdyx));
        }
    }
  }

  // Pooling windows in floor mode, clipped to the input (padding never wins a
  // max): f(plane, output index in the plane, h0, w0, hs, h1, ws, w1) with
  // [h0, h0 + kh) the unclipped rows and [hs, h1) the clipped ones (columns alike).
  template <typename F>
  void for_each_window(const Node& n, const Shape& xs, F&& f) const {
    const Shape ys = g_.shape(n.op == OpKind::kMaxPool2dBackward ? n.inputs[0] : n.outputs[0]);
    const int64_t H = xs[2], W = xs[3], Ho = ys[2], Wo = ys[3];
    const int kh = n.attrs.kernel[0], kw = n.attrs.kernel[1], sh = n.attrs.stride[0], sw = n.attrs.stride[1];
    const int ph = n.attrs.padding[0], pw = n.attrs.padding[1];
    for (int64_t plane = 0; plane < xs[0] * xs[1]; ++plane)
      for (int64_t oh = 0; oh < Ho; ++oh) {
        const int64_t h0 = oh * sh - ph, h1 = std::min<int64_t>(h0 + kh, H), hs = std::max<int64_t>(h0, 0);
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t w0 = ow * sw - pw, w1 = std::min<int64_t>(w0 + kw, W), ws = std::max<int64_t>(w0, 0);
          f(plane, oh * Wo + ow, h0, w0, hs, h1, ws, w1);
        }
      }
  }

  // The offset in its plane of a window's first maximum (a NaN wins), as
  // PyTorch's CPU max pooling chooses which input gets the gradient.
  static int64_t window_argmax(const T* xp, int64_t W, int64_t hs, int64_t h1, int64_t ws, int64_t w1) {
    int64_t best = hs * W + ws;
    for (int64_t i = hs; i < h1; ++i)
      for (int64_t j = ws; j < w1; ++j) {
        const T v = xp[i * W + j];
        if (v > xp[best] || (std::isnan(v) && !std::isnan(xp[best]))) best = i * W + j;
      }
    return best;
  }

  // Max: the window's maximum. Average: the sum over the clipped window divided
  // by k*k (count_include_pad) or by the clipped window's size, as PyTorch.
  void pool2d(const Node& n) {
    const Shape &xs = g_.shape(n.inputs[0]), &ys = g_.shape(n.outputs[0]);
    const int64_t H = xs[2], W = xs[3], plane_out = ys[2] * ys[3];
    const int kh = n.attrs.kernel[0], kw = n.attrs.kernel[1], ph = n.attrs.padding[0], pw = n.attrs.padding[1];
    const T* x = p(n.inputs[0]);
    T* y = p(n.outputs[0]);
    for_each_window(n, xs, [&](int64_t plane, int64_t o, int64_t h0, int64_t w0, int64_t hs, int64_t h1, int64_t ws, int64_t w1) {
      const T* xp = x + plane * H * W;
      if (n.op == OpKind::kMaxPool2d) {
        y[plane * plane_out + o] = xp[window_argmax(xp, W, hs, h1, ws, w1)];
        return;
      }
      double sum = 0;
      for (int64_t i = hs; i < h1; ++i)
        for (int64_t j = ws; j < w1; ++j) sum += double(xp[i * W + j]);
      const int64_t count = n.attrs.count_include_pad
                                ? (std::min<int64_t>(h0 + kh, H + ph) - h0) * (std::min<int64_t>(w0 + kw, W + pw) - w0)
                                : (h1 - hs) * (w1 - ws);
      y[plane * plane_out + o] = T(sum / double(count));
    });
  }

  // dx: each window's output gradient added at the window's first maximum.
  void max_pool2d_backward(const Node& n) {
    const Shape &xs = g_.shape(n.inputs[1]), &ys = g_.shape(n.inputs[0]);
    const int64_t W = xs[3], plane_in = xs[2] * xs[3], plane_out = ys[2] * ys[3];
    const T *dy = p(n.inputs[0]), *x = p(n.inputs[1]);
    T* dx = p(n.outputs[0]);
    std::fill(dx, dx + numel(xs), T(0));
    for_each_window(n, xs, [&](int64_t plane, int64_t o, int64_t, int64_t, int64_t hs, int64_t h1, int64_t ws, int64_t w1) {
      dx[plane * plane_in + window_argmax(x + plane * plane_in, W, hs, h1, ws, w1)] += dy[plane * plane_out + o];
    });
  }

  // y [M, N] = op(a) @ op(b), accumulated in double (this is the oracle).
  void matmul(const Node& n) {
    const Shape &sa = g_.shape(n.inputs[0]), &ys = g_.shape(n.outputs[0]);
    const bool ta = n.attrs.transpose_a, tb = n.attrs.transpose_b;
    const int64_t M = ys[0], N = ys[1], K = sa[ta ? 0 : 1];
    const T *a = p(n.inputs[0]), *b = p(n.inputs[1]);
    T* y = p(n.outputs[0]);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += double(a[ta ? k * M + i : i * K + k]) * double(b[tb ? j * K + k : k * N + j]);
        y[i * N + j] = T(acc);
      }
  }

  // Rows along the last axis, in double: log_softmax, or its gradient
  // dx = dy - exp(y) * sum(dy) from dy and the forward output y.
  void log_softmax(const Node& n) {
    const Shape& s = g_.shape(n.outputs[0]);
    const int64_t L = s.back(), rows = numel(s) / L;
    const bool backward = n.op == OpKind::kLogSoftmaxBackward;
    const T* x = p(n.inputs[0]);
    const T* y = backward ? p(n.inputs[1]) : nullptr;
    T* out = p(n.outputs[0]);
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * L;
      T* o = out + r * L;
      if (backward) {
        double sum = 0;
        for (int64_t i = 0; i < L; ++i) sum += double(xr[i]);
        for (int64_t i = 0; i < L; ++i) o[i] = T(double(xr[i]) - std::exp(double(y[r * L + i])) * sum);
        continue;
      }
      double m = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t i = 0; i < L; ++i) m = std::max(m, double(xr[i]));
      for (int64_t i = 0; i < L; ++i) sum += std::exp(double(xr[i]) - m);
      const double lse = m + std::log(sum);
      for (int64_t i = 0; i < L; ++i) o[i] = T(double(xr[i]) - lse);
    }
  }

  void concat(const Node& n) {
    const Shape& ys = g_.shape(n.outputs[0]);
    const int rank = int(ys.size());
    const int axis = n.attrs.axes[0] < 0 ? n.attrs.axes[0] + rank : n.attrs.axes[0];
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; ++k) outer *= ys[size_t(k)];
    for (int k = axis + 1; k < rank; ++k) inner *= ys[size_t(k)];
    T* y = p(n.outputs[0]);
    const int64_t row = ys[size_t(axis)] * inner;
    int64_t at = 0;
    for (ValueId v : n.inputs) {
      const int64_t chunk = g_.shape(v)[size_t(axis)] * inner;
      const T* x = p(v);
      for (int64_t o = 0; o < outer; ++o) std::copy(x + o * chunk, x + (o + 1) * chunk, y + o * row + at);
      at += chunk;
    }
  }

  // F.interpolate(mode="bilinear", align_corners=False, no antialias): source
  // coordinate (dst + 0.5) * in / out - 0.5, clamped at 0; the upper neighbour
  // is clamped to the last row/column.
  void resize_bilinear(NodeId id, const Node& n) {
    const Shape &xs = g_.shape(n.inputs[0]), &ys = g_.shape(n.outputs[0]);
    const int64_t H = xs[2], W = xs[3], Ho = ys[2], Wo = ys[3];
    const std::vector<Tap>& th = taps_.at(id)[0];
    const std::vector<Tap>& tw = taps_.at(id)[1];
    const T* x = p(n.inputs[0]);
    T* y = p(n.outputs[0]);
    for (int64_t plane = 0; plane < xs[0] * xs[1]; ++plane) {
      const T* xp = x + plane * H * W;
      T* yp = y + plane * Ho * Wo;
      for (int64_t oh = 0; oh < Ho; ++oh) {
        const Tap& a = th[size_t(oh)];
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const Tap& b = tw[size_t(ow)];
          const double v = a.l0 * (b.l0 * double(xp[a.i0 * W + b.i0]) + b.l1 * double(xp[a.i0 * W + b.i1])) +
                           a.l1 * (b.l0 * double(xp[a.i1 * W + b.i0]) + b.l1 * double(xp[a.i1 * W + b.i1]));
          yp[oh * Wo + ow] = T(v);
        }
      }
    }
  }

  struct Tap {
    int64_t i0, i1;
    double l0, l1;
  };
  static std::vector<Tap> bilinear_taps(int64_t in, int64_t out) {
    std::vector<Tap> t(static_cast<size_t>(out));
    const double scale = double(in) / double(out);
    for (int64_t d = 0; d < out; ++d) {
      const double src = std::max(scale * (double(d) + 0.5) - 0.5, 0.0);
      const int64_t i0 = std::min<int64_t>(int64_t(src), in - 1);
      const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
      const double l1 = std::min(src - double(i0), 1.0);
      t[size_t(d)] = {i0, i1, 1.0 - l1, l1};
    }
    return t;
  }

  void adam(const Node& n) {
    const double t = double(*static_cast<const int64_t*>(ptr_[size_t(n.inputs[4])]));
    const AdamScalars<T> s = adam_scalars<T>(n.attrs, t, [](double v) { return T(v); });
    T *param = p(n.inputs[0]), *m = p(n.inputs[2]), *v = p(n.inputs[3]);
    const T* grad = p(n.inputs[1]);
    for (int64_t i = 0, count = g_.desc(n.inputs[0]).numel(); i < count; ++i) adam_element(param[i], m[i], v[i], grad[i], s);
  }

  const Graph& g_;
  FusionGroup grp_;
  std::vector<void*> ptr_;
  std::vector<std::pair<ValueId, size_t>> scratch_values_;
  std::vector<std::pair<ValueId, ValueId>> in_output_;  // internal value -> chain output holding it
  size_t col_bytes_ = 0, col_offset_ = 0;
  ScratchLayout scratch_;
  T* col_ = nullptr;
  std::unique_ptr<ref::ElementwiseProgram<T>> program_;
  std::map<NodeId, BroadcastIndex> index_;
  std::map<NodeId, ConvGeometry> geometry_;
  std::map<NodeId, std::array<std::vector<Tap>, 2>> taps_;  // resize_bilinear: rows, columns
  std::vector<double> acc_;
};

class RefBackend final : public HostMemoryBackend {
 public:
  std::string name() const override { return "ref"; }
  std::unique_ptr<Kernel> compile(const Graph& g, const FusionGroup& grp) override {
    if (g.float_type() == DType::f64) return std::make_unique<RefGroupKernel<double>>(g, grp);
    return std::make_unique<RefGroupKernel<float>>(g, grp);
  }
};

}  // namespace

std::unique_ptr<Backend> make_ref_backend() { return std::make_unique<RefBackend>(); }

}  // namespace rg
