// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the IDX parser, and gunzip in front of it for gzip input.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "apps/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::span<const uint8_t> in(data, size);
    std::vector<uint8_t> raw;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
      raw = rg::data::gunzip(in, "fuzz.gz", std::size_t{16} << 20);
      in = raw;
    }
    rg::data::IdxArray a = rg::data::parse_idx(in, "fuzz.idx");
    uint64_t total = 1;
    for (uint32_t d : a.dims) total *= d;
    if (total != a.data.size()) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
