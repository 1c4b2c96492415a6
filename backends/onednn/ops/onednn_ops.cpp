// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/ops/onednn_ops.h"

namespace rg::onednn {

const OpRegistry<OneDnnOp>& onednn_ops() {
  static const OpRegistry<OneDnnOp> registry(
      "onednn", {leaf_ops(), convolution_ops(), normalization_ops(), reduction_ops(), state_ops(),
                 linear_ops(), pooling_ops(), image_ops()});
  return registry;
}

}  // namespace rg::onednn
