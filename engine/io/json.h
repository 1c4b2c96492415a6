// SPDX-License-Identifier: Apache-2.0
// Writing JSON values: the one helper behind every JSON file the engine and the
// application write (safetensors headers, log.jsonl, metrics.json, the
// decoding report), so all of them escape and format alike.
#pragma once

#include <string>
#include <string_view>

namespace rg::io {

// A JSON string literal: quotes, backslash escapes, control characters as \u00XX.
std::string json_string(std::string_view s);
void append_json_string(std::string& out, std::string_view s);

// A JSON number with `digits` significant digits (%.*g). JSON has no NaN or
// infinity: those are written as null, which every JSON reader accepts.
std::string json_number(double v, int digits = 10);

}  // namespace rg::io
