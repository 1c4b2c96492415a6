// SPDX-License-Identifier: Apache-2.0
// ONNX's convolutions and linear layers: Conv, ConvTranspose (groups,
// dilation, asymmetric and auto pads, output_padding and output_shape),
// BatchNormalization and InstanceNormalization (inference), Gemm and MatMul.
// 1-D convolutions run as 2-D ones of height 1.
#include <numeric>

#include "frontends/onnx/onnx_importer.h"
#include "frontends/onnx/ops/spatial.h"

namespace rg::onnx {
namespace {

Graph::ConvOptions conv_options(const std::vector<int64_t>& stride,
                                const std::vector<int64_t>& pads, const std::vector<int64_t>& dil,
                                int64_t groups) {
  Graph::ConvOptions o;
  for (size_t i = 0; i < 2; ++i) {
    o.stride[i] = int(stride[i]), o.dilation[i] = int(dil[i]);
    o.padding[i] = int(pads[i]), o.padding_end[i] = int(pads[2 + i]);
  }
  o.groups = int(groups);
  return o;
}

ValueId add_bias(NodeContext& c, ValueId y, size_t input) {
  if (!c.has_input(input)) return y;
  const int64_t ch = c.graph().shape(y)[1];
  if (c.shape(input) != Shape{ch})
    c.unsupported("bias " + shape_str(c.shape(input)) + " must have " + std::to_string(ch) +
                  " values");
  return c.graph().add(y, c.graph().reshape(c.value(input), {1, ch, 1, 1}));
}

void conv_like(NodeContext& c, bool transposed) {
  const Shape xs = c.shape(0), ws = c.shape(1);
  const size_t dims = spatial_dims(c, xs);
  if (ws.size() != xs.size())
    c.unsupported("weight " + shape_str(ws) + " does not match input " + shape_str(xs));
  const std::vector<int64_t> stride = spatial_attr(c, "strides", dims, 1),
                             dil = spatial_attr(c, "dilations", dims, 1);
  std::vector<int64_t> kernel = spatial_attr(c, "kernel_shape", dims, dims == 1 ? 1 : ws[2]);
  const std::vector<int64_t> wk =
      dims == 1 ? std::vector<int64_t>{1, ws[2]} : std::vector<int64_t>{ws[2], ws[3]};
  if (c.has_attr("kernel_shape") && kernel != wk)
    c.unsupported("kernel_shape does not match the weight " + shape_str(ws));
  const int64_t groups = c.attr_int("group", 1);
  std::vector<int64_t> pads = spatial_pads(c, dims);
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> out_pad =
      transposed ? spatial_attr(c, "output_padding", dims, 0) : std::vector<int64_t>{0, 0};
  const std::vector<int64_t> out_shape =
      transposed ? c.attr_ints("output_shape") : std::vector<int64_t>{};
  const Shape in2 = dims == 1 ? Shape{1, xs[2]} : Shape{xs[2], xs[3]};
  const std::vector<int64_t> ext = {(wk[0] - 1) * dil[0] + 1, (wk[1] - 1) * dil[1] + 1};
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
      auto_pad != "SAME_LOWER")
    c.unsupported_attr("auto_pad", auto_pad);
  if (auto_pad == "VALID") pads.assign(4, 0);
  if (!transposed && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER"))
    same_pads(pads, in2, ext, stride, auto_pad == "SAME_UPPER");
  if (transposed && (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")) {
    // ONNX: total padding = stride * (in - 1) + output_padding + extent - output size; SAME_UPPER
    // puts the smaller half first, otherwise last. Without output_shape, SAME gives in * stride.
    std::vector<int64_t> want(2);
    for (size_t i = 0; i < 2; ++i) want[i] = in2[i] * stride[i];
    if (!out_shape.empty()) {
      if (out_shape.size() != dims)
        c.unsupported("output_shape must have one value per spatial axis");
      want = dims == 1 ? std::vector<int64_t>{1, out_shape[0]} : out_shape;
    }
    for (size_t i = 0; i < 2; ++i) {
      const int64_t total = stride[i] * (in2[i] - 1) + out_pad[i] + ext[i] - want[i];
      if (total < 0) {  // a larger output than the full one: the rest is output padding
        out_pad[i] -= total;
        pads[i] = pads[2 + i] = 0;
        continue;
      }
      const bool upper = auto_pad == "SAME_UPPER";
      pads[i] = upper ? total / 2 : total - total / 2,
      pads[2 + i] = upper ? total - total / 2 : total / 2;
    }
  }
  Graph& g = c.graph();
  const ValueId x = to_2d_spatial(c, c.value(0)), w = to_2d_spatial(c, c.value(1));
  Graph::ConvOptions o = conv_options(stride, pads, dil, groups);
  o.output_padding = {int(out_pad[0]), int(out_pad[1])};
  const ValueId y = transposed ? g.conv_transpose2d(x, w, o) : g.conv2d(x, w, o);
  c.set_output(0, from_2d_spatial(c, add_bias(c, y, 2), xs.size()));
}

void conv(NodeContext& c) {
  conv_like(c, false);
}
void conv_transpose(NodeContext& c) {
  conv_like(c, true);
}

// The engine's normalisations take NCHW: [N, C] and [N, C, L] gain unit axes.
ValueId nchw(NodeContext& c, ValueId x) {
  Shape s = c.graph().shape(x);
  if (s.size() < 2 || s.size() > 4)
    c.unsupported("input " + shape_str(s) + " must have rank 2 to 4");
  if (s.size() == 4) return x;  // no view: it would split the normalisation from what it fuses with
  while (s.size() < 4) s.push_back(1);
  return c.graph().reshape(x, s);
}

// y back to x's shape where nchw() changed it.
ValueId back_to_shape(NodeContext& c, ValueId y, const Shape& xs) {
  return c.graph().shape(y) == xs ? y : c.graph().reshape(y, xs);
}

void batch_norm(NodeContext& c) {
  const double eps = c.attr_float("epsilon", 1e-5f);
  c.attr_float("momentum", 0.9f);  // running statistics are not updated at inference
  if (c.attr_int("spatial", 1) != 1) c.unsupported_attr("spatial", "0");
  if (c.attr_int("training_mode", 0) != 0) c.unsupported_attr("training_mode", "1");
  const Shape xs = c.shape(0);
  const ValueId y = c.graph().batch_norm_inference(nchw(c, c.value(0)), c.value(1), c.value(2),
                                                   c.value(3), c.value(4), eps);
  c.set_output(0, back_to_shape(c, y, xs));
}

void instance_norm(NodeContext& c) {
  const double eps = c.attr_float("epsilon", 1e-5f);
  const Shape xs = c.shape(0);
  const ValueId y =
      c.graph().group_norm(nchw(c, c.value(0)), c.value(1), c.value(2), int(xs.at(1)), eps);
  c.set_output(0, back_to_shape(c, y, xs));
}

void gemm(NodeContext& c) {
  const bool ta = c.attr_int("transA", 0) != 0, tb = c.attr_int("transB", 0) != 0;
  const double alpha = c.attr_float("alpha", 1.f), beta = c.attr_float("beta", 1.f);
  Graph& g = c.graph();
  ValueId y = g.matmul(c.value(0), c.value(1), ta, tb);
  if (alpha != 1.0) y = g.mul_scalar(y, alpha);
  if (c.has_input(2) && beta != 0.0) {
    ValueId bias = c.value(2);
    if (beta != 1.0) bias = g.mul_scalar(bias, beta);
    y = g.add(y, bias);
  }
  c.set_output(0, y);
}

// numpy's matmul: 1-D operands gain a unit axis (removed from the result);
// batch axes broadcast.
void matmul(NodeContext& c) {
  Shape a = c.shape(0), b = c.shape(1);
  if (a.empty() || b.empty()) c.unsupported("MatMul of a scalar");
  Graph& g = c.graph();
  ValueId av = c.value(0), bv = c.value(1);
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) av = g.reshape(av, a = {1, a[0]});
  if (b1) bv = g.reshape(bv, b = {b[0], 1});
  ValueId y = g.matmul(av, bv);
  Shape out = g.shape(y);
  if (a1) out.erase(out.end() - 2);
  if (b1) out.pop_back();
  c.set_output(0, out == g.shape(y) ? y : g.reshape(y, out));
}

const OnnxOp kOps[] = {
    {"Conv", conv},
    {"ConvTranspose", conv_transpose},
    {"BatchNormalization", batch_norm},
    {"InstanceNormalization", instance_norm},
    {"Gemm", gemm},
    {"MatMul", matmul},
};

}  // namespace

std::span<const OnnxOp> convolution_ops() {
  return kOps;
}

}  // namespace rg::onnx
