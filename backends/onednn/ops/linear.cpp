// SPDX-License-Identifier: Apache-2.0
// matmul on the stored operands (a transposed operand is the same buffer
// described with swapped strides, no reorder), the (log)softmax primitives on
// plain buffers, and transpose as a reorder of strided memory.
#include <algorithm>
#include <cmath>

#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/ops/onednn_ops.h"
#include "engine/op_geometry.h"
#include "engine/plane_loops.h"

namespace rg::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;
constexpr auto vref = OneDnnKernel::vref;

size_t lower_matmul(OneDnnKernel& k, NodeId id) {
  const Graph& g = k.graph();
  const Node& n = g.node(id);
  const Shape &sa = g.shape(n.inputs[0]), &sb = g.shape(n.inputs[1]), &sy = g.shape(n.outputs[0]);
  const size_t r = sy.size();
  // An operand as stored (row-major), seen as y's rank: leading unit axes
  // (oneDNN broadcasts batch axes of size 1), the last two swapped by strides
  // where it is transposed.
  auto operand_md = [r](const Shape& stored, bool transposed) {
    const size_t rs = stored.size();
    memory::dims d(r, 1), st(r, 0);
    int64_t stride = 1;
    for (size_t i = rs; i-- > 0;) {
      d[r - rs + i] = stored[i], st[r - rs + i] = stride;
      stride *= stored[i];
    }
    for (size_t i = 0; i < r - rs; ++i) st[i] = stride;
    if (transposed) std::swap(d[r - 1], d[r - 2]), std::swap(st[r - 1], st[r - 2]);
    return memory::desc(d, dt::f32, st);
  };
  const memory::desc amd = operand_md(sa, n.attrs.transpose_a),
                     bmd = operand_md(sb, n.attrs.transpose_b);
  const memory::desc ymd = k.data_md(n.outputs[0]);
  if (ymd.dims() != memory::dims(sy.begin(), sy.end()))
    throw std::logic_error("onednn backend: matmul output is not plain");
  auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(amd, bmd, ymd), user_scratchpad_attr(),
                                         k.ctx().eng);
  k.add_prim(dnnl::matmul(pd), pd,
             {{DNNL_ARG_SRC, amd}, {DNNL_ARG_WEIGHTS, bmd}, {DNNL_ARG_DST, ymd}},
             {vref(n.inputs[0]), vref(n.inputs[1]), vref(n.outputs[0])}, "matmul");
  return 0;
}

// softmax or log_softmax along the rows of geo, in double as the reference:
// for the axes oneDNN 2.6 has only a reference kernel for (one that is not
// the innermost of a plain value).
void add_rows_loop(OneDnnKernel& k, const RowGeometry& geo, ValueId x, ValueId y) {
  k.add_fn(
      [&k, geo, x, y] {
        const float* xp = k.fp(x);
        float* yp = k.fp(y);
#pragma omp parallel for schedule(static) if (geo.rows * geo.length >= 32768)
        for (int64_t r = 0; r < geo.rows; ++r) softmax_row(geo, xp, static_cast<const float*>(nullptr), yp, r);
      },
      geo.softmax ? "softmax(rows)" : "logsoftmax_fwd(rows)");
}

// log_softmax along its axis and its gradient.
size_t lower_log_softmax(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const ValueId y = n.op == OpKind::kLogSoftmax ? n.outputs[0] : n.inputs[1];
  const memory::desc md = k.data_md(y);
  const RowGeometry geo = row_geometry(k.graph(), n);
  const int axis = geo.axis;
  const dnnl::engine& eng = k.ctx().eng;
  auto fd = dnnl::logsoftmax_forward::desc(dnnl::prop_kind::forward_training, md, axis);
  auto fpd = dnnl::logsoftmax_forward::primitive_desc(fd, user_scratchpad_attr(), eng);
  if (n.op == OpKind::kLogSoftmax && is_reference_impl(fpd.impl_info_str())) {
    add_rows_loop(k, geo, n.inputs[0], y);
    return 0;
  }
  if (n.op == OpKind::kLogSoftmax) {
    k.add_prim(dnnl::logsoftmax_forward(fpd), fpd, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}},
               {vref(n.inputs[0]), vref(y)}, "logsoftmax_fwd");
    return 0;
  }
  auto bd = dnnl::logsoftmax_backward::desc(md, md, axis);
  auto pd = dnnl::logsoftmax_backward::primitive_desc(bd, user_scratchpad_attr(), eng, fpd);
  if (is_reference_impl(pd.impl_info_str())) {
    // oneDNN 2.6 has no JIT kernel for it on AVX2: dx = dy - exp(y) * sum(dy)
    // per row, in double as the reference.
    k.add_fn(
        [&k, geo, dy = n.inputs[0], y, dx = n.outputs[0]] {
          for (int64_t r = 0; r < geo.rows; ++r) softmax_row(geo, k.fp(dy), k.fp(y), k.fp(dx), r);
        },
        "logsoftmax_bwd(rows)");
    return 0;
  }
  k.add_prim(dnnl::logsoftmax_backward(pd), pd,
             {{DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_DST, md}, {DNNL_ARG_DIFF_SRC, md}},
             {vref(n.inputs[0]), vref(y), vref(n.outputs[0])}, "logsoftmax_bwd");
  return 0;
}

size_t lower_softmax(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const memory::desc md = k.data_md(n.outputs[0]);
  const RowGeometry geo = row_geometry(k.graph(), n);
  auto pd = dnnl::softmax_forward::primitive_desc(
      dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, geo.axis),
      user_scratchpad_attr(), k.ctx().eng);
  if (is_reference_impl(pd.impl_info_str())) {
    add_rows_loop(k, geo, n.inputs[0], n.outputs[0]);
    return 0;
  }
  k.add_prim(dnnl::softmax_forward(pd), pd, {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}},
             {vref(n.inputs[0]), vref(n.outputs[0])}, "softmax_fwd");
  return 0;
}

// A reorder from x described with y's dims and permuted strides to y, plain.
size_t lower_transpose(OneDnnKernel& k, NodeId id) {
  const Node& n = k.graph().node(id);
  const Shape& ys = k.graph().shape(n.outputs[0]);
  const std::vector<int64_t> st = transpose_strides(k.graph(), n);
  const memory::desc from(memory::dims(ys.begin(), ys.end()), dt::f32,
                          memory::dims(st.begin(), st.end()));
  k.add_reorder(from, vref(n.inputs[0]), k.data_md(n.outputs[0]), vref(n.outputs[0]), "transpose");
  return 0;
}

const OneDnnOp kOps[] = {
    {OpKind::kSoftmax, lower_softmax, values_plain},
    {OpKind::kTranspose, lower_transpose, values_plain},
    {OpKind::kMatMul, lower_matmul, values_plain},
    // Described on plain buffers only.
    {OpKind::kLogSoftmax, lower_log_softmax, values_plain},
    {OpKind::kLogSoftmaxBackward, lower_log_softmax, values_plain},
};

}  // namespace

std::span<const OneDnnOp> linear_ops() {
  return kOps;
}

}  // namespace rg::onednn
