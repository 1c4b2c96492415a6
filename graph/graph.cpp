// SPDX-License-Identifier: Apache-2.0
#include "graph/graph.h"

namespace rg {

const Value& Graph::value(ValueId v) const {
  check_value(v, "value");
  return values_[static_cast<size_t>(v)];
}
Value& Graph::value(ValueId v) {
  check_value(v, "value");
  return values_[static_cast<size_t>(v)];
}

void Graph::check_value(ValueId v, const char* what) const {
  if (v < 0 || v >= num_values()) throw GraphError(std::string("no such ") + what + " id " + std::to_string(v));
}

ValueId Graph::new_value(TensorDesc d, NodeId producer, int index) {
  values_.push_back(Value{std::move(d), producer, index, {}, -1});
  return num_values() - 1;
}

void Graph::note_recomputation(ValueId original, NodeId reader, int input) {
  check_value(original, "value");
  const ValueId stand_in = node(reader).inputs.at(size_t(input));
  if (!(desc(stand_in) == desc(original)))
    throw GraphError("note_recomputation: " + value_label(stand_in) + " cannot stand in for " + value_label(original));
  for (Recomputation& r : recomputations_)
    if (r.original == original) {
      r.readers.push_back({reader, input});
      return;
    }
  recomputations_.push_back({original, {{reader, input}}});
}

void Graph::drop_recomputation(ValueId original) {
  for (size_t k = 0; k < recomputations_.size(); ++k) {
    if (recomputations_[k].original != original) continue;
    for (const auto& [n, input] : recomputations_[k].readers) nodes_.at(size_t(n)).inputs.at(size_t(input)) = original;
    recomputations_.erase(recomputations_.begin() + std::ptrdiff_t(k));
    return;
  }
  throw GraphError("drop_recomputation: " + value_label(original) + " has no recomputation");
}

std::string Graph::value_label(ValueId v) const {
  const Value& val = value(v);
  std::string s = "%" + std::to_string(v);
  if (!val.name.empty()) s += " '" + val.name + "'";
  return s;
}

int Graph::find_variable(std::string_view name) const {
  for (size_t i = 0; i < variables_.size(); ++i)
    if (variables_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<ValueId> Graph::add_node(OpKind op, std::vector<ValueId> inputs, OpAttrs attrs, std::string name) {
  for (ValueId v : inputs) check_value(v, "input value");
  const NodeId id = num_nodes();
  const std::string label = std::string(op_name(op)) + " node #" + std::to_string(id) + (name.empty() ? "" : " '" + name + "'");
  std::vector<TensorDesc> descs = infer_outputs(*this, op, inputs, attrs, label);
  if (is_state_update(op)) {
    // Each written version must be the newest one of its variable, written once.
    for (size_t o = 0; o < descs.size(); ++o) {
      const ValueId target = inputs[static_cast<size_t>(state_alias_input(op, static_cast<int>(o)))];
      const Value& tv = value(target);
      if (tv.variable < 0) throw GraphError(label + ": " + value_label(target) + " is not a variable");
      if (variables_[static_cast<size_t>(tv.variable)].current != target)
        throw GraphError(label + ": " + value_label(target) + " is not the newest version of variable '" +
                         variables_[static_cast<size_t>(tv.variable)].name + "'");
    }
  }
  nodes_.push_back(Node{op, std::move(attrs), inputs, {}, std::move(name)});
  std::vector<ValueId> outs;
  for (size_t o = 0; o < descs.size(); ++o) {
    const ValueId v = new_value(descs[o], id, static_cast<int>(o));
    if (is_state_update(op)) {
      const ValueId target = inputs[static_cast<size_t>(state_alias_input(op, static_cast<int>(o)))];
      const int var = value(target).variable;
      value(v).variable = var;
      value(v).name = variables_[static_cast<size_t>(var)].name;
      variables_[static_cast<size_t>(var)].current = v;
    }
    outs.push_back(v);
  }
  nodes_.back().outputs = outs;
  return outs;
}

ValueId Graph::input(const std::string& name, Shape shape, std::optional<DType> dtype) {
  for (const InputInfo& i : inputs_)
    if (i.name == name) throw GraphError("input '" + name + "' defined twice");
  OpAttrs a;
  a.shape = shape;
  nodes_.push_back(Node{OpKind::kInput, a, {}, {}, name});
  const ValueId v = new_value({std::move(shape), dtype.value_or(float_type_)}, num_nodes() - 1, 0);
  nodes_.back().outputs = {v};
  value(v).name = name;
  inputs_.push_back({name, v});
  return v;
}

ValueId Graph::variable(const std::string& name, Shape shape, std::optional<DType> dtype) {
  if (find_variable(name) >= 0) throw GraphError("variable '" + name + "' defined twice");
  OpAttrs a;
  a.shape = shape;
  nodes_.push_back(Node{OpKind::kVariable, a, {}, {}, name});
  const TensorDesc d{std::move(shape), dtype.value_or(float_type_)};
  const ValueId v = new_value(d, num_nodes() - 1, 0);
  nodes_.back().outputs = {v};
  value(v).name = name;
  value(v).variable = static_cast<int>(variables_.size());
  variables_.push_back({name, d, v, v});
  return v;
}

ValueId Graph::fill(Shape shape, double v) {
  OpAttrs a;
  a.shape = std::move(shape);
  a.scalar = v;
  return add_node(OpKind::kFill, {}, a)[0];
}

ValueId Graph::conv2d(ValueId x, ValueId w, int stride, int padding) {
  OpAttrs a;
  a.stride = {stride, stride};
  a.padding = {padding, padding};
  return add_node(OpKind::kConv2d, {x, w}, a)[0];
}

ValueId Graph::conv_transpose2d(ValueId x, ValueId w, int stride, int padding, int output_padding) {
  OpAttrs a;
  a.stride = {stride, stride};
  a.padding = {padding, padding};
  a.output_padding = {output_padding, output_padding};
  return add_node(OpKind::kConvTranspose2d, {x, w}, a)[0];
}

ValueId Graph::conv2d_backward_weight(ValueId x, ValueId dy, const Shape& weight_shape,
                                      std::array<int, 2> stride, std::array<int, 2> padding) {
  OpAttrs a;
  a.stride = stride;
  a.padding = padding;
  a.shape = weight_shape;
  return add_node(OpKind::kConv2dBackwardWeight, {x, dy}, a)[0];
}

Graph::BatchNormOutputs Graph::batch_norm_train(ValueId x, ValueId gamma, ValueId beta, double eps) {
  OpAttrs a;
  a.eps = eps;
  const auto o = add_node(OpKind::kBatchNormTrain, {x, gamma, beta}, a);
  return {o[0], o[1], o[2]};
}

ValueId Graph::batch_norm_inference(ValueId x, ValueId gamma, ValueId beta, ValueId mean, ValueId var,
                                    double eps) {
  OpAttrs a;
  a.eps = eps;
  return add_node(OpKind::kBatchNormInference, {x, gamma, beta, mean, var}, a)[0];
}

ValueId Graph::batch_norm(ValueId x, ValueId gamma, ValueId beta, ValueId running_mean, ValueId running_var,
                          ValueId num_batches_tracked, bool training, double momentum, double eps) {
  if (!training) return batch_norm_inference(x, gamma, beta, running_mean, running_var, eps);
  const BatchNormOutputs bn = batch_norm_train(x, gamma, beta, eps);
  const Shape& s = shape(x);
  OpAttrs a;
  a.momentum = momentum;
  add_node(OpKind::kBatchNormRunningUpdate, {running_mean, bn.mean}, a);
  a.unbiased = true;
  a.scalar = static_cast<double>(s[0] * s[2] * s[3]);  // n for the n / (n - 1) correction
  add_node(OpKind::kBatchNormRunningUpdate, {running_var, bn.var}, a);
  if (num_batches_tracked != kNoValue) increment(num_batches_tracked);
  return bn.y;
}

ValueId Graph::assign(ValueId variable, ValueId value) {
  return add_node(OpKind::kAssign, {variable, value})[0];
}

ValueId Graph::relu(ValueId x) { return add_node(OpKind::kRelu, {x})[0]; }
ValueId Graph::leaky_relu(ValueId x, double slope) {
  OpAttrs a;
  a.scalar = slope;
  return add_node(OpKind::kLeakyRelu, {x}, a)[0];
}
ValueId Graph::tanh(ValueId x) { return add_node(OpKind::kTanh, {x})[0]; }

ValueId Graph::max_pool2d(ValueId x, std::array<int, 2> kernel, std::array<int, 2> stride,
                          std::array<int, 2> padding) {
  OpAttrs a;
  a.kernel = kernel;
  a.stride = stride;
  a.padding = padding;
  return add_node(OpKind::kMaxPool2d, {x}, a)[0];
}

ValueId Graph::avg_pool2d(ValueId x, std::array<int, 2> kernel, std::array<int, 2> stride,
                          std::array<int, 2> padding, bool count_include_pad) {
  OpAttrs a;
  a.kernel = kernel;
  a.stride = stride;
  a.padding = padding;
  a.count_include_pad = count_include_pad;
  return add_node(OpKind::kAvgPool2d, {x}, a)[0];
}

namespace {
OpAttrs pool_attrs(const Graph::PoolOptions& o) {
  OpAttrs a;
  a.kernel = o.kernel, a.stride = o.stride, a.padding = o.padding, a.padding_end = o.padding_end;
  a.dilation = o.dilation;
  a.ceil_mode = o.ceil_mode, a.count_include_pad = o.count_include_pad;
  return a;
}
}  // namespace

ValueId Graph::max_pool2d(ValueId x, const PoolOptions& o) {
  return add_node(OpKind::kMaxPool2d, {x}, pool_attrs(o))[0];
}
ValueId Graph::avg_pool2d(ValueId x, const PoolOptions& o) {
  return add_node(OpKind::kAvgPool2d, {x}, pool_attrs(o))[0];
}

ValueId Graph::concat(const std::vector<ValueId>& xs, int axis) {
  OpAttrs a;
  a.axes = {axis};
  return add_node(OpKind::kConcat, xs, a)[0];
}

ValueId Graph::resize_bilinear(ValueId x, int64_t h, int64_t w) {
  OpAttrs a;
  a.shape = {h, w};
  return add_node(OpKind::kResizeBilinear, {x}, a)[0];
}

namespace {
OpAttrs conv_attrs(const Graph::ConvOptions& o) {
  OpAttrs a;
  a.stride = o.stride, a.padding = o.padding, a.dilation = o.dilation, a.output_padding = o.output_padding;
  a.groups = o.groups, a.padding_end = o.padding_end;
  return a;
}
}  // namespace

ValueId Graph::conv2d(ValueId x, ValueId w, const ConvOptions& o) {
  return add_node(OpKind::kConv2d, {x, w}, conv_attrs(o))[0];
}
ValueId Graph::conv_transpose2d(ValueId x, ValueId w, const ConvOptions& o) {
  return add_node(OpKind::kConvTranspose2d, {x, w}, conv_attrs(o))[0];
}
ValueId Graph::group_norm(ValueId x, ValueId scale, ValueId bias, int groups, double eps) {
  OpAttrs a;
  a.groups = groups, a.eps = eps;
  return add_node(OpKind::kGroupNorm, {x, scale, bias}, a)[0];
}
ValueId Graph::lrn(ValueId x, int size, double alpha, double beta, double bias) {
  OpAttrs a;
  a.kernel = {size, 1}, a.scalar = alpha, a.scalar2 = beta, a.bias = bias;
  return add_node(OpKind::kLrn, {x}, a)[0];
}
ValueId Graph::elu(ValueId x, double alpha) {
  OpAttrs a;
  a.scalar = alpha;
  return add_node(OpKind::kElu, {x}, a)[0];
}
ValueId Graph::clip(ValueId x, double lo, double hi) {
  OpAttrs a;
  a.scalar = lo, a.scalar2 = hi;
  return add_node(OpKind::kClip, {x}, a)[0];
}
ValueId Graph::hard_sigmoid(ValueId x, double alpha, double beta) {
  OpAttrs a;
  a.scalar = alpha, a.scalar2 = beta;
  return add_node(OpKind::kHardSigmoid, {x}, a)[0];
}
ValueId Graph::prelu(ValueId x, ValueId slope) { return add_node(OpKind::kPRelu, {x, slope})[0]; }
ValueId Graph::softmax(ValueId x) { return add_node(OpKind::kSoftmax, {x})[0]; }
ValueId Graph::transpose(ValueId x, std::vector<int> perm) {
  OpAttrs a;
  a.axes = std::move(perm);
  return add_node(OpKind::kTranspose, {x}, a)[0];
}
ValueId Graph::pad(ValueId x, std::vector<int64_t> pads, OpAttrs::PadMode mode, double value) {
  OpAttrs a;
  a.pads = std::move(pads), a.pad_mode = mode, a.scalar = value;
  return add_node(OpKind::kPad, {x}, a)[0];
}
ValueId Graph::resize_nearest(ValueId x, int64_t h, int64_t w) {
  OpAttrs a;
  a.shape = {h, w};
  return add_node(OpKind::kResizeNearest, {x}, a)[0];
}
ValueId Graph::resize(ValueId x, int64_t h, int64_t w, bool linear, const OpAttrs::ResizeMode& mode) {
  OpAttrs a;
  a.shape = {h, w}, a.resize = mode;
  return add_node(linear ? OpKind::kResizeBilinear : OpKind::kResizeNearest, {x}, a)[0];
}

ValueId Graph::conv2d(ValueId x, ValueId w, std::array<int, 2> stride, std::array<int, 2> padding) {
  OpAttrs a;
  a.stride = stride;
  a.padding = padding;
  return add_node(OpKind::kConv2d, {x, w}, a)[0];
}
ValueId Graph::add(ValueId a, ValueId b) { return add_node(OpKind::kAdd, {a, b})[0]; }
ValueId Graph::sub(ValueId a, ValueId b) { return add_node(OpKind::kSub, {a, b})[0]; }
ValueId Graph::mul(ValueId a, ValueId b) { return add_node(OpKind::kMul, {a, b})[0]; }
ValueId Graph::div(ValueId a, ValueId b) { return add_node(OpKind::kDiv, {a, b})[0]; }
ValueId Graph::add_scalar(ValueId x, double s) {
  OpAttrs a;
  a.scalar = s;
  return add_node(OpKind::kAddScalar, {x}, a)[0];
}
ValueId Graph::mul_scalar(ValueId x, double s) {
  OpAttrs a;
  a.scalar = s;
  return add_node(OpKind::kMulScalar, {x}, a)[0];
}
ValueId Graph::square(ValueId x) { return add_node(OpKind::kSquare, {x})[0]; }
ValueId Graph::mean(ValueId x, std::vector<int> axes, bool keepdims) {
  OpAttrs a;
  a.axes = std::move(axes);
  a.keepdims = keepdims;
  return add_node(OpKind::kMean, {x}, a)[0];
}
ValueId Graph::sum_to(ValueId x, const Shape& s) {
  OpAttrs a;
  a.shape = s;
  return add_node(OpKind::kSumTo, {x}, a)[0];
}
ValueId Graph::broadcast_to(ValueId x, const Shape& s) {
  OpAttrs a;
  a.shape = s;
  return add_node(OpKind::kBroadcastTo, {x}, a)[0];
}
ValueId Graph::reshape(ValueId x, const Shape& s) {
  OpAttrs a;
  a.shape = s;
  return add_node(OpKind::kReshape, {x}, a)[0];
}
ValueId Graph::stop_gradient(ValueId x) { return add_node(OpKind::kStopGradient, {x})[0]; }
ValueId Graph::matmul(ValueId a, ValueId b, bool transpose_a, bool transpose_b) {
  OpAttrs at;
  at.transpose_a = transpose_a;
  at.transpose_b = transpose_b;
  return add_node(OpKind::kMatMul, {a, b}, at)[0];
}
ValueId Graph::log_softmax(ValueId x) { return add_node(OpKind::kLogSoftmax, {x})[0]; }

ValueId Graph::adam_update(ValueId param, ValueId grad, ValueId m, ValueId v, ValueId step,
                           const AdamConfig& cfg) {
  OpAttrs a;
  a.lr = cfg.lr;
  a.beta1 = cfg.beta1;
  a.beta2 = cfg.beta2;
  a.adam_eps = cfg.eps;
  return add_node(OpKind::kAdamUpdate, {param, grad, m, v, step}, a)[0];
}

ValueId Graph::increment(ValueId counter) { return add_node(OpKind::kIncrement, {counter})[0]; }

void Graph::mark_output(ValueId v, const std::string& name) {
  check_value(v, "output value");
  if (!name.empty()) {
    const ValueId other = find_output(name);
    if (other != kNoValue && other != v)
      throw GraphError("mark_output: another output (" + value_label(other) + ") is already named '" + name + "'");
    value(v).name = name;
  }
  outputs_.push_back(v);
}

ValueId Graph::find_output(std::string_view name) const noexcept {
  for (ValueId v : outputs_)
    if (!name.empty() && values_[size_t(v)].name == name) return v;
  return kNoValue;
}

ValueId Graph::output(std::string_view name) const {
  const ValueId v = find_output(name);
  if (v != kNoValue) return v;
  std::string named;
  for (ValueId o : outputs_)
    if (!values_[size_t(o)].name.empty()) named += (named.empty() ? "'" : ", '") + values_[size_t(o)].name + "'";
  throw GraphError("no output named '" + std::string(name) + "' (named outputs: " + (named.empty() ? "none" : named) + ")");
}

}  // namespace rg
