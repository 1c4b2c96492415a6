// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/conv_primitives.h"

namespace rg::onednn {

using dnnl::memory;

namespace {
memory::dims strides(const ConvGeometry& geo) { return {geo.sh, geo.sw}; }
memory::dims pad_l(const ConvGeometry& geo) { return {geo.ph, geo.pw}; }
memory::dims pad_r(const ConvGeometry& geo) { return {geo.pad_bottom(), geo.pad_right()}; }
memory::dims dilates(const ConvGeometry& geo) { return {geo.dh - 1, geo.dw - 1}; }  // oneDNN counts the gaps
memory::format_tag grouped(memory::format_tag t) {
  using tag = memory::format_tag;
  return t == tag::oihw ? tag::goihw : t == tag::iohw ? tag::giohw : t;
}
}  // namespace

bool runs_as_flipped_conv(const Node& n, const ConvGeometry& geo) {
  return n.op == OpKind::kConvTranspose2d && geo.plain() && geo.sh == 1 && geo.sw == 1 && geo.c_in < 16 && geo.ph <= geo.kh - 1 &&
         geo.pw <= geo.kw - 1 && geo.pad_bottom() <= geo.kh - 1 && geo.pad_right() <= geo.kw - 1;
}

// Stride 1: the flipped kernel's padding is kh - 1 - the original's on each side.
ConvGeometry flipped(const ConvGeometry& geo) {
  ConvGeometry c = geo;
  std::swap(c.in, c.out);
  c.c_in = geo.c_out, c.h = geo.ho, c.w = geo.wo;
  c.c_out = geo.c_in, c.ho = geo.h, c.wo = geo.w;
  c.ph = int(geo.kh - 1 - geo.ph), c.pw = int(geo.kw - 1 - geo.pw);
  return c;
}

void flip_transposed_weights(const Shape& w, const float* src, float* dst) {
  const int64_t ci = w[0], co = w[1], kh = w[2], kw = w[3];
  for (int64_t i = 0; i < ci; ++i)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t a = 0; a < kh; ++a)
        for (int64_t b = 0; b < kw; ++b)
          dst[((o * ci + i) * kh + a) * kw + b] = src[((i * co + o) * kh + (kh - 1 - a)) * kw + (kw - 1 - b)];
}

memory::desc conv_weights_md(const ConvGeometry& geo, memory::format_tag t) {
  const int64_t g = geo.groups;
  if (g == 1) return memory::desc({geo.c_out, geo.c_in, geo.kh, geo.kw}, memory::data_type::f32, t);
  return memory::desc({g, geo.c_out / g, geo.c_in / g, geo.kh, geo.kw}, memory::data_type::f32, grouped(t));
}

// A deconvolution's output is the conv2d view's input: oneDNN's weights are
// [c_in, c_out] of that view, PyTorch stores [c_out, c_in / groups] (iohw).
memory::desc deconv_weights_md(const ConvGeometry& geo, memory::format_tag t) {
  const int64_t g = geo.groups;
  if (g == 1) return memory::desc({geo.c_in, geo.c_out, geo.kh, geo.kw}, memory::data_type::f32, t);
  return memory::desc({g, geo.c_in / g, geo.c_out / g, geo.kh, geo.kw}, memory::data_type::f32, grouped(t));
}

namespace {
// Forward (de)convolution primitive descriptor, with or without a bias.
template <typename Prim>
typename Prim::primitive_desc fwd_pd(const dnnl::engine& e, dnnl::algorithm alg, const ConvGeometry& geo,
                                     const memory::desc& src, const memory::desc& w, const memory::desc* bias,
                                     const memory::desc& dst, const dnnl::primitive_attr& attr) {
  using D = typename Prim::desc;
  const auto pk = dnnl::prop_kind::forward_training;
  const D d = bias ? D(pk, alg, src, w, *bias, dst, strides(geo), dilates(geo), pad_l(geo), pad_r(geo))
                   : D(pk, alg, src, w, dst, strides(geo), dilates(geo), pad_l(geo), pad_r(geo));
  return typename Prim::primitive_desc(d, attr, e);
}
}  // namespace

dnnl::convolution_forward::primitive_desc conv_fwd_pd(const dnnl::engine& e, const ConvGeometry& geo,
                                                      const memory::desc& src, const memory::desc& w,
                                                      const memory::desc* bias, const memory::desc& dst,
                                                      const dnnl::primitive_attr& attr) {
  return fwd_pd<dnnl::convolution_forward>(e, dnnl::algorithm::convolution_direct, geo, src, w, bias, dst, attr);
}

dnnl::deconvolution_forward::primitive_desc deconv_fwd_pd(const dnnl::engine& e, const ConvGeometry& geo,
                                                          const memory::desc& src, const memory::desc& w,
                                                          const memory::desc* bias, const memory::desc& dst,
                                                          const dnnl::primitive_attr& attr) {
  return fwd_pd<dnnl::deconvolution_forward>(e, dnnl::algorithm::deconvolution_direct, geo, src, w, bias, dst, attr);
}

dnnl::convolution_backward_weights::primitive_desc conv_bwd_weights_pd(const dnnl::engine& e,
                                                                       const ConvGeometry& geo,
                                                                       const memory::desc& src,
                                                                       const memory::desc& diff_dst,
                                                                       const dnnl::primitive_attr& attr) {
  // Weights in the data sides' type (f32, or bf16 with f32 diff_weights: only the descriptor here).
  const memory::desc any_w = with_type(conv_weights_md(geo, memory::format_tag::any), src.data_type());
  const auto alg = dnnl::algorithm::convolution_direct;
  auto fd = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, any_w, diff_dst, strides(geo),
                                            dilates(geo), pad_l(geo), pad_r(geo));
  auto hint = dnnl::convolution_forward::primitive_desc(fd, attr, e);
  const memory::desc any_dw = conv_weights_md(geo, memory::format_tag::any);  // weight gradients stay f32
  auto bd = dnnl::convolution_backward_weights::desc(alg, src, any_dw, diff_dst, strides(geo), dilates(geo), pad_l(geo),
                                                     pad_r(geo));
  return dnnl::convolution_backward_weights::primitive_desc(bd, attr, e, hint);
}

memory::desc any_like(const memory::desc& d) { return memory::desc(d.dims(), d.data_type(), memory::format_tag::any); }

memory::desc with_type(const memory::desc& d, memory::data_type t) {
  memory::desc r = d;  // element strides of plain and blocked layouts do not depend on the type
  r.data.data_type = static_cast<dnnl_data_type_t>(t);
  return r;
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

bool is_reference_impl(const std::string& impl) {
  // oneDNN names its reference kernels "ref:any", "bnorm_ref:any", "ref_fused:...", "simple:any" (reorders) ...
  return impl.rfind("ref", 0) == 0 || impl.find("_ref") != std::string::npos;
}

}  // namespace rg::onednn
