#include "backends/ref/ref_backend.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <stdexcept>

#include "backends/ref/conv_ref.h"
#include "backends/ref/elementwise_ref.h"
#include "engine/conv_geometry.h"
#include "engine/host_memory.h"
#include "engine/op_geometry.h"
#include "engine/strided_walk.h"
#include "graph/batch_norm_rules.h"
#include "graph/state_update_rules.h"

namespace rg {
namespace {

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
    std::vector<NodeId> chain;
    for (NodeId id : grp.nodes) {
      if (is_elementwise(g.node(id).op)) chain.push_back(id);
      else add_step(g.node(id));
    }
    if (col_bytes_) col_offset_ = scratch_.take(col_bytes_);
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
    for (const auto& step : steps_) step();
    if (program_) program_->run();
  }

  std::string describe() const override {
    std::string s = std::string("ref/") + (sizeof(T) == 4 ? "f32" : "f64") + ":";
    for (NodeId id : grp_.nodes) s += std::string(" ") + op_name(g_.node(id).op);
    return s;
  }

 private:
  T* p(ValueId v) const { return static_cast<T*>(ptr_[size_t(v)]); }

  // The group's nodes other than its elementwise chain, each a step with its
  // geometry derived here, once (engine/conv_geometry.h, engine/op_geometry.h).
  void add_step(const Node& n) {
    const std::vector<ValueId> &in = n.inputs, &out = n.outputs;
    const ValueId x = in.empty() ? kNoValue : in[0], y = out.empty() ? kNoValue : out[0];
    const int64_t count = y == kNoValue ? 0 : g_.desc(y).numel();
    std::function<void()> step;
    if (is_convolution(n.op)) {
      const ConvGeometry geo = conv_geometry(g_, n);
      col_bytes_ = std::max(col_bytes_, size_t(geo.col_rows() * geo.col_cols()) * sizeof(T));
      const ValueId b = in[1];
      const auto run = n.op == OpKind::kConv2d            ? &ref::conv2d_forward<T>
                       : n.op == OpKind::kConvTranspose2d ? &ref::conv2d_backward_data<T>
                                                          : &ref::conv2d_backward_weight<T>;
      step = [this, geo, run, x, b, y] { run(geo, p(x), p(b), p(y), col_); };
    } else if (n.op == OpKind::kFill) {
      step = [this, y, count, v = T(n.attrs.scalar)] { std::fill(p(y), p(y) + count, v); };
    } else if (n.op == OpKind::kBatchNormTrain || n.op == OpKind::kBatchNormInference) {
      step = [this, &n] { batch_norm_forward(n); };
    } else if (n.op == OpKind::kBatchNormBackward) {
      step = [this, &n] { batch_norm_backward(n); };
    } else if (n.op == OpKind::kBatchNormRunningUpdate) {
      step = [this, r = x, s = in[1], u = running_update(n.attrs), c = g_.desc(x).numel()] {
        for (int64_t i = 0; i < c; ++i) p(r)[i] = T(running_update_element(double(p(r)[i]), double(p(s)[i]), u));
      };
    } else if (n.op == OpKind::kMean || n.op == OpKind::kSumTo) {
      const Shape& xs = g_.shape(x);
      acc_.resize(std::max(acc_.size(), size_t(count)));
      step = [this, x, y, count, mean = n.op == OpKind::kMean, walk = StridedWalk(xs, broadcast_strides(xs, reduced_keepdims_shape(n, xs))),
              total = numel(xs)] { reduce_in_double(mean, p(x), total, walk, acc_.data(), p(y), count); };
    } else if (n.op == OpKind::kBroadcastTo) {
      step = [this, x, y, count, walk = StridedWalk(g_.shape(y), broadcast_strides(g_.shape(y), g_.shape(x)))] {
        walk.run(0, count, [xp = p(x), yp = p(y)](int64_t e, int64_t i) { yp[e] = xp[i]; });
      };
    } else if (n.op == OpKind::kAdamUpdate) {
      step = [this, &n] { adam(n); };
    } else if (n.op == OpKind::kIncrement) {
      step = [this, x] { *static_cast<int64_t*>(ptr_[size_t(x)]) += 1; };
    } else if (n.op == OpKind::kMaxPool2d || n.op == OpKind::kAvgPool2d) {
      step = [this, geo = pool_geometry(g_, n), x, y] { pool2d(geo, p(x), p(y)); };
    } else if (n.op == OpKind::kMaxPool2dBackward) {
      step = [this, geo = pool_geometry(g_, n), dy = x, xv = in[1], dx = y] { max_pool2d_backward(geo, p(dy), p(xv), p(dx)); };
    } else if (n.op == OpKind::kMatMul) {
      step = [this, geo = matmul_geometry(g_, n), a = x, b = in[1], y] { matmul(geo, p(a), p(b), p(y)); };
    } else if (n.op == OpKind::kLogSoftmax || n.op == OpKind::kLogSoftmaxBackward) {
      const ValueId fwd = in.size() > 1 ? in[1] : kNoValue;
      step = [this, geo = row_geometry(g_, n), x, fwd, y] { log_softmax(geo, p(x), fwd == kNoValue ? nullptr : p(fwd), p(y)); };
    } else if (n.op == OpKind::kConcat) {
      step = [this, geo = concat_geometry(g_, n), &in, y] { concat(geo, in, p(y)); };
    } else if (n.op == OpKind::kResizeBilinear) {
      step = [this, geo = resize_geometry(g_, n), x, y] { resize_bilinear(geo, p(x), p(y)); };
    } else {
      throw std::logic_error(std::string("ref backend: no kernel for ") + op_name(n.op));
    }
    steps_.push_back(std::move(step));
  }

  // graph/batch_norm_rules.h, per channel, in double.
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
          for (int64_t k = 0; k < HW; ++k) sq += batch_norm_centred_square(double(x[(i * C + c) * HW + k]), mean);
        var = sq / double(M);
        p(n.outputs[1])[c] = T(mean);
        p(n.outputs[2])[c] = T(var);
      } else {
        mean = double(p(n.inputs[3])[c]);
        var = double(p(n.inputs[4])[c]);
      }
      const double inv = batch_norm_inv_std(var, n.attrs.eps, 1.0);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < HW; ++k) {
          const int64_t e = (i * C + c) * HW + k;
          y[e] = T(batch_norm_normalize(double(x[e]), mean, inv, double(gamma[c]), double(beta[c])));
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
      const double mu = double(mean[c]), inv = batch_norm_inv_std(double(var[c]), n.attrs.eps, 1.0);
      double sdy = 0, sdyx = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < HW; ++k) {
          const int64_t e = (i * C + c) * HW + k;
          sdy += double(dy[e]);
          sdyx += batch_norm_dy_xhat(double(dy[e]), double(x[e]), mu, inv);
        }
      if (dgamma) dgamma[c] = T(sdyx);
      if (dbeta) dbeta[c] = T(sdy);
      if (!dx) continue;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < HW; ++k) {
          const int64_t e = (i * C + c) * HW + k;
          dx[e] = T(batch_norm_input_gradient(double(dy[e]), double(x[e]), mu, inv, double(gamma[c]), sdy, sdyx, double(M)));
        }
    }
  }

  // The offset in its plane of a window's first maximum (a NaN wins), as
  // PyTorch's CPU max pooling chooses which input gets the gradient.
  static int64_t window_argmax(const T* xp, int64_t W, const PoolGeometry::Window& win) {
    int64_t best = win.hs * W + win.ws;
    for (int64_t i = win.hs; i < win.h1; ++i)
      for (int64_t j = win.ws; j < win.w1; ++j) {
        const T v = xp[i * W + j];
        if (v > xp[best] || (std::isnan(v) && !std::isnan(xp[best]))) best = i * W + j;
      }
    return best;
  }

  // f(plane, output index in the plane, window) for every window.
  template <typename F>
  static void for_each_window(const PoolGeometry& geo, F&& f) {
    for (int64_t plane = 0; plane < geo.planes; ++plane)
      for (int64_t oh = 0; oh < geo.ho; ++oh)
        for (int64_t ow = 0; ow < geo.wo; ++ow) f(plane, oh * geo.wo + ow, geo.window(oh, ow));
  }

  // Max: the window's maximum. Average: its sum over the clipped window, in
  // double, divided by PoolGeometry::average_count.
  static void pool2d(const PoolGeometry& geo, const T* x, T* y) {
    const int64_t W = geo.w, plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
    for_each_window(geo, [&](int64_t plane, int64_t o, const PoolGeometry::Window& win) {
      const T* xp = x + plane * plane_in;
      if (geo.max) {
        y[plane * plane_out + o] = xp[window_argmax(xp, W, win)];
        return;
      }
      double sum = 0;
      for (int64_t i = win.hs; i < win.h1; ++i)
        for (int64_t j = win.ws; j < win.w1; ++j) sum += double(xp[i * W + j]);
      y[plane * plane_out + o] = T(sum / double(geo.average_count(win)));
    });
  }

  // dx: each window's output gradient added at the window's first maximum.
  static void max_pool2d_backward(const PoolGeometry& geo, const T* dy, const T* x, T* dx) {
    const int64_t plane_in = geo.h * geo.w, plane_out = geo.ho * geo.wo;
    std::fill(dx, dx + geo.planes * plane_in, T(0));
    for_each_window(geo, [&](int64_t plane, int64_t o, const PoolGeometry::Window& win) {
      dx[plane * plane_in + window_argmax(x + plane * plane_in, geo.w, win)] += dy[plane * plane_out + o];
    });
  }

  // y [M, N] = op(a) @ op(b), accumulated in double (this is the oracle).
  static void matmul(const MatMulGeometry& geo, const T* a, const T* b, T* y) {
    for (int64_t i = 0; i < geo.m; ++i)
      for (int64_t j = 0; j < geo.n; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < geo.k; ++k) acc += double(a[geo.a_index(i, k)]) * double(b[geo.b_index(k, j)]);
        y[i * geo.n + j] = T(acc);
      }
  }

  // Rows along the last axis, in double: log_softmax, or its gradient
  // dx = dy - exp(y) * sum(dy) from dy (x here) and the forward output y.
  static void log_softmax(const RowGeometry& geo, const T* x, const T* y, T* out) {
    const int64_t L = geo.length;
    for (int64_t r = 0; r < geo.rows; ++r) {
      const T* xr = x + r * L;
      T* o = out + r * L;
      if (geo.backward) {
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

  void concat(const ConcatGeometry& geo, const std::vector<ValueId>& ins, T* y) const {
    const int64_t row = geo.total() * geo.inner;
    int64_t at = 0;
    for (size_t i = 0; i < ins.size(); ++i) {
      const int64_t chunk = geo.sizes[i] * geo.inner;
      const T* x = p(ins[i]);
      for (int64_t o = 0; o < geo.outer; ++o) std::copy(x + o * chunk, x + (o + 1) * chunk, y + o * row + at);
      at += chunk;
    }
  }

  // Bilinear interpolation with the taps of ResizeGeometry, in double.
  static void resize_bilinear(const ResizeGeometry& geo, const T* x, T* y) {
    const int64_t W = geo.w, Wo = geo.wo;
    for (int64_t plane = 0; plane < geo.planes; ++plane) {
      const T* xp = x + plane * geo.h * W;
      T* yp = y + plane * geo.ho * Wo;
      for (int64_t oh = 0; oh < geo.ho; ++oh) {
        const BilinearTap& a = geo.rows[size_t(oh)];
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const BilinearTap& b = geo.cols[size_t(ow)];
          const double v = a.l0 * (b.l0 * double(xp[a.i0 * W + b.i0]) + b.l1 * double(xp[a.i0 * W + b.i1])) +
                           a.l1 * (b.l0 * double(xp[a.i1 * W + b.i0]) + b.l1 * double(xp[a.i1 * W + b.i1]));
          yp[oh * Wo + ow] = T(v);
        }
      }
    }
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
  std::vector<std::function<void()>> steps_;  // the non-elementwise nodes, in order
  std::vector<double> acc_;                   // reductions' accumulators
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
