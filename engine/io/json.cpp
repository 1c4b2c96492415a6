// SPDX-License-Identifier: Apache-2.0
#include "engine/io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rg::io {

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
  return n;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string utf8_or_escaped(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (const size_t n = utf8_sequence_length(s, i)) {
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
