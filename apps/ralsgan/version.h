// SPDX-License-Identifier: Apache-2.0
// `ralsgan --version` and `rg --version`: the version (git describe at
// configure time), the backends compiled in and the libraries they run.
#pragma once

#include <string>

namespace rg::app {

// Lines ending in '\n': "<program> <version>", then one line per backend.
std::string version_text(const std::string& program);

}  // namespace rg::app
