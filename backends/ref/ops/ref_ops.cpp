// SPDX-License-Identifier: Apache-2.0
#include "backends/ref/ops/ref_ops.h"

namespace rg::ref {

const OpRegistry<RefOp>& ref_ops() {
  static const OpRegistry<RefOp> registry(
      "ref", {leaf_ops(), convolution_ops(), normalization_ops(), reduction_ops(), state_ops(),
              pooling_ops(), linear_ops(), image_ops()});
  return registry;
}

}  // namespace rg::ref
