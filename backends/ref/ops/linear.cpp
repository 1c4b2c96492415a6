// SPDX-License-Identifier: Apache-2.0
// matmul (either operand transposed, batch axes broadcast), log_softmax and
// softmax along an axis with log_softmax's gradient (engine/plane_loops.h's
// rows), accumulated in double; transpose.
#include <algorithm>
#include <cmath>

#include "backends/ref/ops/ref_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"
#include "engine/strided_walk.h"

namespace rg::ref {
namespace {

// y [batch, M, N] = op(a) @ op(b), accumulated in double (this is the oracle).
template <typename T>
void matmul(const MatMulGeometry& geo, const T* a0, const T* b0, T* y0) {
  for (int64_t t = 0; t < geo.batch; ++t) {
    const T *a = a0 + geo.a_off[size_t(t)], *b = b0 + geo.b_off[size_t(t)];
    T* y = y0 + t * geo.m * geo.n;
    for (int64_t i = 0; i < geo.m; ++i)
      for (int64_t j = 0; j < geo.n; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < geo.k; ++k)
          acc += double(a[geo.a_index(i, k)]) * double(b[geo.b_index(k, j)]);
        y[i * geo.n + j] = T(acc);
      }
  }
}

template <typename T>
void lower_transpose(RefKernel<T>& k, const Node& n) {
  const Shape& ys = k.graph().shape(n.outputs[0]);
  k.add_step([&k, x = n.inputs[0], y = n.outputs[0], count = numel(ys),
              walk = StridedWalk(ys, transpose_strides(k.graph(), n))] {
    walk.run(0, count, [xp = k.p(x), yp = k.p(y)](int64_t e, int64_t i) { yp[e] = xp[i]; });
  });
}

template <typename T>
void lower_matmul(RefKernel<T>& k, const Node& n) {
  k.add_step([&k, geo = matmul_geometry(k.graph(), n), a = n.inputs[0], b = n.inputs[1],
              y = n.outputs[0]] { matmul(geo, k.p(a), k.p(b), k.p(y)); });
}

template <typename T>
void lower_log_softmax(RefKernel<T>& k, const Node& n) {
  const ValueId fwd = n.inputs.size() > 1 ? n.inputs[1] : kNoValue;
  k.add_step([&k, geo = row_geometry(k.graph(), n), x = n.inputs[0], fwd, y = n.outputs[0]] {
    for (int64_t r = 0; r < geo.rows; ++r) softmax_row(geo, k.p(x), fwd == kNoValue ? nullptr : k.p(fwd), k.p(y), r);
  });
}

const RefOp kOps[] = {
    {OpKind::kMatMul, lower_matmul<float>, lower_matmul<double>},
    {OpKind::kLogSoftmax, lower_log_softmax<float>, lower_log_softmax<double>},
    {OpKind::kLogSoftmaxBackward, lower_log_softmax<float>, lower_log_softmax<double>},
    {OpKind::kSoftmax, lower_log_softmax<float>, lower_log_softmax<double>},
    {OpKind::kTranspose, lower_transpose<float>, lower_transpose<double>},
};

}  // namespace

std::span<const RefOp> linear_ops() {
  return kOps;
}

}  // namespace rg::ref
