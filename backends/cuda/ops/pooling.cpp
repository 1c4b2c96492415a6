// SPDX-License-Identifier: Apache-2.0
// Max and average pooling and max pooling's gradient: gather kernels, one
// thread per output element (cuda_codegen.cpp), the reference's arithmetic.
#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {
namespace {

void lower_pool(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_pool2d(pool_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]),
                           k.home(n.outputs[0]), be.sms(), be.block()));
}

void lower_max_pool_backward(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_max_pool2d_backward(pool_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]),
                                        k.home(n.inputs[1]), k.home(n.outputs[0]), be.sms(),
                                        be.block()));
}

void lower_avg_pool_backward(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_avg_pool2d_backward(pool_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]),
                                        k.home(n.outputs[0]), be.sms(), be.block()));
}

const CudaOp kOps[] = {
    {OpKind::kAvgPool2dBackward, lower_avg_pool_backward},
    {OpKind::kMaxPool2d, lower_pool},
    {OpKind::kAvgPool2d, lower_pool},
    {OpKind::kMaxPool2dBackward, lower_max_pool_backward},
};

}  // namespace

std::span<const CudaOp> pooling_ops() {
  return kOps;
}

}  // namespace rg::cuda
