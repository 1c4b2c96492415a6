// SPDX-License-Identifier: Apache-2.0
// DiffAugment (Zhao et al., 2020, "Differentiable Augmentation for
// Data-Efficient GAN Training"): the same random colour, translation and
// cutout applied to the images D sees, real and fake, as graph ops, so that
// gradients reach G through it. Each op follows the reference implementation
// (DiffAugment_pytorch.py) with its random numbers fed as graph inputs, drawn
// from Philox (docs/contracts.md §3 and §4 stream 8), so runs and resumes are
// bit-identical on every backend:
//   color:       x + (u1 - 0.5); (x - mean_c(x)) * 2 u2 + mean_c(x);
//                (x - mean_chw(x)) * (u3 + 0.5) + mean_chw(x)       (per sample)
//   translation: x shifted by (tx, ty) in [-s, s], s = round(S / 8), zeros
//                shifted in: rows R @ x @ C with 0/1 shift matrices (exact)
//   cutout:      x * mask, mask 0 on a square of side round(S / 2) centred at
//                a random pixel (clipped to the image), as the reference does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace rg::model {

struct DiffAugmentPolicy {
  bool color = false, translation = false, cutout = false;
  bool any() const { return color || translation || cutout; }
  std::string text() const;  // "color,translation,cutout" (empty: none)
};
// "color,translation,cutout" in any order; empty: none. Throws
// std::invalid_argument naming an unknown part.
DiffAugmentPolicy parse_diffaugment(const std::string& policy);

// The graph inputs one augmented D evaluation reads, named "<prefix>.<part>".
std::vector<std::string> diffaugment_inputs(const DiffAugmentPolicy& p, const std::string& prefix);

// x [N, 3, S, S] augmented, reading those inputs (declared here).
ValueId diffaugment(Graph& g, ValueId x, const DiffAugmentPolicy& p, const std::string& prefix);

// The values of those inputs for one evaluation: Philox stream 8, counter
// index `index` (the step's evaluations are 3 step + 0, 1, 2: D on the reals,
// D on the fakes, D on the fakes for G), k = 2 j and 2 j + 1 for sample j.
// Filled in the order of diffaugment_inputs.
std::vector<std::vector<float>> diffaugment_values(const DiffAugmentPolicy& p, int batch, int size,
                                                   uint64_t seed, uint64_t index);

// The raw draws of sample j (for tests and the golden script's mirror).
struct DiffAugmentDraw {
  float brightness = 0, saturation = 0, contrast = 0;  // u - 0.5, 2 u, u + 0.5
  int tx = 0, ty = 0;                                  // translation of rows and columns
  int cutout_row = 0, cutout_col = 0;                  // the reference's offset_x, offset_y
};
DiffAugmentDraw diffaugment_draw(int size, uint64_t seed, uint64_t index, int sample);

}  // namespace rg::model
