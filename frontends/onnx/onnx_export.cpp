// SPDX-License-Identifier: Apache-2.0
// ONNX export (docs/onnx.md): a forward graph and its weights as an opset-18
// model. Each engine op becomes the ONNX node(s) that compute it; constants
// an op needs as inputs (shapes, pads, scalars) become initializers. The
// first axis of every input and output is written symbolic ("N") when no
// exported constant depends on it, so one file serves any batch.
#include <onnx/onnx_pb.h>

#include <fstream>
#include <map>
#include <set>

#include "engine/io/atomic_file.h"
#include "graph/graph.h"
#include "rg/onnx.h"

namespace rg::onnx {
namespace {

using ::onnx::AttributeProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;

class Exporter {
 public:
  Exporter(const Graph& g, const std::vector<Weight>& weights) : g_(g) {
    for (const Weight& w : weights) weights_[w.name] = &w;
    gp_ = m_.mutable_graph();
    gp_->set_name("rg");
    m_.set_ir_version(8);
    m_.set_producer_name("rg (ralsgan)");
    auto* op = m_.add_opset_import();
    op->set_domain("");
    op->set_version(18);
  }

  std::string run() {
    const std::vector<char> live = live_nodes();
    batch_ = g_.inputs().empty() ? -1 : g_.shape(g_.inputs()[0].value).at(0);
    for (NodeId id = 0; id < g_.num_nodes(); ++id)
      if (live[size_t(id)]) convert(g_.node(id));
    std::set<std::string> used;
    for (size_t i = 0; i < g_.outputs().size(); ++i) {
      const ValueId v = g_.outputs()[i];
      std::string name = g_.value(v).name.empty() ? "output" + std::to_string(i) : g_.value(v).name;
      const Node& p = g_.node(g_.value(v).producer);
      if (p.op == OpKind::kInput || p.op == OpKind::kVariable || used.count(name_of(v)) ||
          name_of(v) != name) {  // an output of its own
        node("Identity", {name_of(v)}, {name});
      }
      used.insert(name);
      value_info(gp_->add_output(), name, g_.desc(v).shape);
    }
    for (const InputInfo& in : g_.inputs())
      value_info(gp_->add_input(), in.name, g_.shape(in.value));
    if (!batch_dependent_ && batch_ > 0) {  // the first axis symbolic where it is the batch
      for (auto* list : {gp_->mutable_input(), gp_->mutable_output()})
        for (auto& vi : *list) {
          auto* dim = vi.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0);
          if (dim->dim_value() == batch_) dim->set_dim_param("N");
        }
    }
    return m_.SerializeAsString();
  }

 private:
  [[noreturn]] void unsupported(const Node& n, const std::string& why) const {
    throw UnsupportedError("ONNX export: node '" + n.name + "' (" + op_name(n.op) + "): " + why);
  }

  std::vector<char> live_nodes() const {
    std::vector<char> live(size_t(g_.num_nodes()), 0);
    std::vector<ValueId> stack(g_.outputs().begin(), g_.outputs().end());
    while (!stack.empty()) {
      const ValueId v = stack.back();
      stack.pop_back();
      const NodeId p = g_.value(v).producer;
      if (p < 0 || live[size_t(p)]) continue;
      live[size_t(p)] = 1;
      for (ValueId in : g_.node(p).inputs) stack.push_back(in);
    }
    return live;
  }

  std::string name_of(ValueId v) const {
    const Node& p = g_.node(g_.value(v).producer);
    if (p.op == OpKind::kInput || p.op == OpKind::kVariable) return g_.value(v).name;
    const ValueId out = g_.find_output(g_.value(v).name);
    if (out == v && !g_.value(v).name.empty()) return g_.value(v).name;
    return "v" + std::to_string(v);
  }

  static void value_info(::onnx::ValueInfoProto* vi, const std::string& name, const Shape& s) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(TensorProto::FLOAT);
    for (int64_t d : s) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }

  NodeProto* node(const std::string& op, std::vector<std::string> in,
                  std::vector<std::string> out) {
    NodeProto* n = gp_->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(gp_->node_size()));
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }

  static void attr(NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(AttributeProto::INT), a->set_i(v);
  }
  static void attr(NodeProto* n, const char* name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(AttributeProto::FLOAT), a->set_f(v);
  }
  static void attr(NodeProto* n, const char* name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(AttributeProto::STRING), a->set_s(v);
  }
  static void attr(NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  std::string ints_const(const std::vector<int64_t>& v) {
    TensorProto* t = gp_->add_initializer();
    t->set_name("c" + std::to_string(gp_->initializer_size()));
    t->set_data_type(TensorProto::INT64);
    t->add_dims(int64_t(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
    return t->name();
  }
  std::string float_const(std::vector<float> v, const Shape& shape) {
    TensorProto* t = gp_->add_initializer();
    t->set_name("c" + std::to_string(gp_->initializer_size()));
    t->set_data_type(TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
    return t->name();
  }
  std::string scalar(double v) { return float_const({float(v)}, {}); }

  // A shape constant (Reshape, Expand): leading axes equal to the input's
  // are written as 0 (copy) for Reshape, so the batch stays free.
  std::string shape_const(const Shape& out, const Shape& in, bool copy_ok) {
    std::vector<int64_t> v(out.begin(), out.end());
    if (copy_ok && !v.empty() && !in.empty() && v[0] == in[0]) v[0] = 0;
    if (!v.empty() && v[0] == batch_ && v[0] != 0) batch_dependent_ = true;
    return ints_const(v);
  }

  void convert(const Node& n) {
    auto in = [&](size_t i) { return name_of(n.inputs[i]); };
    const std::string out = name_of(n.outputs[0]);
    const OpAttrs& a = n.attrs;
    switch (n.op) {
      case OpKind::kInput:
        return;
      case OpKind::kVariable: {
        auto it = weights_.find(g_.value(n.outputs[0]).name);
        if (it == weights_.end()) unsupported(n, "no value given for the variable");
        const Weight& w = *it->second;
        if (w.shape != g_.shape(n.outputs[0]))
          unsupported(n, "its value has shape " + shape_str(w.shape));
        TensorProto* t = gp_->add_initializer();
        t->set_name(w.name);
        t->set_data_type(TensorProto::FLOAT);
        for (int64_t d : w.shape) t->add_dims(d);
        t->set_raw_data(std::string(reinterpret_cast<const char*>(w.data.data()),
                                    w.data.size() * sizeof(float)));
        return;
      }
      case OpKind::kFill: {
        const Shape& s = g_.shape(n.outputs[0]);
        auto* c = node("ConstantOfShape", {shape_const(s, {}, false)}, {out});
        auto* t = c->add_attribute();
        t->set_name("value"), t->set_type(AttributeProto::TENSOR);
        t->mutable_t()->set_data_type(TensorProto::FLOAT);
        t->mutable_t()->add_dims(1);
        t->mutable_t()->add_float_data(float(a.scalar));
        return;
      }
      case OpKind::kConv2d:
      case OpKind::kConvTranspose2d: {
        const bool tr = n.op == OpKind::kConvTranspose2d;
        auto* c = node(tr ? "ConvTranspose" : "Conv", {in(0), in(1)}, {out});
        const Shape& w = g_.shape(n.inputs[1]);
        attr(c, "kernel_shape", std::vector<int64_t>{w[2], w[3]});
        attr(c, "strides", std::vector<int64_t>{a.stride[0], a.stride[1]});
        attr(c, "dilations", std::vector<int64_t>{a.dilation[0], a.dilation[1]});
        attr(c, "pads",
             std::vector<int64_t>{a.padding[0], a.padding[1], a.pad_end(0), a.pad_end(1)});
        attr(c, "group", int64_t(a.groups));
        if (tr)
          attr(c, "output_padding", std::vector<int64_t>{a.output_padding[0], a.output_padding[1]});
        return;
      }
      case OpKind::kBatchNormInference: {
        auto* c = node("BatchNormalization", {in(0), in(1), in(2), in(3), in(4)}, {out});
        attr(c, "epsilon", float(a.eps));
        return;
      }
      case OpKind::kGroupNorm: {
        if (a.groups != g_.shape(n.inputs[0])[1])
          unsupported(n,
                      "group norm other than one group per channel (opset 18's GroupNormalization "
                      "scales per group)");
        attr(node("InstanceNormalization", {in(0), in(1), in(2)}, {out}), "epsilon", float(a.eps));
        return;
      }
      case OpKind::kRelu:
        node("Relu", {in(0)}, {out});
        return;
      case OpKind::kTanh:
        node("Tanh", {in(0)}, {out});
        return;
      case OpKind::kSigmoid:
        node("Sigmoid", {in(0)}, {out});
        return;
      case OpKind::kStopGradient:
        node("Identity", {in(0)}, {out});
        return;
      case OpKind::kLeakyRelu:
        attr(node("LeakyRelu", {in(0)}, {out}), "alpha", float(a.scalar));
        return;
      case OpKind::kElu:
        attr(node("Elu", {in(0)}, {out}), "alpha", float(a.scalar));
        return;
      case OpKind::kHardSigmoid: {
        auto* c = node("HardSigmoid", {in(0)}, {out});
        attr(c, "alpha", float(a.scalar)), attr(c, "beta", float(a.scalar2));
        return;
      }
      case OpKind::kClip:
        node("Clip", {in(0), scalar(a.scalar), scalar(a.scalar2)}, {out});
        return;
      case OpKind::kPRelu:
        node("PRelu", {in(0), in(1)}, {out});
        return;
      case OpKind::kAdd:
        node("Add", {in(0), in(1)}, {out});
        return;
      case OpKind::kSub:
        node("Sub", {in(0), in(1)}, {out});
        return;
      case OpKind::kMul:
        node("Mul", {in(0), in(1)}, {out});
        return;
      case OpKind::kDiv:
        node("Div", {in(0), in(1)}, {out});
        return;
      case OpKind::kSquare:
        node("Mul", {in(0), in(0)}, {out});
        return;
      case OpKind::kAddScalar:
        node("Add", {in(0), scalar(a.scalar)}, {out});
        return;
      case OpKind::kMulScalar:
        node("Mul", {in(0), scalar(a.scalar)}, {out});
        return;
      case OpKind::kReshape:
        node("Reshape", {in(0), shape_const(g_.shape(n.outputs[0]), g_.shape(n.inputs[0]), true)},
             {out});
        return;
      case OpKind::kBroadcastTo:
        node("Expand", {in(0), shape_const(g_.shape(n.outputs[0]), {}, false)}, {out});
        return;
      case OpKind::kMean: {
        const Shape& xs = g_.shape(n.inputs[0]);
        if (xs.size() == 4 && a.keepdims &&
            (a.axes == std::vector<int>{2, 3} || a.axes == std::vector<int>{-2, -1})) {
          node("GlobalAveragePool", {in(0)}, {out});
          return;
        }
        std::vector<int64_t> axes(a.axes.begin(), a.axes.end());
        if (axes.empty())
          for (size_t i = 0; i < xs.size(); ++i) axes.push_back(int64_t(i));
        attr(node("ReduceMean", {in(0), ints_const(axes)}, {out}), "keepdims", int64_t(a.keepdims));
        return;
      }
      case OpKind::kMatMul: {
        std::string x = in(0), y = in(1);
        auto transposed = [&](const std::string& v, ValueId id) {
          const size_t r = g_.shape(id).size();
          std::vector<int64_t> perm;
          for (size_t i = 0; i < r; ++i) perm.push_back(int64_t(i));
          std::swap(perm[r - 1], perm[r - 2]);
          const std::string t = out + "_t" + std::to_string(id);
          attr(node("Transpose", {v}, {t}), "perm", perm);
          return t;
        };
        if (a.transpose_a) x = transposed(x, n.inputs[0]);
        if (a.transpose_b) y = transposed(y, n.inputs[1]);
        node("MatMul", {x, y}, {out});
        return;
      }
      case OpKind::kMaxPool2d:
      case OpKind::kAvgPool2d: {
        auto* c = node(n.op == OpKind::kMaxPool2d ? "MaxPool" : "AveragePool", {in(0)}, {out});
        attr(c, "kernel_shape", std::vector<int64_t>{a.kernel[0], a.kernel[1]});
        attr(c, "strides", std::vector<int64_t>{a.stride[0], a.stride[1]});
        attr(c, "pads",
             std::vector<int64_t>{a.padding[0], a.padding[1], a.pad_end(0), a.pad_end(1)});
        attr(c, "ceil_mode", int64_t(a.ceil_mode));
        if (n.op == OpKind::kAvgPool2d) attr(c, "count_include_pad", int64_t(a.count_include_pad));
        if (a.dilation[0] != 1 || a.dilation[1] != 1) {
          if (n.op == OpKind::kAvgPool2d) unsupported(n, "average pooling with dilation (ONNX has it from opset 19)");
          attr(c, "dilations", std::vector<int64_t>{a.dilation[0], a.dilation[1]});
        }
        return;
      }
      case OpKind::kConcat: {
        std::vector<std::string> ins;
        for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(in(i));
        attr(node("Concat", ins, {out}), "axis", int64_t(a.axes[0]));
        return;
      }
      case OpKind::kSoftmax:
      case OpKind::kLogSoftmax:
        attr(node(n.op == OpKind::kSoftmax ? "Softmax" : "LogSoftmax", {in(0)}, {out}), "axis",
             int64_t(a.axes.empty() ? -1 : a.axes[0]));
        return;
      case OpKind::kTranspose:
        attr(node("Transpose", {in(0)}, {out}), "perm",
             std::vector<int64_t>(a.axes.begin(), a.axes.end()));
        return;
      case OpKind::kPad: {
        auto* c = node("Pad", {in(0), ints_const(a.pads), scalar(a.scalar)}, {out});
        attr(c, "mode",
             std::string(a.pad_mode == OpAttrs::PadMode::kConstant  ? "constant"
                         : a.pad_mode == OpAttrs::PadMode::kReflect ? "reflect"
                                                                    : "edge"));
        return;
      }
      case OpKind::kLrn: {
        auto* c = node("LRN", {in(0)}, {out});
        attr(c, "size", int64_t(a.kernel[0])), attr(c, "alpha", float(a.scalar)),
            attr(c, "beta", float(a.scalar2));
        attr(c, "bias", float(a.bias));
        return;
      }
      case OpKind::kResizeNearest:
      case OpKind::kResizeBilinear: {
        using C = OpAttrs::ResizeCoord;
        const bool linear = n.op == OpKind::kResizeBilinear;
        const Shape& y = g_.shape(n.outputs[0]);
        if (a.resize.scale[0] > 0 || a.resize.scale[1] > 0)
          unsupported(n, "a resize with the model's own scale");
        // Sizes of the spatial axes only (opset 18's axes): the batch stays free.
        auto* c = node("Resize", {in(0), "", "", ints_const({y[2], y[3]})}, {out});
        attr(c, "axes", std::vector<int64_t>{2, 3});
        attr(c, "mode", std::string(linear ? "linear" : "nearest"));
        const C coord = a.resize.coord;
        const char* cm = coord == C::kTorch              ? (linear ? "half_pixel" : "asymmetric")
                         : coord == C::kHalfPixel        ? "half_pixel"
                         : coord == C::kPytorchHalfPixel ? "pytorch_half_pixel"
                         : coord == C::kAlignCorners     ? "align_corners"
                         : coord == C::kAsymmetric       ? "asymmetric"
                                                         : "tf_half_pixel_for_nn";
        attr(c, "coordinate_transformation_mode", std::string(cm));
        if (!linear) {
          using R = OpAttrs::NearestRound;
          const R r = coord == C::kTorch ? R::kFloor : a.resize.round;
          attr(c, "nearest_mode",
               std::string(r == R::kFloor              ? "floor"
                           : r == R::kCeil             ? "ceil"
                           : r == R::kRoundPreferFloor ? "round_prefer_floor"
                                                       : "round_prefer_ceil"));
        }
        return;
      }
      default:
        unsupported(n,
                    "has no ONNX form here (export takes forward graphs of the conv-net op set)");
    }
  }

  const Graph& g_;
  std::map<std::string, const Weight*> weights_;
  ::onnx::ModelProto m_;
  ::onnx::GraphProto* gp_ = nullptr;
  int64_t batch_ = -1;
  bool batch_dependent_ = false;
};

}  // namespace

void export_file(const Graph& g, const std::vector<Weight>& weights, const std::string& path) {
  const std::string bytes = Exporter(g, weights).run();
  io::write_file_atomic(path, bytes);
}

}  // namespace rg::onnx
