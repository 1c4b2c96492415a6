// SPDX-License-Identifier: Apache-2.0
#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {

const OpRegistry<CudaOp>& cuda_ops() {
  static const OpRegistry<CudaOp> registry(
      "cuda", {leaf_ops(), convolution_ops(), normalization_ops(), reduction_ops(), state_ops(),
               pooling_ops(), linear_ops(), image_ops()});
  return registry;
}

}  // namespace rg::cuda
