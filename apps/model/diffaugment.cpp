// SPDX-License-Identifier: Apache-2.0
// DiffAugment as graph ops and its Philox draws (diffaugment.h).
#include "apps/model/diffaugment.h"

#include <algorithm>
#include <stdexcept>

#include "apps/rng_streams.h"
#include "engine/rng/philox.h"

namespace rg::model {

std::string DiffAugmentPolicy::text() const {
  std::string s;
  for (auto [on, name] :
       {std::pair{color, "color"}, {translation, "translation"}, {cutout, "cutout"}})
    if (on) s += (s.empty() ? "" : ",") + std::string(name);
  return s;
}

DiffAugmentPolicy parse_diffaugment(const std::string& policy) {
  DiffAugmentPolicy p;
  size_t start = 0;
  while (start < policy.size()) {
    size_t end = policy.find(',', start);
    if (end == std::string::npos) end = policy.size();
    const std::string part = policy.substr(start, end - start);
    start = end + 1;
    if (part == "color")
      p.color = true;
    else if (part == "translation")
      p.translation = true;
    else if (part == "cutout")
      p.cutout = true;
    else
      throw std::invalid_argument("--diffaugment: '" + part +
                                  "' is not one of color, translation, cutout");
  }
  return p;
}

std::vector<std::string> diffaugment_inputs(const DiffAugmentPolicy& p, const std::string& prefix) {
  std::vector<std::string> r;
  if (p.color)
    for (const char* n : {"brightness", "saturation", "contrast"}) r.push_back(prefix + "." + n);
  if (p.translation)
    for (const char* n : {"shift_rows", "shift_cols"}) r.push_back(prefix + "." + n);
  if (p.cutout) r.push_back(prefix + ".cutout");
  return r;
}

ValueId diffaugment(Graph& g, ValueId x, const DiffAugmentPolicy& p, const std::string& prefix) {
  const Shape s = g.shape(x);
  const int64_t n = s[0], h = s[2], w = s[3];
  if (p.color) {
    const ValueId b = g.input(prefix + ".brightness", {n, 1, 1, 1});
    const ValueId sat = g.input(prefix + ".saturation", {n, 1, 1, 1});
    const ValueId con = g.input(prefix + ".contrast", {n, 1, 1, 1});
    x = g.add(x, b);
    ValueId m = g.mean(x, {1}, true);
    x = g.add(g.mul(g.sub(x, m), sat), m);
    m = g.mean(x, {1, 2, 3}, true);
    x = g.add(g.mul(g.sub(x, m), con), m);
  }
  if (p.translation) {
    const ValueId rows = g.input(prefix + ".shift_rows", {n, 1, h, h});
    const ValueId cols = g.input(prefix + ".shift_cols", {n, 1, w, w});
    x = g.matmul(g.matmul(rows, x), cols);
  }
  if (p.cutout) x = g.mul(x, g.input(prefix + ".cutout", {n, 1, h, w}));
  return x;
}

namespace {

// A float uniform in [0, 1) from 24 bits, as torch.rand's float32.
float uniform24(uint32_t x) {
  return float(x >> 8) * (1.0f / 16777216.0f);
}
// An integer uniform in [0, range): the high word of x * range.
int below(uint32_t x, int range) {
  return int((uint64_t(x) * uint64_t(range)) >> 32);
}

}  // namespace

DiffAugmentDraw diffaugment_draw(int size, uint64_t seed, uint64_t index, int sample) {
  const auto c = philox_words(seed, streams::kDiffAugment, index, uint32_t(2 * sample));
  const auto t = philox_words(seed, streams::kDiffAugment, index, uint32_t(2 * sample + 1));
  DiffAugmentDraw d;
  d.brightness = uniform24(c[0]) - 0.5f;
  d.saturation = uniform24(c[1]) * 2.0f;
  d.contrast = uniform24(c[2]) + 0.5f;
  const int shift = int(size * 0.125 + 0.5);
  d.tx = below(t[0], 2 * shift + 1) - shift;
  d.ty = below(t[1], 2 * shift + 1) - shift;
  const int cut = int(size * 0.5 + 0.5);
  d.cutout_row = below(t[2], size + 1 - cut % 2);
  d.cutout_col = below(t[3], size + 1 - cut % 2);
  return d;
}

std::vector<std::vector<float>> diffaugment_values(const DiffAugmentPolicy& p, int batch, int size,
                                                   uint64_t seed, uint64_t index) {
  const size_t n = size_t(batch), S = size_t(size), plane = S * S;
  std::vector<float> bright(n), sat(n), con(n), rows(p.translation ? n * plane : 0),
      cols(p.translation ? n * plane : 0), mask(p.cutout ? n * plane : 0, 1.0f);
  const int cut = int(size * 0.5 + 0.5);
  for (size_t j = 0; j < n; ++j) {
    const DiffAugmentDraw d = diffaugment_draw(size, seed, index, int(j));
    bright[j] = d.brightness, sat[j] = d.saturation, con[j] = d.contrast;
    if (p.translation)
      for (int i = 0; i < size; ++i) {
        // out[i][.] = x[i + tx][.]: row i of R picks row i + tx; out[.][c] =
        // x[.][c + ty]: column c of C picks row c + ty of x's columns.
        if (const int k = i + d.tx; k >= 0 && k < size)
          rows[j * plane + size_t(i) * S + size_t(k)] = 1;
        if (const int k = i + d.ty; k >= 0 && k < size)
          cols[j * plane + size_t(k) * S + size_t(i)] = 1;
      }
    if (p.cutout) {
      // The reference zeroes clamp(offset + i - cut / 2, 0, S - 1), i < cut.
      auto span = [&](int offset) {
        return std::pair{std::clamp(offset - cut / 2, 0, size - 1),
                         std::clamp(offset - cut / 2 + cut - 1, 0, size - 1)};
      };
      const auto [r0, r1] = span(d.cutout_row);
      const auto [c0, c1] = span(d.cutout_col);
      for (int r = r0; r <= r1; ++r)
        for (int c = c0; c <= c1; ++c) mask[j * plane + size_t(r) * S + size_t(c)] = 0;
    }
  }
  std::vector<std::vector<float>> out;
  if (p.color) {
    out.push_back(std::move(bright));
    out.push_back(std::move(sat));
    out.push_back(std::move(con));
  }
  if (p.translation) {
    out.push_back(std::move(rows));
    out.push_back(std::move(cols));
  }
  if (p.cutout) out.push_back(std::move(mask));
  return out;
}

}  // namespace rg::model
