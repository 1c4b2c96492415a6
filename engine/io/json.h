// SPDX-License-Identifier: Apache-2.0
// JSON through one library: nlohmann-json (Debian's nlohmann-json3-dev). Every
// JSON file the engine and the applications write (safetensors headers,
// RUN/log.jsonl, options.json, the dataset report, the review page's data,
// the --json outputs) is a `Json` document built from these helpers, so all of
// them escape, round and format alike. The strict safetensors header *parser*
// is the one exception (engine/io/safetensors.cpp: it refuses what nlohmann
// would accept, such as duplicate keys).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace rg::io {

// Keys keep the order they were added in, as a reader expects them.
using Json = nlohmann::ordered_json;

// The one UTF-8 rule of the engine (RFC 3629: no overlong forms, no
// surrogates, at most U+10FFFF): the length of the valid sequence starting at
// s[i] (1 for ASCII), or 0 if none starts there. The safetensors header
// parser and utf8_or_escaped both use it.
size_t utf8_sequence_length(std::string_view s, size_t i);
bool valid_utf8(std::string_view s);

// `s` as valid UTF-8 text: its UTF-8 as it is, each byte that is not UTF-8 (a
// file name in another encoding) as the four characters \xHH, so the byte
// can still be told and the JSON stays valid.
std::string utf8_or_escaped(std::string_view s);

// A JSON string of any bytes (a path, a name): utf8_or_escaped's text.
Json json_text(std::string_view s);

// A JSON number rounded to `digits` significant digits (0: as it is, the
// shortest text that reads back as the same double). JSON has no NaN or
// infinity: those are null, which every JSON reader accepts.
Json json_number(double v, int digits = 0);

// Compact (no spaces), as in safetensors headers and log.jsonl lines.
std::string dump_compact(const Json& j);

// A report: a top-level object with one member per line, and each element of
// a member that is an array on a line of its own (compact), so that a
// 10,000-image report reads and diffs one image per line. Ends in a newline.
std::string dump_report(const Json& j);

}  // namespace rg::io
