// SPDX-License-Identifier: Apache-2.0
// Pooling over NCHW's spatial axes, attrs.kernel, stride, padding (and
// padding_end), dilation (forward only), ceil_mode: max_pool2d (padding never wins), its gradient max_pool2d_backward
// (dy, x) -> dx (each window's dy goes to its first maximum), avg_pool2d
// (attrs.count_include_pad) and its gradient avg_pool2d_backward (dy) -> dx.
#include "graph/op_rules.h"
#include "graph/ops/shape_checks.h"

namespace rg {
namespace {

using namespace shape_checks;

// The output of pooling `x` (NCHW) with a's kernel, stride, padding (before and after) and ceil_mode.
TensorDesc pooled(const std::string& node, const TensorDesc& x, const OpAttrs& a) {
  expect_rank(node, "input", x, 4);
  // Padding below the kernel (ONNX's rule; PyTorch's, at most half of it, is
  // stricter): every window then overlaps the input.
  // With dilation (the taps' spacing), the padding stays below the kernel's extent.
  for (size_t i = 0; i < 2; ++i) {
    const int64_t ext = (int64_t(a.kernel[i]) - 1) * a.dilation[i] + 1;
    if (a.kernel[i] < 1 || a.stride[i] < 1 || a.dilation[i] < 1 || a.padding[i] < 0 || a.padding[i] >= ext ||
        a.pad_end(i) < 0 || a.pad_end(i) >= ext)
      fail(node, "needs kernel >= 1, stride >= 1, dilation >= 1 and 0 <= padding < kernel");
  }
  const Shape& s = x.shape;
  auto out = [&](size_t i) {
    const int64_t in = s[2 + i], k = a.kernel[i], st = a.stride[i], p = a.padding[i], pe = a.pad_end(i);
    const int64_t ext = (k - 1) * a.dilation[i] + 1;
    if (!a.ceil_mode) return conv_out(in, int(k), int(st), int(p), int(pe), a.dilation[i]);
    // PyTorch's rule: round up, then drop a last window that would start in
    // the trailing padding.
    int64_t o = (in + p + pe - ext + st - 1) / st + 1;
    if ((o - 1) * st >= in + p) --o;
    return o;
  };
  const int64_t ho = out(0), wo = out(1);
  if (ho <= 0 || wo <= 0) fail(node, "input " + shape_str(s) + " too small for the pooling window");
  return TensorDesc{{s[0], s[1], ho, wo}, x.dtype};
}

// Dilated pooling (ONNX inference) has no gradient here.
void forward_only_with_dilation(const Node& n) {
  if (n.attrs.dilation[0] != 1 || n.attrs.dilation[1] != 1)
    fail(n.name, "the gradient of pooling with dilation is not supported");
}

std::vector<TensorDesc> pool_shape(const ShapeArgs& s) {
  return {pooled(s.node, s.d(0), s.a)};
}

std::vector<TensorDesc> max_pool2d_backward_shape(const ShapeArgs& s) {
  if (!(pooled(s.node, s.d(1), s.a) == s.d(0)))
    fail(s.node, "output gradient " + desc_str(s.d(0)) + " is not the pooled shape of input " +
                     desc_str(s.d(1)));
  return {s.d(1)};
}

std::vector<TensorDesc> avg_pool2d_backward_shape(const ShapeArgs& s) {
  const TensorDesc x{s.a.shape, s.d(0).dtype};
  if (!(pooled(s.node, x, s.a) == s.d(0)))
    fail(s.node, "output gradient " + desc_str(s.d(0)) + " is not the pooled shape of " + shape_str(s.a.shape));
  return {x};
}

const OpRule kRules[] = {
    {OpKind::kMaxPool2d, "max_pool2d", 1, 1, 0, pool_shape,
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout,
        ForwardValues&) -> std::vector<ValueId> {
       forward_only_with_dilation(n);
       return {g.add_node(OpKind::kMaxPool2dBackward, {dout[0], n.inputs[0]}, n.attrs)[0]};
     }},
    {OpKind::kMaxPool2dBackward, "max_pool2d_backward", 2, 1, 0, max_pool2d_backward_shape,
     nullptr},
    {OpKind::kAvgPool2d, "avg_pool2d", 1, 1, 0, pool_shape,
     [](Graph& g, const Node& n, const std::vector<ValueId>& dout,
        ForwardValues&) -> std::vector<ValueId> {
       forward_only_with_dilation(n);
       OpAttrs a = n.attrs;
       a.shape = g.shape(n.inputs[0]);  // only its shape: x need not live until the backward pass
       return {g.add_node(OpKind::kAvgPool2dBackward, {dout[0]}, a)[0]};
     }},
    {OpKind::kAvgPool2dBackward, "avg_pool2d_backward", 1, 1, 0, avg_pool2d_backward_shape, nullptr},
};

}  // namespace

std::span<const OpRule> pooling_op_rules() {
  return kRules;
}

}  // namespace rg
