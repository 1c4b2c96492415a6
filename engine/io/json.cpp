// SPDX-License-Identifier: Apache-2.0
#include "engine/io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rg::io {

namespace {
// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlong
// forms, no surrogates, at most U+10FFFF), or 0 if none starts there.
size_t utf8_length(std::string_view s, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else
    return 0;
  if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
  return n;
}
}  // namespace

std::string utf8_or_escaped(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += s[i];
    } else if (const size_t n = utf8_length(s, i)) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Json json_text(std::string_view s) {
  return Json(utf8_or_escaped(s));
}

Json json_number(double v, int digits) {
  if (!std::isfinite(v)) return Json(nullptr);
  if (digits <= 0) return Json(v);
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return Json(
      std::strtod(b, nullptr));  // printed back as its shortest text: "0.9", not 0.899999976
}

std::string dump_compact(const Json& j) {
  // Strings were made valid UTF-8 by json_text; `strict` turns a string that
  // bypassed it into an exception, never into invalid output.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

std::string dump_report(const Json& j) {
  if (!j.is_object() || j.empty()) return dump_compact(j) + "\n";
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : j.items()) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    out += dump_compact(Json(key)) + ": ";
    if (value.is_array() && !value.empty()) {
      out += "[";
      for (size_t i = 0; i < value.size(); ++i)
        out += (i ? ",\n    " : "\n    ") + dump_compact(value[i]);
      out += "\n  ]";
    } else {
      out += dump_compact(value);
    }
  }
  return out + "\n}\n";
}

}  // namespace rg::io
