// SPDX-License-Identifier: Apache-2.0
// Activation layouts of the oneDNN backend and how its kernels walk them.
//
// A 4-D activation is stored as plain NCHW, NHWC, or channel-blocked
// nChw8c / nChw16c (oneDNN's AVX2 and AVX-512 blocks). Which one a value gets
// is decided once per plan by choose_layouts() (layout_choice.h); everything
// here is the arithmetic of those layouts: oneDNN tags, the physical order of
// the elements, and a strided walk that elementwise kernels use to read a
// broadcast operand in that order.
#pragma once

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <vector>

#include "backends/onednn/activation_layout.h"
#include "engine/strided_walk.h"
#include "rg/tensor.h"

namespace rg::onednn {

const char* layout_name(Layout l);
dnnl::memory::format_tag tag_of(Layout l, size_t rank);
dnnl::memory::dims dims_of(const Shape& s);

// Which of our layouts a 4-D f32 memory descriptor is (a primitive's choice
// under format_tag::any), or nothing when it is some other layout.
std::optional<Layout> layout_of_desc(const dnnl::memory::desc& d);

// Whether a value of shape `s` may be stored in `l` at all (blocked layouts
// need whole blocks of channels).
bool layout_fits(const Shape& s, Layout l);

// A shape whose bytes are the same in its own layout and in `l` (H = W = 1,
// or one channel for NCHW/NHWC), so the two sides of a primitive may disagree.
bool trivial_for(const Shape& s, Layout l);

// The order in which a layout stores a 4-D tensor: physical dims (outermost
// first), the logical dim each one indexes and its multiplier in that dim.
struct Phys {
  std::vector<int64_t> dims;
  std::vector<int> ldim;
  std::vector<int64_t> mult;
};
Phys phys_of(const Shape& s, Layout l);

// A strided walk over the physical order of a big tensor: the offset in a
// small (plain, broadcast) tensor for each physical linear index.
struct Walk : StridedWalk {
  bool all_zero = true;
  Walk() = default;
  Walk(const Phys& p, const std::vector<int64_t>& logical_strides);
};

}  // namespace rg::onednn
