// SPDX-License-Identifier: Apache-2.0
#include "engine/conv_geometry.h"

namespace rg {

ConvGeometry conv_geometry(const Graph& g, const Node& n) {
  ConvGeometry r;
  ValueId weights;
  switch (n.op) {
    case OpKind::kConv2d:
      r.in = n.inputs[0], r.out = n.outputs[0], weights = n.inputs[1];
      break;
    case OpKind::kConvTranspose2d:
      r.in = n.outputs[0], r.out = n.inputs[0], weights = n.inputs[1];
      break;
    default:
      r.in = n.inputs[0], r.out = n.inputs[1], weights = n.outputs[0];
      break;  // backward weight
  }
  const Shape &x = g.shape(r.in), &y = g.shape(r.out), &w = g.shape(weights);
  r.n = x[0], r.c_in = x[1], r.h = x[2], r.w = x[3];
  r.c_out = y[1], r.ho = y[2], r.wo = y[3];
  r.kh = w[2], r.kw = w[3];
  r.sh = n.attrs.stride[0], r.sw = n.attrs.stride[1], r.ph = n.attrs.padding[0],
  r.pw = n.attrs.padding[1];
  r.dh = n.attrs.dilation[0], r.dw = n.attrs.dilation[1];
  r.groups = n.attrs.groups;
  return r;
}

bool is_convolution(OpKind k) {
  return k == OpKind::kConv2d || k == OpKind::kConvTranspose2d ||
         k == OpKind::kConv2dBackwardWeight;
}

}  // namespace rg
