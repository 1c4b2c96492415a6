// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/layout.h"

namespace rg::onednn {

using tag = dnnl::memory::format_tag;
using dnnl::memory;

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::plain: return "nchw";
    case Layout::nhwc: return "nhwc";
    case Layout::blk8: return "nChw8c";
    case Layout::blk16: return "nChw16c";
  }
  return "?";
}

tag tag_of(Layout l, size_t rank) {
  if (rank != 4) {
    switch (rank) {
      case 1: return tag::a;
      case 2: return tag::ab;
      case 3: return tag::abc;
      case 5: return tag::abcde;
      case 6: return tag::abcdef;
      default: return tag::abcd;
    }
  }
  switch (l) {
    case Layout::nhwc: return tag::nhwc;
    case Layout::blk8: return tag::nChw8c;
    case Layout::blk16: return tag::nChw16c;
    default: return tag::nchw;
  }
}

memory::dims dims_of(const Shape& s) { return memory::dims(s.begin(), s.end()); }

std::optional<Layout> layout_of_desc(const memory::desc& d) {
  const memory::dims dims = d.dims();
  if (dims.size() != 4 || d.data_type() != memory::data_type::f32) return std::nullopt;
  const Shape s(dims.begin(), dims.end());
  for (Layout l : {Layout::blk16, Layout::blk8, Layout::nhwc, Layout::plain})
    if (layout_fits(s, l) && memory::desc(dims, memory::data_type::f32, tag_of(l, 4)) == d) return l;
  return std::nullopt;
}

bool layout_fits(const Shape& s, Layout l) {
  const int b = block_of(l);
  return b == 0 || (s.size() == 4 && s[1] % b == 0);
}

bool trivial_for(const Shape& s, Layout l) {
  if (s.size() != 4) return false;
  if (block_of(l)) return s[2] * s[3] == 1 && s[1] % block_of(l) == 0;
  return s[2] * s[3] == 1 || s[1] == 1;
}

Phys phys_of(const Shape& s, Layout l) {
  Phys p;
  if (s.size() != 4 || l == Layout::plain) {
    p.dims = s;
    for (size_t i = 0; i < s.size(); ++i) p.ldim.push_back(int(i)), p.mult.push_back(1);
    return p;
  }
  if (l == Layout::nhwc) {
    p.dims = {s[0], s[2], s[3], s[1]};
    p.ldim = {0, 2, 3, 1};
    p.mult = {1, 1, 1, 1};
  } else {
    const int64_t b = block_of(l);
    p.dims = {s[0], s[1] / b, s[2], s[3], b};
    p.ldim = {0, 1, 2, 3, 1};
    p.mult = {1, b, 1, 1, 1};
  }
  return p;
}

Walk::Walk(const Phys& p, const std::vector<int64_t>& logical_strides) {
  std::vector<int64_t> s;
  for (size_t k = 0; k < p.dims.size(); ++k) {
    s.push_back(logical_strides[size_t(p.ldim[k])] * p.mult[k]);
    all_zero &= s.back() == 0;
  }
  static_cast<StridedWalk&>(*this) = StridedWalk(p.dims, std::move(s));
}

}  // namespace rg::onednn
