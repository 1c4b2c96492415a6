// SPDX-License-Identifier: Apache-2.0
// The Philox streams of ralsgan (docs/contracts.md §4): every random number the
// application draws is philox_words(seed, stream, index, k) for one of these
// streams, so a value depends only on (seed, stream, index). The numbers are
// part of the contract (they decide every generated image and training run):
// never renumber, only add.
#pragma once

#include <cstdint>

namespace rg::streams {

constexpr uint32_t kGeneration = 0;       // generation latents; index = image index
constexpr uint32_t kTrainingLatents = 1;  // index = step * batch + position in the batch
constexpr uint32_t kAugmentation = 2;     // index = draw (image of the epoch)
constexpr uint32_t kShuffle = 3;          // index = epoch
constexpr uint32_t kInitialWeights = 4;   // index = parameter tensor
// 5 and 6 were the classifier's; it is now examples/fashion_mnist, over the
// public API, which has no Philox (docs/classifier.md). Not to be reused.
constexpr uint32_t kDiffAugment = 8;  // index = 3 * step + D evaluation (apps/model/diffaugment.h)
constexpr uint32_t kSwdPatches = 16;      // metrics: SWD patch positions
constexpr uint32_t kSwdDirections = 17;   // metrics: SWD random projections
constexpr uint32_t kKidSubsets = 18;      // metrics: KID subsets

}  // namespace rg::streams
