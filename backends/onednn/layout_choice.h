// SPDX-License-Identifier: Apache-2.0
// Choosing one layout per activation for a whole plan, by asking oneDNN.
//
// Values that must share a layout (an elementwise op's same-shape operands and
// result, batch norm's input and output, versions of one storage) form a
// class. Each convolution-family node is asked, with format_tag::any on its
// data sides, which layouts oneDNN's best implementation for this CPU wants
// (nChw16c on AVX-512, nChw8c on AVX2, sometimes NHWC or NCHW for 3-channel
// layers); each class takes the layout with the most FLOPs voting for it among
// those it can hold. Classes no convolution touches take the CPU's native
// block (what a probe convolution picks). Pinned classes (variables, non-4-D
// values, reshaped views, inputs of ops with plain-only kernels) stay NCHW.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backends/onednn/layout.h"
#include "engine/fusion.h"

namespace rg::onednn {

struct LayoutTable {
  std::vector<ValueId> root;     // storage root of every value
  std::vector<Layout> layout;    // per root
  Layout native = Layout::nhwc;  // what oneDNN picked for the probe convolution on this CPU
  Layout of(ValueId v) const { return layout[size_t(root[size_t(v)])]; }
};

// How one op constrains the layouts of its values, given by its row in the
// backend's registry (onednn_kernel.h): pin(v) keeps v plain NCHW, same(a, b)
// gives a and b one layout. Convolutions also vote (above); values of rank
// other than 4, variables and reshaped views are pinned for every op.
struct LayoutConstraints {
  std::function<void(ValueId)> pin;
  std::function<void(ValueId, ValueId)> same;
};
using LayoutRule = void (*)(const LayoutConstraints& c, const Graph& g, const Node& n);
// The default: every input plain, outputs free (loops of ours that read
// plain data and write layout-free results, or 1-D and 2-D ones).
void inputs_plain(const LayoutConstraints& c, const Graph& g, const Node& n);
// Every input and output plain (kernels described on plain buffers only).
void values_plain(const LayoutConstraints& c, const Graph& g, const Node& n);
// No constraint (kernels that read and write any layout, or that reorder).
void any_layout(const LayoutConstraints& c, const Graph& g, const Node& n);

struct LayoutOptions {
  bool blocked = true;  // false: NHWC for every unpinned 4-D class (a test and bench switch)
  // The rule of a non-elementwise op (its registry row's).
  std::function<LayoutRule(OpKind)> rule_of;
  // Per group: run by the host fallback, which reads and writes plain values only.
  std::vector<char> on_fallback;
};

LayoutTable choose_layouts(const Graph& g, const std::vector<FusionGroup>& groups, const dnnl::engine& eng,
                           const LayoutOptions& options);

// What oneDNN picks for a small 3x3 convolution with 64 channels on this CPU
// (nChw16c with AVX-512, nChw8c with AVX2), or NHWC when it is none of ours.
Layout native_layout(const dnnl::engine& eng);

// One line per value: shape, storage root and the chosen layout (RG_LAYOUTS=1).
std::string describe_layouts(const Graph& g, const LayoutTable& t);

}  // namespace rg::onednn
