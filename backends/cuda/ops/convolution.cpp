// SPDX-License-Identifier: Apache-2.0
// Convolutions on a CUDA backend: cuDNN (cuda_conv.cpp) on a device, the
// reference backend's im2col code in host emulation; bf16 precision wraps
// each in conversion kernels. The group's elementwise chain follows as one
// generated kernel.
#include "backends/cuda/ops/cuda_ops.h"

namespace rg::cuda {
namespace {

void build_conv(CudaKernel& k, const Node& n) {
  const Graph& g = k.graph();
  CudaTarget& be = k.target();
  const ConvGeometry geo = conv_geometry(g, n);
  k.place(n.outputs[0]);
  CudaKernel::Conv c;
  c.kind = n.op;
  c.bf16 = be.options().precision == CudaPrecision::kBF16 && k.T() == "float";
  if (be.emulate()) {
    c.geo = geo;
    c.ws = k.alloc(size_t(c.geo.col_rows() * c.geo.col_cols()) * dtype_size(g.float_type()));
  } else if (!be.dry()) {  // code generation only: no cuDNN, but the bf16 conversions are generated
    if (!geo.one_padding_per_axis())
      fail(std::string(op_name(n.op)) + " node '" + n.name + "' (#" + std::to_string(k.group().nodes.front()) +
           "): its padding differs between the top and bottom or left and right (" + std::to_string(geo.ph) +
           "/" + std::to_string(geo.pad_bottom()) + ", " + std::to_string(geo.pw) + "/" +
           std::to_string(geo.pad_right()) +
           "), which cuDNN's convolution descriptor cannot express; run it on the CPU backends, or pad "
           "explicitly (Graph::pad) before the convolution");
    c.op = std::make_shared<const ConvOp>(be.cudnn(), n.op, geo, g.float_type(), be.options(),
                                          be.tune());
    c.ws = k.alloc(c.op->workspace_bytes());
  }
  c.a = k.home(n.inputs[0]);
  c.b = k.home(n.inputs[1]);
  c.out = k.home(n.outputs[0]);
  if (!c.bf16) {
    k.add_conv(std::move(c));
    return;
  }
  // bf16: operands rounded to bf16 copies in scratch, cuDNN reads and writes
  // bf16 (accumulating in f32), the result is widened back into the f32 value.
  // Weights and everything outside convolutions stay f32 (f32 master weights
  // and Adam moments), as torch.autocast(dtype=torch.bfloat16) does.
  const int64_t na = g.desc(n.inputs[0]).numel(), nb = g.desc(n.inputs[1]).numel(),
                no = g.desc(n.outputs[0]).numel();
  const Arg a16 = Arg::scratch(k.alloc(size_t(na) * 2)),
            b16 = Arg::scratch(k.alloc(size_t(nb) * 2)),
            o16 = Arg::scratch(k.alloc(size_t(no) * 2));
  // A result that only this group's elementwise chain reads stays bf16: the
  // chain widens it as it loads it (no conversion kernel, no f32 copy).
  const bool chain_widens = k.group().is_internal(n.outputs[0]);
  c.numel[0] = size_t(na), c.numel[1] = size_t(nb), c.numel[2] = size_t(no);
  if (be.emulate())
    for (int i = 0; i < 3; ++i) c.tmp[i] = k.alloc(c.numel[i] * 4);
  k.add_launch(make_bf16_convert(na, true, c.a, a16, be.sms(), be.block()));
  k.add_launch(make_bf16_convert(nb, true, c.b, b16, be.sms(), be.block()));
  const Arg result = c.out;
  c.a = a16, c.b = b16, c.out = o16;
  k.add_conv(std::move(c));
  if (chain_widens)
    k.keep_bf16(n.outputs[0], o16);
  else
    k.add_launch(make_bf16_convert(no, false, o16, result, be.sms(), be.block()));
}

void lower_conv(CudaKernel& k, const Node& n) {
  build_conv(k, n);
  k.build_chain(1, EwSpec{k.T(), k.group().shape, {}, {}, {}, {}}, {});
}

const CudaOp kOps[] = {
    {OpKind::kConv2d, lower_conv},
    {OpKind::kConvTranspose2d, lower_conv},
    {OpKind::kConv2dBackwardWeight, lower_conv},
};

}  // namespace

std::span<const CudaOp> convolution_ops() {
  return kOps;
}

}  // namespace rg::cuda
