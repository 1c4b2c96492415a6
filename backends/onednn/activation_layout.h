// SPDX-License-Identifier: Apache-2.0
// The four layouts an activation of the oneDNN backend may have, and their
// channel blocks: what our own kernels (winograd_conv, small_conv) need to
// address them. No oneDNN here, so those kernels also build, and are tested,
// without it (tests/cpu_kernels, under the sanitizers too); the oneDNN side
// of layouts (tags, descriptors, walks) is layout.h.
#pragma once

#include <cstdint>

namespace rg::onednn {

// Plain NCHW, NHWC, or channel-blocked nChw8c / nChw16c (oneDNN's AVX2 and AVX-512 blocks).
enum class Layout : uint8_t { plain, nhwc, blk8, blk16 };

// The element type of an activation: f32, or bf16 (bf16 mode stores some
// activations as bf16; our kernels widen them exactly on load and round to
// nearest even on store, their arithmetic the same either way).
enum class Elem : uint8_t { f32, bf16 };

// Channels per block of a blocked layout; 0 for plain and NHWC.
constexpr int block_of(Layout l) { return l == Layout::blk8 ? 8 : l == Layout::blk16 ? 16 : 0; }

}  // namespace rg::onednn
