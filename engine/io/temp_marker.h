// SPDX-License-Identifier: Apache-2.0
// What marks a temporary name of ours (engine/io/atomic_file.h): the writers
// name their temporaries "<target>" kTempMarker "<suffix>". A header of its
// own so that every writer can use it without atomic_file.h's <filesystem>.
#pragma once

namespace rg::io {

inline constexpr const char* kTempMarker = ".rgtmp-";

}  // namespace rg::io
