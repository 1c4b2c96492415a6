// pad and resize_nearest on the oneDNN backend: the per-axis gather of
// engine/op_geometry.h as a loop of ours over plain values, rows in parallel.
// (oneDNN's resampling rounds its nearest source otherwise than PyTorch and
// ONNX's asymmetric floor mode, and it has no padding primitive.)
#include <algorithm>

#include "backends/onednn/ops/onednn_ops.h"
#include "engine/op_geometry.h"

namespace rg::onednn {
namespace {

size_t lower_axis_gather(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  k.add_fn(
      [&k, geo = axis_gather(k.graph(), n), x = n.inputs[0], y = n.outputs[0]] {
        const float* xp = k.fp(x);
        float* yp = k.fp(y);
        const int64_t row = geo.out.back(), rows = numel(geo.out) / std::max<int64_t>(row, 1);
        const std::vector<int64_t>& last = geo.map.back();
        const float fill = float(geo.fill);
#pragma omp parallel for schedule(static) if (rows * row >= 32768)
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t base = geo.row_offset(r);
          float* yr = yp + r * row;
          if (base < 0) {  // the whole row is padding
            std::fill(yr, yr + row, fill);
            continue;
          }
          for (int64_t i = 0; i < row; ++i)
            yr[i] = last[size_t(i)] < 0 ? fill : xp[base + last[size_t(i)]];
        }
      },
      std::string(op_name(n.op)) + "(nchw)");
  return 0;
}

const OneDnnOp kOps[] = {
    {OpKind::kPad, lower_axis_gather, values_plain},
    {OpKind::kResizeNearest, lower_axis_gather, values_plain},
};

}  // namespace

std::span<const OneDnnOp> image_ops() {
  return kOps;
}

}  // namespace rg::onednn
