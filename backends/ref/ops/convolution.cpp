// SPDX-License-Identifier: Apache-2.0
// Convolutions through im2col and a GEMM in double (conv_ref.h).
#include "backends/ref/conv_ref.h"
#include "backends/ref/ops/ref_ops.h"
#include "engine/conv_geometry.h"

namespace rg::ref {
namespace {

template <typename T>
void lower_conv(RefKernel<T>& k, const Node& n) {
  const ConvGeometry geo = conv_geometry(k.graph(), n);
  k.need_columns(size_t(geo.col_rows() * geo.col_cols()));
  const auto run = n.op == OpKind::kConv2d            ? &conv2d_forward<T>
                   : n.op == OpKind::kConvTranspose2d ? &conv2d_backward_data<T>
                                                      : &conv2d_backward_weight<T>;
  k.add_step([&k, geo, run, a = n.inputs[0], b = n.inputs[1], y = n.outputs[0]] {
    run(geo, k.p(a), k.p(b), k.p(y), k.columns());
  });
}

const RefOp kOps[] = {
    {OpKind::kConv2d, lower_conv<float>, lower_conv<double>},
    {OpKind::kConvTranspose2d, lower_conv<float>, lower_conv<double>},
    {OpKind::kConv2dBackwardWeight, lower_conv<float>, lower_conv<double>},
};

}  // namespace

std::span<const RefOp> convolution_ops() {
  return kOps;
}

}  // namespace rg::ref
