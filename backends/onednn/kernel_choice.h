// SPDX-License-Identifier: Apache-2.0
// Which kernel the oneDNN backend runs for a group, decided from the graph,
// the layouts and the options alone, so that the plan can ask before anything
// is compiled (the bf16 storage rule must know who reads and writes a value)
// and the kernels decide the same way when they are: the eltwise post-ops a
// convolution primitive fuses, our own kernels (Winograd, small_conv) where
// they apply and pay, and batch norm's fused ReLU.
#pragma once

#include <functional>
#include <initializer_list>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>

#include "backends/onednn/layout.h"
#include "backends/onednn/small_conv.h"
#include "backends/onednn/winograd_conv.h"
#include "engine/conv_geometry.h"
#include "engine/fusion.h"
#include "rg/backend_onednn.h"

namespace rg::onednn {

using LayoutOf = std::function<Layout(ValueId)>;

// The formulas (graph/elementwise_ops.h) that oneDNN's eltwise post-ops and
// fusions compute: recognised by their instructions, not by op name.
struct EltwisePostOp {
  bool ok = false;
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.f, beta = 0.f;
};
EltwisePostOp eltwise_post_op(const Node& n);
bool is_relu(const Node& n);  // max(x, 0): BatchNorm's fuse_norm_relu
bool is_add(const Node& n);   // a + b: a per-channel one becomes a primitive's bias

// 4x4, stride 2, padding 1, input exactly twice the output: the layers our
// Winograd kernels compute (winograd_conv.h).
bool is_winograd_geometry(const ConvGeometry& geo);
// The micro-kernel our Winograd convolutions run on this CPU, or none.
std::optional<MicroIsa> micro_isa(bool bf16);

// The eltwise ops (and a per-channel bias, and with `binary_md` the add of
// a whole tensor: a residual connection) that follow a convolution anchor
// and fold into its primitive as post-ops (see match_post_ops).
struct PostOps {
  size_t count = 0;
  dnnl::post_ops ops;
  ValueId bias = kNoValue;
  ValueId result = kNoValue;
  std::string text;
  std::vector<std::pair<int, ValueId>> binary;  // (post-op index, the tensor it adds)
};
// binary_md: how a tensor added as a binary post-op is stored (its layout
// and type); null: no binary post-ops.
using BinaryMd = std::function<dnnl::memory::desc(ValueId)>;
PostOps match_post_ops(const Graph& g, const FusionGroup& grp, NodeId anchor, bool allow_bias,
                       bool enabled, const BinaryMd& binary_md = nullptr);

// A group that batch_norm_inference heads, run as one elementwise program.
bool is_bn_head_group(const Graph& g, const FusionGroup& grp, const LayoutOf& layout_of);
// What a batch_norm_train / _inference primitive writes (a fused ReLU's output or its result).
ValueId bn_fwd_dst(const Graph& g, const FusionGroup& grp, NodeId id, bool post_ops);

// Our own kernels for a convolution node writing dst, where they apply and
// pay; nothing: a oneDNN primitive.
std::optional<WinogradConv> winograd_forward_for(const Graph& g, const Node& n, ValueId dst,
                                                 const LayoutOf& layout_of,
                                                 const OneDnnOptions& opt);
std::optional<WinogradConv> winograd_weight_gradient_for(const Graph& g, const Node& n,
                                                         const LayoutOf& layout_of,
                                                         const OneDnnOptions& opt);
std::optional<SmallConv> small_conv_for(const Graph& g, const Node& n, ValueId dst,
                                        const LayoutOf& layout_of);

}  // namespace rg::onednn
