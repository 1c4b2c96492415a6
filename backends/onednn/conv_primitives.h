// SPDX-License-Identifier: Apache-2.0
// The convolution family as oneDNN primitives: the geometry of the conv2d
// that a node is (or is the gradient of), and the primitive descriptors for it
// with given source/destination descriptors. Used both to compile kernels and,
// with format_tag::any, to ask oneDNN which layouts it prefers on this CPU.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/conv_geometry.h"
#include "graph/graph.h"

namespace rg::onednn {

// Geometry: rg::ConvGeometry (engine/conv_geometry.h); the conv2d whose
// backward-data conv_transpose2d is, and whose weight gradient
// conv2d_backward_weight is.
using rg::ConvGeometry;

// A stride-1 transposed convolution with few output channels (G's last layer,
// 32 -> 3) runs as a forward convolution with the kernel flipped and the
// channel axes swapped: oneDNN's deconvolution kernels vectorise over output
// channels and were 5-10x slower there (bench/RESULTS.md).
bool runs_as_flipped_conv(const Node& n, const ConvGeometry& geo);
// The forward convolution's geometry for such a node.
ConvGeometry flipped(const ConvGeometry& geo);
// Its weights: PyTorch's transposed-convolution weights w [ci, co, kh, kw]
// become a convolution's [co, ci, kh, kw] with the kernel flipped.
void flip_transposed_weights(const Shape& w, const float* src, float* dst);

// Weight descriptors as our variables store them: conv OIHW; deconvolution
// {OC = Ci, IC = Co, kh, kw} over PyTorch's [Ci_t, Co_t, kh, kw], i.e. iohw.
// The weights of a convolution / deconvolution primitive for this geometry
// (5-D with a leading group dimension when it has groups); t is the 4-D tag
// (oihw, iohw or any), made grouped (goihw, giohw) where needed.
dnnl::memory::desc conv_weights_md(const ConvGeometry& geo, dnnl::memory::format_tag t);
dnnl::memory::desc deconv_weights_md(const ConvGeometry& geo, dnnl::memory::format_tag t);

dnnl::convolution_forward::primitive_desc conv_fwd_pd(const dnnl::engine& e, const ConvGeometry& geo,
                                                      const dnnl::memory::desc& src, const dnnl::memory::desc& w,
                                                      const dnnl::memory::desc* bias, const dnnl::memory::desc& dst,
                                                      const dnnl::primitive_attr& attr);
dnnl::deconvolution_forward::primitive_desc deconv_fwd_pd(const dnnl::engine& e, const ConvGeometry& geo,
                                                          const dnnl::memory::desc& src, const dnnl::memory::desc& w,
                                                          const dnnl::memory::desc* bias,
                                                          const dnnl::memory::desc& dst,
                                                          const dnnl::primitive_attr& attr);
dnnl::convolution_backward_weights::primitive_desc conv_bwd_weights_pd(const dnnl::engine& e,
                                                                       const ConvGeometry& geo,
                                                                       const dnnl::memory::desc& src,
                                                                       const dnnl::memory::desc& diff_dst,
                                                                       const dnnl::primitive_attr& attr);

// The same descriptor with format_tag::any (the primitive chooses).
dnnl::memory::desc any_like(const dnnl::memory::desc& d);
// The same layout with another element type (f32 <-> bf16 copies of a tensor).
dnnl::memory::desc with_type(const dnnl::memory::desc& d, dnnl::memory::data_type t);
dnnl::primitive_attr user_scratchpad_attr();

// Whether an implementation string (impl_info_str()) is one of oneDNN's
// reference (non-JIT, unoptimised) implementations.
bool is_reference_impl(const std::string& impl);

}  // namespace rg::onednn
