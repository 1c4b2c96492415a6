// SPDX-License-Identifier: Apache-2.0
// Concat and bilinear resize: gather kernels, one thread per output element
// (cuda_codegen.cpp), interpolation in double as the reference.
#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {
namespace {

void lower_concat(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  std::vector<Arg> ins;
  for (ValueId v : n.inputs) ins.push_back(k.home(v));
  k.add_launch(make_concat(concat_geometry(k.graph(), n), k.T(), ins, k.home(n.outputs[0]),
                           be.sms(), be.block()));
}

void lower_resize(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_resize_bilinear(resize_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]),
                                    k.home(n.outputs[0]), be.sms(), be.block()));
}

void lower_axis_gather(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_axis_gather(axis_gather(k.graph(), n), k.T(), k.home(n.inputs[0]),
                                k.home(n.outputs[0]), be.sms(), be.block()));
}

const CudaOp kOps[] = {
    {OpKind::kPad, lower_axis_gather},
    {OpKind::kResizeNearest, lower_axis_gather},
    {OpKind::kConcat, lower_concat},
    {OpKind::kResizeBilinear, lower_resize},
};

}  // namespace

std::span<const CudaOp> image_ops() {
  return kOps;
}

}  // namespace rg::cuda
