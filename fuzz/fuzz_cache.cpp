// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the dataset cache parser (the bytes of a cache file).
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "apps/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rg::data::Dataset ds = rg::data::Dataset::parse_cache(nullptr, {data, size}, "fuzz.rgcache", true);
    // Touch every byte the data set claims, so ASan sees any out-of-range view.
    unsigned sum = 0;
    for (size_t i = 0; i < ds.size(); ++i) {
      const uint8_t* p = ds.image(i);
      for (size_t k = 0; k < ds.image_bytes(); ++k) sum += p[k];
      sum += static_cast<unsigned>(ds.source(i).size());
    }
    if (sum == 0xFFFFFFFFu) return 1;
  } catch (const std::runtime_error&) {
  }
  return 0;
}
