// SPDX-License-Identifier: Apache-2.0
// The classifier's matmul and log_softmax (and its gradient): gather
// kernels, one thread per output element or row (cuda_codegen.cpp).
#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {
namespace {

void lower_matmul(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_matmul(matmul_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]),
                           k.home(n.inputs[1]), k.home(n.outputs[0]), be.sms(), be.block()));
}

void lower_log_softmax(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  const Arg y = n.inputs.size() > 1 ? k.home(n.inputs[1]) : Arg{};
  k.add_launch(make_log_softmax(row_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]), y,
                                k.home(n.outputs[0]), be.sms(), be.block()));
}

// An elementwise kernel over y that loads x with permuted strides.
void lower_transpose(CudaKernel& k, const Node& n) {
  EwSpec s{k.T(), k.graph().shape(n.outputs[0]), {}, {}, {}, {}};
  s.loads.push_back({k.home(n.inputs[0]), transpose_strides(k.graph(), n), false, {}});
  s.stores.push_back({k.home(n.outputs[0]), "l0"});
  k.add_ew(s);
}

const CudaOp kOps[] = {
    {OpKind::kSoftmax, lower_log_softmax},
    {OpKind::kTranspose, lower_transpose},
    {OpKind::kMatMul, lower_matmul},
    {OpKind::kLogSoftmax, lower_log_softmax},
    {OpKind::kLogSoftmaxBackward, lower_log_softmax},
};

}  // namespace

std::span<const CudaOp> linear_ops() {
  return kOps;
}

}  // namespace rg::cuda
