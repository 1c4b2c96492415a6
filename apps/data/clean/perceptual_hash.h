// SPDX-License-Identifier: Apache-2.0
// Near-duplicate images: a 64-bit perceptual hash (the DCT hash of
// pHash/imagehash: grey, 32x32 area resize, 2-D DCT, the 8x8 lowest
// frequencies against their median) and grouping by Hamming distance.
#pragma once

#include <cstdint>
#include <vector>

namespace rg::data {

uint64_t perceptual_hash(const uint8_t* rgb, int width, int height);

inline int hamming(uint64_t a, uint64_t b) {
  return __builtin_popcountll(a ^ b);
}

// For each item, the index of the first earlier item it duplicates (its
// group's first member, within `max_distance` bits), or -1. Items with
// present[i] false take part in nothing. Order decides: the first of a group
// is the one kept.
std::vector<long> near_duplicate_of(const std::vector<uint64_t>& hashes,
                                    const std::vector<bool>& present, int max_distance);

}  // namespace rg::data
