// SPDX-License-Identifier: Apache-2.0
// Reading an input file whole, safely: it is opened without blocking and read
// only if it is a regular file, so a FIFO or device named as an input (or
// dropped into an image folder) is refused at once instead of hanging the
// reader in open() or read().
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rg::data {

// The file's bytes in `out`; false with a reason ("not a regular file",
// "cannot open: ...") in `error`.
bool read_regular_file(const std::filesystem::path& path, std::vector<uint8_t>& out,
                       std::string& error);

}  // namespace rg::data
