// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the safetensors reader (engine/io/safetensors.h).
// Any input must either parse or throw std::runtime_error; whatever parses
// must serialise and parse back to the same contents, and the serialised
// form must be a fixed point.
// Built by fuzz/CMakeLists.txt (the `fuzz` preset); by hand:
// clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//          fuzz/fuzz_safetensors.cpp engine/io/safetensors.cpp
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <stdexcept>

#include "rg/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  rg::io::SafetensorsContents c;
  try {
    c = rg::io::parse_safetensors(in, "fuzz-input");
  } catch (const std::runtime_error&) {
    return 0;
  }
  for (const auto& [name, t] : c.tensors) {
    if (static_cast<int64_t>(t.bytes.size()) !=
        t.numel() * static_cast<int64_t>(rg::io::dtype_size(t.dtype))) {
      std::abort();
    }
  }
  const auto bytes = rg::io::serialize_safetensors(c);  // must not throw on parsed contents
  const auto again = rg::io::parse_safetensors(bytes, "fuzz-roundtrip");
  if (again.metadata != c.metadata || again.tensors.size() != c.tensors.size()) std::abort();
  for (const auto& [name, t] : c.tensors) {
    const auto it = again.tensors.find(name);
    if (it == again.tensors.end() || it->second.dtype != t.dtype || it->second.shape != t.shape ||
        it->second.bytes != t.bytes) {
      std::abort();
    }
  }
  if (rg::io::serialize_safetensors(again) != bytes) std::abort();
  return 0;
}
