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

// `s` as valid UTF-8 text for a JSON library (nlohmann-json): its UTF-8 as
// it is, each byte that is not UTF-8 (a file name in another encoding) as the
// four characters \xHH, as append_json_string writes it.
std::string utf8_or_escaped(std::string_view s);

// A JSON number with `digits` significant digits (%.*g). JSON has no NaN or
// infinity: those are written as null, which every JSON reader accepts.
std::string json_number(double v, int digits = 10);

}  // namespace rg::io
