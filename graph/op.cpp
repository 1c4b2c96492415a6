#include "graph/op.h"

#include "graph/elementwise_ops.h"

namespace rg {

const char* op_name(OpKind k) {
  if (const ElementwiseOp* e = elementwise_op(k)) return e->name;
  switch (k) {
    case OpKind::kInput: return "input";
    case OpKind::kVariable: return "variable";
    case OpKind::kFill: return "fill";
    case OpKind::kConv2d: return "conv2d";
    case OpKind::kConvTranspose2d: return "conv_transpose2d";
    case OpKind::kConv2dBackwardWeight: return "conv2d_backward_weight";
    case OpKind::kBatchNormTrain: return "batch_norm_train";
    case OpKind::kBatchNormInference: return "batch_norm_inference";
    case OpKind::kBatchNormBackward: return "batch_norm_backward";
    case OpKind::kBatchNormRunningUpdate: return "batch_norm_running_update";
    case OpKind::kMatMul: return "matmul";
    case OpKind::kLogSoftmax: return "log_softmax";
    case OpKind::kLogSoftmaxBackward: return "log_softmax_backward";
    case OpKind::kMean: return "mean";
    case OpKind::kSumTo: return "sum_to";
    case OpKind::kBroadcastTo: return "broadcast_to";
    case OpKind::kReshape: return "reshape";
    case OpKind::kAdamUpdate: return "adam_update";
    case OpKind::kIncrement: return "increment";
    case OpKind::kMaxPool2d: return "max_pool2d";
    case OpKind::kMaxPool2dBackward: return "max_pool2d_backward";
    case OpKind::kAvgPool2d: return "avg_pool2d";
    case OpKind::kConcat: return "concat";
    case OpKind::kResizeBilinear: return "resize_bilinear";
    default: break;  // elementwise: above
  }
  return "?";
}

bool is_elementwise(OpKind k) { return elementwise_op(k) != nullptr; }

bool is_state_update(OpKind k) {
  return k == OpKind::kAdamUpdate || k == OpKind::kBatchNormRunningUpdate || k == OpKind::kIncrement;
}

bool is_leaf(OpKind k) { return k == OpKind::kInput || k == OpKind::kVariable || k == OpKind::kFill; }

int num_outputs(OpKind k) {
  switch (k) {
    case OpKind::kBatchNormTrain:
    case OpKind::kBatchNormBackward:
    case OpKind::kAdamUpdate:
      return 3;
    default:
      return 1;
  }
}

}  // namespace rg

namespace rg {
int state_alias_input(OpKind k, int output_index) {
  if (k == OpKind::kAdamUpdate) return output_index == 0 ? 0 : output_index + 1;  // p, m, v
  return 0;
}
}  // namespace rg
