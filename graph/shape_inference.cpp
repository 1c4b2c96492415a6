// Output descriptors of every op, with errors that name the node and the shapes.
#include <algorithm>
#include <sstream>

#include "graph/elementwise_ops.h"
#include "graph/graph.h"

namespace rg {
namespace {

[[noreturn]] void fail(const std::string& node, const std::string& msg) {
  throw GraphError(node + ": " + msg);
}

void expect_rank(const std::string& node, const char* what, const TensorDesc& d, int rank) {
  if (d.rank() != rank)
    fail(node, std::string(what) + " must have rank " + std::to_string(rank) + ", got " + desc_str(d));
}

void expect_same(const std::string& node, const char* a, const TensorDesc& da, const char* b,
                 const TensorDesc& db) {
  if (!(da == db)) fail(node, std::string(a) + " " + desc_str(da) + " and " + b + " " + desc_str(db) + " differ");
}

void expect_float(const std::string& node, const TensorDesc& d) {
  if (d.dtype == DType::i64) fail(node, "needs a floating-point tensor, got " + desc_str(d));
}

void expect_channel_vector(const std::string& node, const char* what, const TensorDesc& d, int64_t c,
                           DType t) {
  if (d.rank() != 1 || d.shape[0] != c || d.dtype != t)
    fail(node, std::string(what) + " must be " + desc_str({{c}, t}) + ", got " + desc_str(d));
}

int64_t conv_out(int64_t in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }
int64_t deconv_out(int64_t in, int k, int s, int p, int op) { return (in - 1) * s - 2 * p + k + op; }

// The output of pooling `x` (NCHW) with a's kernel, stride and padding (floor mode).
TensorDesc pooled(const std::string& node, const TensorDesc& x, const OpAttrs& a) {
  expect_rank(node, "input", x, 4);
  for (size_t i = 0; i < 2; ++i)
    if (a.kernel[i] < 1 || a.stride[i] < 1 || a.padding[i] < 0 || 2 * a.padding[i] > a.kernel[i])
      fail(node, "needs kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2");
  const Shape& s = x.shape;
  const int64_t ho = conv_out(s[2], a.kernel[0], a.stride[0], a.padding[0]);
  const int64_t wo = conv_out(s[3], a.kernel[1], a.stride[1], a.padding[1]);
  if (ho <= 0 || wo <= 0) fail(node, "input " + shape_str(s) + " too small for the pooling window");
  return TensorDesc{{s[0], s[1], ho, wo}, x.dtype};
}

std::vector<int> normalized_axes(const std::string& node, const std::vector<int>& axes, int rank) {
  std::vector<int> r;
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) r.push_back(i);
    return r;
  }
  for (int a : axes) {
    const int n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank) fail(node, "axis " + std::to_string(a) + " out of range for rank " + std::to_string(rank));
    r.push_back(n);
  }
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(where, "cannot broadcast " + shape_str(a) + " with " + shape_str(b));
    out[i] = std::max(da, db);
  }
  return out;
}

std::vector<bool> reduced_axes(const Node& n, const Shape& in) {
  std::vector<bool> r(in.size(), false);
  if (n.op == OpKind::kSumTo) {  // the target shape, right-aligned to the input's rank
    const Shape& t = n.attrs.shape;
    const size_t off = in.size() - t.size();
    for (size_t i = 0; i < in.size(); ++i) r[i] = i < off || (t[i - off] == 1 && in[i] != 1);
    return r;
  }
  for (int a : normalized_axes(op_name(n.op), n.attrs.axes, static_cast<int>(in.size()))) r[size_t(a)] = true;
  return r;
}

Shape reduced_keepdims_shape(const Node& n, const Shape& in) {
  Shape kept = in;
  const std::vector<bool> r = reduced_axes(n, in);
  for (size_t i = 0; i < in.size(); ++i)
    if (r[i]) kept[i] = 1;
  return kept;
}

std::vector<TensorDesc> infer_outputs(const Graph& g, OpKind op, const std::vector<ValueId>& in,
                                      const OpAttrs& a, const std::string& node) {
  auto d = [&](size_t i) -> const TensorDesc& { return g.desc(in.at(i)); };
  const ElementwiseOp* ew = elementwise_op(op);
  const size_t want = [&]() -> size_t {
    if (ew) return size_t(ew->arity);
    switch (op) {
      case OpKind::kInput: case OpKind::kVariable: case OpKind::kFill: return 0;
      case OpKind::kBatchNormTrain: return 3;
      case OpKind::kBatchNormInference: return 5;
      case OpKind::kBatchNormBackward: return 5;
      case OpKind::kAdamUpdate: return 5;
      case OpKind::kConv2d: case OpKind::kConvTranspose2d: case OpKind::kConv2dBackwardWeight:
      case OpKind::kBatchNormRunningUpdate: case OpKind::kMatMul:
      case OpKind::kLogSoftmaxBackward: case OpKind::kMaxPool2dBackward: return 2;
      case OpKind::kConcat: return std::max<size_t>(in.size(), 1);  // any number, at least one
      default: return 1;
    }
  }();
  if (in.size() != want)
    fail(node, "expects " + std::to_string(want) + " inputs, got " + std::to_string(in.size()));
  for (size_t i = 0; i < in.size(); ++i)
    if (op != OpKind::kIncrement && !(op == OpKind::kAdamUpdate && i == 4)) expect_float(node, d(i));

  if (ew && ew->broadcasts) {
    if (d(0).dtype != d(1).dtype) fail(node, "dtypes differ: " + desc_str(d(0)) + " and " + desc_str(d(1)));
    return {TensorDesc{broadcast_shapes(d(0).shape, d(1).shape, node), d(0).dtype}};
  }
  if (ew) {  // one shape: (x) or an activation's gradient (dy, saved)
    if (ew->arity == 2) expect_same(node, "output gradient", d(0), "saved tensor", d(1));
    return {d(0)};
  }
  switch (op) {
    case OpKind::kInput:
    case OpKind::kVariable:
    case OpKind::kFill:
      return {TensorDesc{a.shape, g.float_type()}};
    case OpKind::kConv2d: {
      expect_rank(node, "input", d(0), 4);
      expect_rank(node, "weight", d(1), 4);
      const Shape &x = d(0).shape, &w = d(1).shape;
      if (w[1] != x[1])
        fail(node, "weight " + shape_str(w) + " expects " + std::to_string(w[1]) + " input channels, input is " + shape_str(x));
      const int64_t ho = conv_out(x[2], int(w[2]), a.stride[0], a.padding[0]);
      const int64_t wo = conv_out(x[3], int(w[3]), a.stride[1], a.padding[1]);
      if (ho <= 0 || wo <= 0) fail(node, "input " + shape_str(x) + " too small for kernel " + shape_str(w));
      return {TensorDesc{{x[0], w[0], ho, wo}, d(0).dtype}};
    }
    case OpKind::kConvTranspose2d: {
      expect_rank(node, "input", d(0), 4);
      expect_rank(node, "weight", d(1), 4);
      const Shape &x = d(0).shape, &w = d(1).shape;
      if (w[0] != x[1])
        fail(node, "weight " + shape_str(w) + " (IOHW) expects " + std::to_string(w[0]) + " input channels, input is " + shape_str(x));
      for (int i = 0; i < 2; ++i)
        if (a.output_padding[i] < 0 || a.output_padding[i] >= a.stride[i])
          fail(node, "output_padding must be in [0, stride)");
      const int64_t ho = deconv_out(x[2], int(w[2]), a.stride[0], a.padding[0], a.output_padding[0]);
      const int64_t wo = deconv_out(x[3], int(w[3]), a.stride[1], a.padding[1], a.output_padding[1]);
      if (ho <= 0 || wo <= 0) fail(node, "output would be empty for input " + shape_str(x));
      return {TensorDesc{{x[0], w[1], ho, wo}, d(0).dtype}};
    }
    case OpKind::kConv2dBackwardWeight: {
      expect_rank(node, "input", d(0), 4);
      expect_rank(node, "output gradient", d(1), 4);
      const Shape &x = d(0).shape, &dy = d(1).shape, &w = a.shape;
      if (w.size() != 4 || w[0] != dy[1] || w[1] != x[1] || x[0] != dy[0] ||
          conv_out(x[2], int(w[2]), a.stride[0], a.padding[0]) != dy[2] ||
          conv_out(x[3], int(w[3]), a.stride[1], a.padding[1]) != dy[3])
        fail(node, "weight " + shape_str(w) + " does not map input " + shape_str(x) + " to " + shape_str(dy));
      return {TensorDesc{w, d(0).dtype}};
    }
    case OpKind::kBatchNormTrain:
    case OpKind::kBatchNormInference: {
      expect_rank(node, "input", d(0), 4);
      const int64_t c = d(0).shape[1];
      for (size_t i = 1; i < in.size(); ++i) expect_channel_vector(node, "per-channel parameter", d(i), c, d(0).dtype);
      if (op == OpKind::kBatchNormInference) return {d(0)};
      return {d(0), TensorDesc{{c}, d(0).dtype}, TensorDesc{{c}, d(0).dtype}};
    }
    case OpKind::kBatchNormBackward: {
      expect_same(node, "output gradient", d(0), "input", d(1));
      expect_rank(node, "input", d(1), 4);
      const int64_t c = d(1).shape[1];
      for (size_t i = 2; i < 5; ++i) expect_channel_vector(node, "per-channel parameter", d(i), c, d(0).dtype);
      return {d(1), TensorDesc{{c}, d(0).dtype}, TensorDesc{{c}, d(0).dtype}};
    }
    case OpKind::kBatchNormRunningUpdate:
      expect_same(node, "running statistic", d(0), "batch statistic", d(1));
      return {d(0)};
    case OpKind::kMean: {
      const auto axes = normalized_axes(node, a.axes, d(0).rank());
      Shape out;
      for (int i = 0; i < d(0).rank(); ++i) {
        const bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
        if (!reduced) out.push_back(d(0).shape[i]);
        else if (a.keepdims) out.push_back(1);
      }
      return {TensorDesc{out, d(0).dtype}};
    }
    case OpKind::kSumTo:
      if (broadcast_shapes(a.shape, d(0).shape, node) != d(0).shape)
        fail(node, "cannot sum " + shape_str(d(0).shape) + " to " + shape_str(a.shape));
      return {TensorDesc{a.shape, d(0).dtype}};
    case OpKind::kBroadcastTo:
      if (broadcast_shapes(a.shape, d(0).shape, node) != a.shape)
        fail(node, "cannot broadcast " + shape_str(d(0).shape) + " to " + shape_str(a.shape));
      return {TensorDesc{a.shape, d(0).dtype}};
    case OpKind::kReshape:
      if (numel(a.shape) != d(0).numel())
        fail(node, "cannot reshape " + shape_str(d(0).shape) + " to " + shape_str(a.shape));
      return {TensorDesc{a.shape, d(0).dtype}};
    case OpKind::kAdamUpdate:
      expect_same(node, "parameter", d(0), "gradient", d(1));
      expect_same(node, "parameter", d(0), "first moment", d(2));
      expect_same(node, "parameter", d(0), "second moment", d(3));
      if (d(4).dtype != DType::i64 || d(4).numel() != 1) fail(node, "step must be an i64 scalar, got " + desc_str(d(4)));
      return {d(0), d(2), d(3)};
    case OpKind::kIncrement:
      if (d(0).dtype != DType::i64) fail(node, "counter must be i64, got " + desc_str(d(0)));
      return {d(0)};
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d:
      return {pooled(node, d(0), a)};
    case OpKind::kMaxPool2dBackward:
      if (!(pooled(node, d(1), a) == d(0)))
        fail(node, "output gradient " + desc_str(d(0)) + " is not the pooled shape of input " + desc_str(d(1)));
      return {d(1)};
    case OpKind::kMatMul: {
      expect_rank(node, "first operand", d(0), 2);
      expect_rank(node, "second operand", d(1), 2);
      if (d(0).dtype != d(1).dtype) fail(node, "dtypes differ: " + desc_str(d(0)) + " and " + desc_str(d(1)));
      const Shape &sa = d(0).shape, &sb = d(1).shape;
      const int64_t m = sa[a.transpose_a ? 1 : 0], ka = sa[a.transpose_a ? 0 : 1];
      const int64_t kb = sb[a.transpose_b ? 1 : 0], n = sb[a.transpose_b ? 0 : 1];
      if (ka != kb)
        fail(node, "inner dimensions differ: " + shape_str(sa) + (a.transpose_a ? "^T" : "") + " @ " + shape_str(sb) +
                       (a.transpose_b ? "^T" : ""));
      return {TensorDesc{{m, n}, d(0).dtype}};
    }
    case OpKind::kLogSoftmax:
      if (d(0).rank() < 1 || d(0).shape.back() < 1) fail(node, "needs a non-empty last axis, got " + desc_str(d(0)));
      return {d(0)};
    case OpKind::kLogSoftmaxBackward:
      expect_same(node, "output gradient", d(0), "log_softmax output", d(1));
      return {d(0)};
    case OpKind::kConcat: {
      if (a.axes.size() != 1) fail(node, "needs exactly one axis");
      const int rank = d(0).rank();
      const int axis = a.axes[0] < 0 ? a.axes[0] + rank : a.axes[0];
      if (axis < 0 || axis >= rank) fail(node, "axis " + std::to_string(a.axes[0]) + " out of range for " + desc_str(d(0)));
      Shape out = d(0).shape;
      for (size_t i = 1; i < in.size(); ++i) {
        const TensorDesc& di = d(i);
        bool ok = di.dtype == d(0).dtype && di.rank() == rank;
        for (int k = 0; ok && k < rank; ++k) ok = k == axis || di.shape[size_t(k)] == out[size_t(k)];
        if (!ok) fail(node, "input " + std::to_string(i) + " " + desc_str(di) + " does not match " + desc_str(d(0)) + " outside axis " + std::to_string(axis));
        out[size_t(axis)] += di.shape[size_t(axis)];
      }
      return {TensorDesc{out, d(0).dtype}};
    }
    case OpKind::kResizeBilinear: {
      expect_rank(node, "input", d(0), 4);
      if (a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1)
        fail(node, "output size must be {H, W} with H, W >= 1, got " + shape_str(a.shape));
      const Shape& x = d(0).shape;
      return {TensorDesc{{x[0], x[1], a.shape[0], a.shape[1]}, d(0).dtype}};
    }
    default: break;  // elementwise: above
  }
  fail(node, "unknown op");
}

}  // namespace rg
