// SPDX-License-Identifier: Apache-2.0
// The importer's per-node interface (docs/onnx.md): each ONNX op has a
// converter, in one table per op family (frontends/onnx/ops/*.cpp), that
// reads its node through a NodeContext and builds graph values or folded
// constants. Attributes are read through the context, which refuses any
// attribute the converter did not read, so nothing a converter does not
// understand passes silently.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "frontends/onnx/onnx_tensor.h"
#include "rg/graph.h"
#include "rg/onnx.h"

namespace rg::onnx {

// A value at import: a constant (an initializer or folded) or a graph value.
struct Val {
  std::optional<Const> c;
  ValueId v = kNoValue;
  // A graph input: its name, and its shape where it has neither a value nor
  // a constant (an integer input, only usable as a constant given at import).
  std::string graph_input;
  Shape input_shape;
  // An output the converter does not compute (Dropout's mask, BatchNorm's
  // training statistics): why, said when something reads it.
  std::string unsupported;
  static Val of(ValueId v) {
    Val r;
    r.v = v;
    return r;
  }
  static Val of(Const c) {
    Val r;
    r.c = std::move(c);
    return r;
  }
};

class NodeContext;
using Converter = void (*)(NodeContext&);
struct OnnxOp {
  const char* type;
  Converter convert;
};
std::span<const OnnxOp> convolution_ops();
std::span<const OnnxOp> elementwise_ops();
std::span<const OnnxOp> pooling_ops();
std::span<const OnnxOp> shape_ops();

// What the converters see of the importer.
struct ImportState {
  std::string file;
  int64_t opset = 0;
  Graph* graph = nullptr;
  // Materialises a constant as a graph variable (a weight), once per name.
  std::function<ValueId(const std::string& name, const Const& c)> weight;
  // A constant's floats moved into a weight (Const::in_weight), copied back.
  std::function<std::vector<float>(int64_t weight)> weight_data;
};

class NodeContext {
 public:
  NodeContext(ImportState& state, const ::onnx::NodeProto& node, std::vector<const Val*> inputs);

  const std::string& op() const { return node_.op_type(); }
  int64_t opset() const { return state_.opset; }
  Graph& graph() { return *state_.graph; }

  // Inputs: an absent optional input has an empty name.
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i]; }
  bool is_const(size_t i) const { return has_input(i) && inputs_[i]->c.has_value(); }
  const Const& constant(size_t i, const char* what);  // refused unless a constant
  ValueId value(size_t i);                            // a constant becomes a weight
  Shape shape(size_t i) const;

  // Attributes; each read marks it understood.
  bool has_attr(const char* name) const;
  int64_t attr_int(const char* name, int64_t def);
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> def = {});
  float attr_float(const char* name, float def);
  std::vector<float> attr_floats(const char* name);
  std::string attr_string(const char* name, std::string def);
  std::optional<Const> attr_tensor(const char* name);

  void set_output(size_t i, ValueId v);
  void set_output(size_t i, Const c);

  [[noreturn]] void unsupported(const std::string& why) const;
  [[noreturn]] void unsupported_attr(const char* attr, const std::string& value) const;
  std::string where() const;  // "file: node 'name' (Op)"

  // Refuses attributes nobody read; the outputs set (those not set say so
  // when read).
  std::vector<Val> finish();

 private:
  const ::onnx::AttributeProto* attr(const char* name, int type);
  ImportState& state_;
  const ::onnx::NodeProto& node_;
  std::vector<const Val*> inputs_;
  std::set<std::string> read_;
  std::vector<Val> outputs_;
  std::deque<Const> restored_;  // constants whose floats were moved into weights, copied back
};

// Shape helpers shared by the converters.
int64_t normalized_axis(NodeContext& c, int64_t axis, size_t rank, const char* what);

}  // namespace rg::onnx
