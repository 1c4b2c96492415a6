// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/layout_choice.h"

#include "rg/log.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "backends/onednn/conv_primitives.h"
#include "backends/onednn/disjoint_sets.h"
#include "engine/schedule.h"

namespace rg::onednn {
namespace {

using dnnl::memory;
constexpr std::array<Layout, 4> kLayouts = {Layout::plain, Layout::nhwc, Layout::blk8, Layout::blk16};

memory::desc any_md(const Graph& g, ValueId v) {
  return memory::desc(dims_of(g.shape(v)), memory::data_type::f32, memory::format_tag::any);
}

// One side of a convolution-family node and the layout oneDNN chose for it.
struct Vote {
  ValueId value;
  Layout layout;
  int64_t flops;
};

// Asks oneDNN which layouts the best implementation of this node wants for its
// two data sides (everything format any). Nothing when oneDNN has no
// implementation or picks a layout that is none of ours.
void vote(const Graph& g, const Node& n, const dnnl::engine& eng, std::vector<Vote>& out) {
  const ConvGeometry geo = conv_geometry(g, n);
  const dnnl::primitive_attr attr = user_scratchpad_attr();
  auto add = [&](ValueId v, const memory::desc& chosen) {
    const Shape& s = g.shape(v);
    if (s[2] * s[3] == 1 || s[1] == 1) return;  // same bytes in every layout: no preference
    if (const auto l = layout_of_desc(chosen)) out.push_back({v, *l, geo.flops()});
  };
  try {
    if (n.op == OpKind::kConv2d) {
      auto pd = conv_fwd_pd(eng, geo, any_md(g, geo.in), conv_weights_md(geo, memory::format_tag::any), nullptr,
                            any_md(g, geo.out), attr);
      add(geo.in, pd.src_desc()), add(geo.out, pd.dst_desc());
    } else if (n.op == OpKind::kConvTranspose2d && runs_as_flipped_conv(n, geo)) {
      const ConvGeometry c = flipped(geo);
      auto pd = conv_fwd_pd(eng, c, any_md(g, c.in), conv_weights_md(c, memory::format_tag::any), nullptr,
                            any_md(g, c.out), attr);
      add(c.in, pd.src_desc()), add(c.out, pd.dst_desc());
    } else if (n.op == OpKind::kConvTranspose2d) {
      auto pd = deconv_fwd_pd(eng, geo, any_md(g, n.inputs[0]), deconv_weights_md(geo, memory::format_tag::any),
                              nullptr, any_md(g, n.outputs[0]), attr);
      add(n.inputs[0], pd.src_desc()), add(n.outputs[0], pd.dst_desc());
    } else {
      auto pd = conv_bwd_weights_pd(eng, geo, any_md(g, geo.in), any_md(g, geo.out), attr);
      add(geo.in, pd.src_desc()), add(geo.out, pd.diff_dst_desc());
    }
  } catch (const dnnl::error&) {
    // No implementation for this geometry: it has no say in layouts.
  }
}

}  // namespace

void inputs_plain(const LayoutConstraints& c, const Graph&, const Node& n) {
  for (ValueId v : n.inputs) c.pin(v);
}

void any_layout(const LayoutConstraints&, const Graph&, const Node&) {}

void values_plain(const LayoutConstraints& c, const Graph& g, const Node& n) {
  inputs_plain(c, g, n);
  for (ValueId v : n.outputs) c.pin(v);
}

Layout native_layout(const dnnl::engine& eng) {
  ConvGeometry geo;  // 3x3, 64 -> 64 channels, 16x16, padding 1
  geo.n = 2, geo.c_in = geo.c_out = 64, geo.h = geo.w = geo.ho = geo.wo = 16, geo.kh = geo.kw = 3, geo.ph = geo.pw = 1;
  const memory::desc any({2, 64, 16, 16}, memory::data_type::f32, memory::format_tag::any);
  try {
    auto pd = conv_fwd_pd(eng, geo, any, conv_weights_md(geo, memory::format_tag::any), nullptr, any,
                          user_scratchpad_attr());
    if (const auto l = layout_of_desc(pd.src_desc())) return *l;
  } catch (const dnnl::error&) {
  }
  return Layout::nhwc;
}

LayoutTable choose_layouts(const Graph& g, const std::vector<FusionGroup>& groups, const dnnl::engine& eng,
                           const LayoutOptions& options) {
  LayoutTable t;
  t.root = storage_roots(g);
  t.native = native_layout(eng);
  const size_t nv = size_t(g.num_values());
  // Classes of values that must share a layout (union-find over storage roots).
  DisjointSets classes(nv);
  auto find = [&](ValueId a) { return classes.find(a); };
  std::vector<char> pinned(nv, 0);
  auto R = [&](ValueId v) { return t.root[size_t(v)]; };
  auto unite = [&](ValueId a, ValueId b) { classes.unite(R(a), R(b)); };
  const bool debug = std::getenv("RG_LAYOUT_PINS") != nullptr;
  const Node* current = nullptr;
  auto pin = [&](ValueId v) {
    if (debug && !pinned[size_t(R(v))])
      log(LogLevel::kDebug, "pin %" + std::to_string(int(v)) + " by " + (current ? op_name(current->op) : "value"));
    pinned[size_t(R(v))] = 1;
  };
  for (ValueId v = 0; v < g.num_values(); ++v) {
    const Value& val = g.value(v);
    if (val.desc.rank() != 4 || val.desc.dtype != DType::f32 || val.variable >= 0) pin(v);
    if (val.producer >= 0) {
      const Node& p = g.node(val.producer);
      if (p.op == OpKind::kReshape && g.shape(p.inputs[0]) != val.desc.shape) pin(v), pin(p.inputs[0]);
    }
  }
  std::vector<Vote> votes;
  const LayoutConstraints constraints{pin, unite};
  for (size_t k = 0; k < groups.size(); ++k) {
    const FusionGroup& grp = groups[k];
    const bool fallback = k < options.on_fallback.size() && options.on_fallback[k];
    for (NodeId id : grp.nodes) {
      const Node& n = g.node(id);
      current = &n;
      if (fallback) {
        values_plain(constraints, g, n);
        continue;
      }
      if (is_elementwise(n.op)) {
        for (ValueId v : n.inputs) {
          if (g.shape(v) == grp.shape) unite(v, n.outputs[0]);
          else pin(v);
        }
        continue;
      }
      if (is_convolution(n.op) && options.blocked) vote(g, n, eng, votes);
      options.rule_of(n.op)(constraints, g, n);
    }
  }
  // Per class: pinned?, which layouts every member can hold, FLOPs voting for each.
  std::vector<char> class_pinned(nv, 0);
  std::vector<std::array<char, 4>> fits(nv, {1, 1, 1, 1});
  std::vector<std::array<int64_t, 4>> score(nv, {0, 0, 0, 0});
  for (ValueId v = 0; v < g.num_values(); ++v) {
    if (R(v) != v) continue;
    const size_t c = size_t(find(v));
    class_pinned[c] |= pinned[size_t(v)];
    for (size_t k = 0; k < kLayouts.size(); ++k) fits[c][k] &= layout_fits(g.shape(v), kLayouts[k]);
  }
  for (const Vote& vt : votes) score[size_t(find(R(vt.value)))][size_t(vt.layout)] += vt.flops;
  t.layout.assign(nv, Layout::plain);
  for (ValueId v = 0; v < g.num_values(); ++v) {
    if (R(v) != v) continue;
    const size_t c = size_t(find(v));
    if (class_pinned[c]) continue;
    if (!options.blocked) {
      t.layout[size_t(v)] = Layout::nhwc;
      continue;
    }
    // No votes: the CPU's native block where the channels allow, else NHWC.
    // Never plain NCHW, even where a primitive asks for it (layers with a few
    // channels): there oneDNN 2.6 runs gemm-based convolutions, whose packed
    // sgemm allocates on the heap at every execution; NHWC has JIT kernels.
    Layout best = fits[c][size_t(t.native)] ? t.native : Layout::nhwc;
    int64_t best_score = 0;
    for (size_t k = 0; k < kLayouts.size(); ++k)
      if (kLayouts[k] != Layout::plain && fits[c][k] && score[c][k] > best_score)
        best = kLayouts[k], best_score = score[c][k];
    t.layout[size_t(v)] = best;
  }
  return t;
}

std::string describe_layouts(const Graph& g, const LayoutTable& t) {
  std::string s = std::string("onednn layouts (native ") + layout_name(t.native) + "):\n";
  for (ValueId v = 0; v < g.num_values(); ++v)
    s += "  %" + std::to_string(v) + " " + shape_str(g.shape(v)) + " root %" + std::to_string(t.root[size_t(v)]) +
         " -> " + layout_name(t.of(v)) + "\n";
  return s;
}

}  // namespace rg::onednn
