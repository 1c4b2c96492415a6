// SPDX-License-Identifier: Apache-2.0
// The static computation graph: an append-only list of nodes in SSA form.
// Node order is a valid topological order (inputs exist before a node is added).
//
// State: a variable is read through a "version" value. A state update (Adam,
// BN running statistics, counters) consumes the current version and produces
// the next one, written in place into the variable's storage. The compiler
// orders every other reader of a version before the update that replaces it,
// so readers see exactly the version they name (docs/contracts.md §3: the generator step
// runs D with the weights that D's Adam update just wrote).
#pragma once

#include <array>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rg/op.h"
#include "rg/tensor.h"

namespace rg {

using ValueId = int;
using NodeId = int;
constexpr ValueId kNoValue = -1;

struct Value {
  TensorDesc desc;
  NodeId producer = -1;
  int output_index = 0;
  std::string name;       // optional, for inspection and binding
  int variable = -1;      // index into Graph::variables() when this value lives in a variable's storage
};

struct Node {
  OpKind op;
  OpAttrs attrs;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  std::string name;
};

struct VariableInfo {
  std::string name;
  TensorDesc desc;
  ValueId initial = kNoValue;  // the version the graph starts from
  ValueId current = kNoValue;  // the newest version (after all updates)
};

struct InputInfo {
  std::string name;
  ValueId value = kNoValue;
};

class GraphError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Graph {
 public:
  explicit Graph(DType float_type = DType::f32) : float_type_(float_type) {}

  DType float_type() const { return float_type_; }

  // --- Leaves ---------------------------------------------------------------
  ValueId input(const std::string& name, Shape shape, std::optional<DType> dtype = {});
  ValueId variable(const std::string& name, Shape shape, std::optional<DType> dtype = {});
  ValueId fill(Shape shape, double value);

  // --- Network ops ----------------------------------------------------------
  ValueId conv2d(ValueId x, ValueId w, int stride, int padding);
  ValueId conv_transpose2d(ValueId x, ValueId w, int stride, int padding, int output_padding = 0);
  ValueId conv2d_backward_weight(ValueId x, ValueId dy, const Shape& weight_shape,
                                 std::array<int, 2> stride, std::array<int, 2> padding);
  struct BatchNormOutputs {
    ValueId y, mean, var;
  };
  BatchNormOutputs batch_norm_train(ValueId x, ValueId gamma, ValueId beta, double eps = 1e-5);
  ValueId batch_norm_inference(ValueId x, ValueId gamma, ValueId beta, ValueId mean, ValueId var,
                               double eps = 1e-5);
  // Training-mode BatchNorm as PyTorch's nn.BatchNorm2d: batch statistics for y,
  // and the running statistics (and counter, if given) updated as state writes.
  ValueId batch_norm(ValueId x, ValueId gamma, ValueId beta, ValueId running_mean,
                     ValueId running_var, ValueId num_batches_tracked, bool training,
                     double momentum = 0.1, double eps = 1e-5);
  ValueId relu(ValueId x);
  ValueId leaky_relu(ValueId x, double slope);
  ValueId tanh(ValueId x);
  // NCHW, floor mode as PyTorch's defaults. Pooling is differentiable
  // (max_pool2d_backward, avg_pool2d_backward); concat and resize are forward-only.
  ValueId max_pool2d(ValueId x, std::array<int, 2> kernel, std::array<int, 2> stride,
                     std::array<int, 2> padding = {0, 0});
  ValueId avg_pool2d(ValueId x, std::array<int, 2> kernel, std::array<int, 2> stride,
                     std::array<int, 2> padding = {0, 0}, bool count_include_pad = true);
  // Every pooling option: padding at the end where it differs (ONNX's
  // asymmetric pads; -1: the same as `padding`) and ceil_mode (PyTorch's).
  struct PoolOptions {
    std::array<int, 2> kernel{1, 1}, stride{1, 1}, padding{0, 0}, padding_end{-1, -1};
    std::array<int, 2> dilation{1, 1};  // the taps' spacing (ONNX's dilations); no gradient when not 1
    bool ceil_mode = false;
    bool count_include_pad = true;  // average pooling only
  };
  ValueId max_pool2d(ValueId x, const PoolOptions& o);
  ValueId avg_pool2d(ValueId x, const PoolOptions& o);
  ValueId concat(const std::vector<ValueId>& xs, int axis);
  // F.interpolate(x, size={h, w}, mode="bilinear", align_corners=False).
  ValueId resize_bilinear(ValueId x, int64_t h, int64_t w);
  // conv2d with per-dimension stride and padding (rectangular kernels).
  ValueId conv2d(ValueId x, ValueId w, std::array<int, 2> stride, std::array<int, 2> padding);
  // The conv-net op set's other builders (rg/op.h says what each computes);
  // Graph::add_node takes any op with its OpAttrs too.
  struct ConvOptions {
    std::array<int, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1}, output_padding{0, 0};
    int groups = 1;
    // Bottom and right padding where it differs from `padding` (ONNX's
    // asymmetric pads); -1: the same. cuDNN cannot express every such case
    // and refuses it, naming the node.
    std::array<int, 2> padding_end{-1, -1};
  };
  ValueId conv2d(ValueId x, ValueId w, const ConvOptions& o);            // w [c_out, c_in / groups, kh, kw]
  ValueId conv_transpose2d(ValueId x, ValueId w, const ConvOptions& o);  // w [c_in, c_out / groups, kh, kw]
  ValueId group_norm(ValueId x, ValueId scale, ValueId bias, int groups, double eps = 1e-5);
  ValueId lrn(ValueId x, int size, double alpha = 1e-4, double beta = 0.75, double bias = 1.0);
  ValueId elu(ValueId x, double alpha = 1.0);
  ValueId clip(ValueId x, double lo, double hi);
  ValueId hard_sigmoid(ValueId x, double alpha = 0.2, double beta = 0.5);
  ValueId prelu(ValueId x, ValueId slope);  // slope broadcasts against x
  ValueId softmax(ValueId x);               // along the last axis
  ValueId transpose(ValueId x, std::vector<int> perm);
  // pads: begin for each axis, then end for each axis (ONNX's order).
  ValueId pad(ValueId x, std::vector<int64_t> pads, OpAttrs::PadMode mode = OpAttrs::PadMode::kConstant,
              double value = 0.0);
  // F.interpolate(x, size={h, w}, mode="nearest").
  ValueId resize_nearest(ValueId x, int64_t h, int64_t w);
  // Nearest or bilinear resize of NCHW's spatial axes to {h, w} with ONNX
  // Resize's modes (OpAttrs::ResizeMode).
  ValueId resize(ValueId x, int64_t h, int64_t w, bool linear, const OpAttrs::ResizeMode& mode);

  // --- Arithmetic (numpy broadcasting) --------------------------------------
  ValueId add(ValueId a, ValueId b);
  ValueId sub(ValueId a, ValueId b);
  ValueId mul(ValueId a, ValueId b);
  ValueId div(ValueId a, ValueId b);
  ValueId add_scalar(ValueId x, double s);
  ValueId mul_scalar(ValueId x, double s);
  ValueId square(ValueId x);
  ValueId mean(ValueId x, std::vector<int> axes = {}, bool keepdims = false);
  ValueId sum_to(ValueId x, const Shape& shape);
  ValueId broadcast_to(ValueId x, const Shape& shape);
  ValueId reshape(ValueId x, const Shape& shape);
  ValueId stop_gradient(ValueId x);
  // a [..., M, K] @ b [..., K, N] (a given as [..., K, M] with transpose_a, b as [..., N, K] with
  // transpose_b); the axes before the last two (batch) broadcast as numpy's matmul.
  ValueId matmul(ValueId a, ValueId b, bool transpose_a = false, bool transpose_b = false);
  // log(softmax(x)) along the last axis, computed stably (x - max - log sum exp).
  ValueId log_softmax(ValueId x);

  // --- State updates (return the new version of the first variable) ---------
  struct AdamConfig {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  };
  // Adam as torch.optim.Adam (bias correction, no weight decay); `step` is the
  // step counter's version after its increment (an i64 scalar).
  ValueId adam_update(ValueId param, ValueId grad, ValueId m, ValueId v, ValueId step,
                      const AdamConfig& cfg);
  ValueId increment(ValueId counter);
  // Writes `value` into the variable whose version `variable` is (kAssign).
  ValueId assign(ValueId variable, ValueId value);

  // Generic node creation with shape inference (used by the builders and autodiff).
  std::vector<ValueId> add_node(OpKind op, std::vector<ValueId> inputs, OpAttrs attrs = {},
                                std::string name = {});

  // --- Outputs --------------------------------------------------------------
  // Values the caller reads after a run; they stay live to the end of the plan.
  // A named output can be read by name (Session::read_output); names are unique
  // among the outputs (GraphError otherwise).
  void mark_output(ValueId v, const std::string& name = {});
  const std::vector<ValueId>& outputs() const { return outputs_; }
  // The output marked with `name`; GraphError naming the outputs there are when none is.
  ValueId output(std::string_view name) const;
  // The same, kNoValue when there is none (no allocation: a run loop may call it).
  ValueId find_output(std::string_view name) const noexcept;

  // --- Access ---------------------------------------------------------------
  const Value& value(ValueId v) const;
  Value& value(ValueId v);
  const Node& node(NodeId n) const { return nodes_.at(static_cast<size_t>(n)); }
  const TensorDesc& desc(ValueId v) const { return value(v).desc; }
  const Shape& shape(ValueId v) const { return value(v).desc.shape; }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  int num_values() const { return static_cast<int>(values_.size()); }
  const std::vector<VariableInfo>& variables() const { return variables_; }
  const std::vector<InputInfo>& inputs() const { return inputs_; }
  int find_variable(std::string_view name) const;  // -1 if absent
  // The variable's newest version (the one a reader should use now).
  ValueId current(int variable) const { return variables_.at(static_cast<size_t>(variable)).current; }
  void set_name(ValueId v, const std::string& name) { value(v).name = name; }
  std::string value_label(ValueId v) const;

  // Recomputation candidates (docs/lowering.md, "Recomputation"): inputs of
  // backward nodes that read a stand-in recomputed from a forward value's own
  // inputs instead of the value itself (autodiff records them). Reading the
  // original there means the same up to rounding; compile() chooses which
  // stand-ins to keep (CompileOptions::recompute) and points the others back.
  struct Recomputation {
    ValueId original = kNoValue;
    std::vector<std::pair<NodeId, int>> readers;  // (node, input index) that read a stand-in
  };
  void note_recomputation(ValueId original, NodeId reader, int input);
  const std::vector<Recomputation>& recomputations() const { return recomputations_; }
  // Points the readers of `original`'s stand-ins back at it and forgets the
  // record; the stand-ins become dead nodes, which the compiler skips.
  void drop_recomputation(ValueId original);

 private:
  ValueId new_value(TensorDesc d, NodeId producer, int index);
  void check_value(ValueId v, const char* what) const;

  DType float_type_;
  // Deques: references to nodes and values stay valid while the graph grows
  // (builders hold shapes across add_node calls).
  std::deque<Node> nodes_;
  std::deque<Value> values_;
  std::vector<VariableInfo> variables_;
  std::vector<InputInfo> inputs_;
  std::vector<ValueId> outputs_;
  std::vector<Recomputation> recomputations_;
};

}  // namespace rg
