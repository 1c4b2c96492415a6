// SPDX-License-Identifier: Apache-2.0
// ONNX's shape and data-movement ops: Constant, ConstantOfShape, Shape,
// Identity, Dropout (inference), Cast, Reshape, Flatten, Squeeze, Unsqueeze,
// Transpose, Concat, Gather, Slice, Pad. On constants they fold on the host
// (shape arithmetic: old exporters compute Reshape's target from Shape,
// Gather, Unsqueeze and Concat); on graph values they are views or the
// engine's transpose, concat and pad.
#include <algorithm>
#include <numeric>

#include "frontends/onnx/onnx_importer.h"

namespace rg::onnx {
namespace {

// A constant with the same data and another shape.
Const reshaped(const Const& c, Shape s) {
  Const r = c;
  r.shape = std::move(s);
  return r;
}

// `x` (rank r) to `s`: a view of a graph value or a constant with a new shape.
void set_reshaped(NodeContext& c, Shape s) {
  if (c.is_const(0)) return c.set_output(0, reshaped(c.constant(0, "data"), std::move(s)));
  const ValueId x = c.value(0);
  c.set_output(
      0, c.graph().shape(x) == s ? x : c.graph().reshape(x, s));  // a no-op view would split fusion
}

void constant(NodeContext& c) {
  if (auto t = c.attr_tensor("value")) return c.set_output(0, *t);
  if (c.has_attr("value_float"))
    return c.set_output(0, Const::of_floats({c.attr_float("value_float", 0)}, {}));
  if (c.has_attr("value_floats")) c.unsupported("attribute value_floats is not supported");
  if (c.has_attr("value_int"))
    return c.set_output(0, Const::of_ints({c.attr_int("value_int", 0)}, {}));
  if (c.has_attr("value_ints")) {
    std::vector<int64_t> v = c.attr_ints("value_ints");
    const int64_t n = int64_t(v.size());
    return c.set_output(0, Const::of_ints(std::move(v), {n}));
  }
  c.unsupported("needs a value attribute (sparse and string values are not supported)");
}

void constant_of_shape(NodeContext& c) {
  const Shape shape = c.constant(0, "shape").ints("shape");
  int64_t n = 0;
  try {
    n = checked_numel(shape, "the output");
  } catch (const std::invalid_argument& e) {
    c.unsupported(e.what());
  }
  std::optional<Const> v = c.attr_tensor("value");
  if (v && v->numel() != 1) c.unsupported("value must hold one element");
  if (v && !v->is_float)
    return c.set_output(0, Const::of_ints(std::vector<int64_t>(size_t(n), v->i[0]), shape));
  c.set_output(0, Const::of_floats(std::vector<float>(size_t(n), v ? v->f[0] : 0.f), shape));
}

void shape_of(NodeContext& c) {
  const Shape s = c.shape(0);
  const int64_t r = int64_t(s.size());
  int64_t start = c.attr_int("start", 0), end = c.attr_int("end", r);
  start = std::clamp<int64_t>(start < 0 ? start + r : start, 0, r);
  end = std::clamp<int64_t>(end < 0 ? end + r : end, 0, r);
  std::vector<int64_t> v(s.begin() + start, s.begin() + std::max(start, end));
  const int64_t n = int64_t(v.size());
  c.set_output(0, Const::of_ints(std::move(v), {n}));
}

void identity(NodeContext& c) {
  if (c.is_const(0)) return c.set_output(0, c.constant(0, "input"));
  c.set_output(0, c.value(0));
}

// Inference: the identity; the mask output is not supported.
void dropout(NodeContext& c) {
  c.attr_float("ratio", 0.5f);
  if (c.attr_int("is_test", 1) == 0) c.unsupported_attr("is_test", "0 (training)");
  if (c.has_input(2) && (!c.is_const(2) || c.constant(2, "training_mode").at(0) != 0))
    c.unsupported("training_mode must be false");
  c.attr_int("seed", 0);
  identity(c);
}

void cast(NodeContext& c) {
  const int64_t to = c.attr_int("to", 1);
  c.attr_int("saturate", 1);
  const bool to_float = to == ::onnx::TensorProto::FLOAT || to == ::onnx::TensorProto::DOUBLE ||
                        to == ::onnx::TensorProto::FLOAT16;
  if (c.is_const(0)) {
    const Const& x = c.constant(0, "input");
    if (to_float) {
      std::vector<float> f(size_t(x.numel()));
      for (size_t k = 0; k < f.size(); ++k) f[k] = float(x.at(k));
      return c.set_output(0, Const::of_floats(std::move(f), x.shape));
    }
    std::vector<int64_t> i(size_t(x.numel()));
    for (size_t k = 0; k < i.size(); ++k)
      i[k] = to == ::onnx::TensorProto::BOOL ? x.at(k) != 0 : int64_t(x.at(k));
    return c.set_output(0, Const::of_ints(std::move(i), x.shape));
  }
  if (to != ::onnx::TensorProto::FLOAT)
    c.unsupported_attr("to", std::to_string(to) + " on a computed float tensor");
  c.set_output(0, c.value(0));
}

void reshape(NodeContext& c) {
  const Shape x = c.shape(0);
  std::vector<int64_t> s =
      c.opset() >= 5 ? c.constant(1, "shape").ints("shape") : c.attr_ints("shape");
  const bool allowzero = c.attr_int("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0 && !allowzero) {
      if (i >= x.size())
        c.unsupported("shape's 0 at axis " + std::to_string(i) + " has no input axis to copy");
      s[i] = x[i];
    }
    if (s[i] == -1) {
      if (infer >= 0) c.unsupported("shape has two -1s");
      infer = int64_t(i);
    } else if (s[i] < 0) {
      c.unsupported("shape has a negative size " + std::to_string(s[i]));
    } else {
      known *= s[i];
    }
  }
  const int64_t n = numel(x);
  if (infer >= 0) {
    if (known == 0 || n % known)
      c.unsupported("cannot infer -1 reshaping " + shape_str(x) + " to " + shape_str(s));
    s[size_t(infer)] = n / known;
  }
  if (numel(s) != n) c.unsupported("cannot reshape " + shape_str(x) + " to " + shape_str(s));
  set_reshaped(c, s);
}

void flatten(NodeContext& c) {
  const Shape x = c.shape(0);
  const int64_t r = int64_t(x.size());
  int64_t axis = c.attr_int("axis", 1);
  if (axis < -r || axis > r) c.unsupported("axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += r;
  const int64_t outer =
      std::accumulate(x.begin(), x.begin() + axis, int64_t(1), std::multiplies<>());
  set_reshaped(c, {outer, numel(x) / std::max<int64_t>(outer, 1)});
}

std::vector<int64_t> axes_of(NodeContext& c, size_t input, bool required) {
  if (c.opset() >= 13) {
    if (!c.has_input(input)) {
      if (required) c.unsupported("needs axes");
      return {};
    }
    return c.constant(input, "axes").ints("axes");
  }
  return c.attr_ints("axes");
}

void squeeze(NodeContext& c) {
  const Shape x = c.shape(0);
  std::vector<int64_t> axes = axes_of(c, 1, false);
  for (int64_t& a : axes) a = normalized_axis(c, a, x.size(), "axis");
  Shape y;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool listed = std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
    if (listed && x[i] != 1)
      c.unsupported("axis " + std::to_string(i) + " of " + shape_str(x) + " is not 1");
    if (!(listed || (axes.empty() && x[i] == 1))) y.push_back(x[i]);
  }
  set_reshaped(c, y);
}

void unsqueeze(NodeContext& c) {
  const Shape x = c.shape(0);
  std::vector<int64_t> axes = axes_of(c, 1, true);
  const size_t r = x.size() + axes.size();
  for (int64_t& a : axes) a = normalized_axis(c, a, r, "axis");
  Shape y;
  for (size_t i = 0, k = 0; i < r; ++i)
    y.push_back(std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end() ? 1 : x.at(k++));
  set_reshaped(c, y);
}

// Element strides of a row-major shape.
std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// A constant's elements gathered by output index -> input offset.
template <class F>
Const gather_const(const Const& x, const Shape& out, F offset_of) {
  const int64_t n = numel(out);
  const std::vector<int64_t> ost = strides_of(out);
  Const r = x;
  r.shape = out;
  r.f.assign(x.is_float ? size_t(n) : 0, 0.f);
  r.i.assign(x.is_float ? 0 : size_t(n), 0);
  std::vector<int64_t> idx(out.size());
  for (int64_t e = 0; e < n; ++e) {
    for (size_t d = 0; d < out.size(); ++d) idx[d] = (e / ost[d]) % out[d];
    const int64_t o = offset_of(idx);
    if (x.is_float)
      r.f[size_t(e)] = x.f[size_t(o)];
    else
      r.i[size_t(e)] = x.i[size_t(o)];
  }
  return r;
}

void transpose(NodeContext& c) {
  const Shape x = c.shape(0);
  std::vector<int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (size_t i = x.size(); i-- > 0;) perm.push_back(int64_t(i));
  if (perm.size() != x.size())
    c.unsupported("perm has " + std::to_string(perm.size()) + " axes for rank " +
                  std::to_string(x.size()));
  std::vector<int> p;
  Shape y;
  for (int64_t a : perm) {
    p.push_back(int(normalized_axis(c, a, x.size(), "perm axis")));
    y.push_back(x[size_t(p.back())]);
  }
  if (c.is_const(0)) {
    const std::vector<int64_t> st = strides_of(x);
    return c.set_output(
        0, gather_const(c.constant(0, "data"), y, [&](const std::vector<int64_t>& idx) {
          int64_t o = 0;
          for (size_t d = 0; d < idx.size(); ++d) o += idx[d] * st[size_t(p[d])];
          return o;
        }));
  }
  c.set_output(0, c.graph().transpose(c.value(0), p));
}

void concat(NodeContext& c) {
  const Shape first = c.shape(0);
  const int64_t axis = normalized_axis(c, c.attr_int("axis", 0), first.size(), "axis");
  bool all_const = true;
  for (size_t i = 0; i < c.num_inputs(); ++i) all_const = all_const && c.is_const(i);
  if (all_const && !c.constant(0, "input").is_float) {
    Shape y = first;
    y[size_t(axis)] = 0;
    for (size_t i = 0; i < c.num_inputs(); ++i) y[size_t(axis)] += c.shape(i)[size_t(axis)];
    const int64_t outer =
        std::accumulate(y.begin(), y.begin() + axis, int64_t(1), std::multiplies<>());
    std::vector<int64_t> v;
    for (int64_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < c.num_inputs(); ++i) {
        const Const& x = c.constant(i, "input");
        const int64_t chunk = x.numel() / std::max<int64_t>(outer, 1);
        v.insert(v.end(), x.i.begin() + o * chunk, x.i.begin() + (o + 1) * chunk);
      }
    return c.set_output(0, Const::of_ints(std::move(v), y));
  }
  std::vector<ValueId> xs;
  for (size_t i = 0; i < c.num_inputs(); ++i) xs.push_back(c.value(i));
  c.set_output(0, c.graph().concat(xs, int(axis)));
}

// Gather with constant data and indices (shape arithmetic).
void gather(NodeContext& c) {
  const Const& x = c.constant(0, "data");
  const Const& ind = c.constant(1, "indices");
  const int64_t axis = normalized_axis(c, c.attr_int("axis", 0), x.shape.size(), "axis");
  std::vector<int64_t> idx = ind.ints("indices");
  const int64_t len = x.shape[size_t(axis)];
  for (int64_t& i : idx) {
    if (i < -len || i >= len) c.unsupported("index " + std::to_string(i) + " is out of range");
    if (i < 0) i += len;
  }
  Shape y(x.shape.begin(), x.shape.begin() + axis);
  y.insert(y.end(), ind.shape.begin(), ind.shape.end());
  y.insert(y.end(), x.shape.begin() + axis + 1, x.shape.end());
  const std::vector<int64_t> st = strides_of(x.shape);
  const size_t ir = ind.shape.size();
  const std::vector<int64_t> ist = strides_of(ind.shape);
  c.set_output(0, gather_const(x, y, [&](const std::vector<int64_t>& o) {
                 int64_t off = 0, flat = 0;
                 for (size_t d = 0; d < size_t(axis); ++d) off += o[d] * st[d];
                 for (size_t d = 0; d < ir; ++d) flat += o[size_t(axis) + d] * ist[d];
                 off += idx[size_t(flat)] * st[size_t(axis)];
                 for (size_t d = size_t(axis) + 1; d < x.shape.size(); ++d)
                   off += o[d + ir - 1] * st[d];
                 return off;
               }));
}

// Slice of a constant (shape arithmetic).
void slice(NodeContext& c) {
  const Const& x = c.constant(0, "data");
  const size_t r = x.shape.size();
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset() >= 10) {
    starts = c.constant(1, "starts").ints("starts");
    ends = c.constant(2, "ends").ints("ends");
    if (c.has_input(3)) axes = c.constant(3, "axes").ints("axes");
    if (c.has_input(4)) steps = c.constant(4, "steps").ints("steps");
  } else {
    starts = c.attr_ints("starts"), ends = c.attr_ints("ends"), axes = c.attr_ints("axes");
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    c.unsupported("starts, ends, axes and steps differ in length");
  std::vector<int64_t> begin(r, 0), step(r, 1);
  Shape y = x.shape;
  for (size_t k = 0; k < starts.size(); ++k) {
    const size_t a = size_t(normalized_axis(c, axes[k], r, "axis"));
    const int64_t len = x.shape[a], s = steps[k];
    if (s == 0) c.unsupported("a step is 0");
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) {
      return std::clamp(v < 0 ? v + len : v, lo, hi);
    };
    const int64_t b = s > 0 ? clampi(starts[k], 0, len) : clampi(starts[k], -1, len - 1);
    const int64_t e = s > 0 ? clampi(ends[k], 0, len) : clampi(ends[k], -1, len - 1);
    begin[a] = b, step[a] = s;
    y[a] = std::max<int64_t>(0, s > 0 ? (e - b + s - 1) / s : (b - e - s - 1) / -s);
  }
  const std::vector<int64_t> st = strides_of(x.shape);
  c.set_output(0, gather_const(x, y, [&](const std::vector<int64_t>& o) {
                 int64_t off = 0;
                 for (size_t d = 0; d < r; ++d) off += (begin[d] + o[d] * step[d]) * st[d];
                 return off;
               }));
}

void pad(NodeContext& c) {
  const Shape x = c.shape(0);
  std::string mode = c.attr_string("mode", "constant");
  std::vector<int64_t> pads;
  double value = 0;
  if (c.opset() >= 11) {
    pads = c.constant(1, "pads").ints("pads");
    if (c.has_input(2)) value = c.constant(2, "constant_value").at(0);
    if (c.has_input(3)) {  // opset 18: pads for these axes only
      const std::vector<int64_t> axes = c.constant(3, "axes").ints("axes");
      std::vector<int64_t> full(2 * x.size(), 0);
      for (size_t k = 0; k < axes.size(); ++k) {
        const size_t a = size_t(normalized_axis(c, axes[k], x.size(), "axis"));
        full[a] = pads.at(k), full[x.size() + a] = pads.at(axes.size() + k);
      }
      pads = full;
    }
  } else {
    pads = c.attr_ints("pads");
    value = c.attr_float("value", 0.f);
  }
  OpAttrs::PadMode m = OpAttrs::PadMode::kConstant;
  if (mode == "reflect")
    m = OpAttrs::PadMode::kReflect;
  else if (mode == "edge")
    m = OpAttrs::PadMode::kEdge;
  else if (mode != "constant")
    c.unsupported_attr("mode", mode);
  if (pads.size() != 2 * x.size())
    c.unsupported("pads has " + std::to_string(pads.size()) + " values for rank " +
                  std::to_string(x.size()));
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) return identity(c);
  c.set_output(0, c.graph().pad(c.value(0), pads, m, value));
}

const OnnxOp kOps[] = {
    {"Constant", constant},
    {"ConstantOfShape", constant_of_shape},
    {"Shape", shape_of},
    {"Identity", identity},
    {"Dropout", dropout},
    {"Cast", cast},
    {"Reshape", reshape},
    {"Flatten", flatten},
    {"Squeeze", squeeze},
    {"Unsqueeze", unsqueeze},
    {"Transpose", transpose},
    {"Concat", concat},
    {"Gather", gather},
    {"Slice", slice},
    {"Pad", pad},
};

}  // namespace

std::span<const OnnxOp> shape_ops() {
  return kOps;
}

}  // namespace rg::onnx
