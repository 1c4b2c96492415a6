// SPDX-License-Identifier: Apache-2.0
// An independent reader of the ZIP archives `generate --zip` writes, for the
// tests: it walks the archive as an unzip tool does (end-of-central-directory
// record, central directory, each local header) and checks every field that
// must agree, every offset and every CRC-32, instead of trusting the writer.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rg::testing_zip {

inline uint32_t u16(const std::vector<uint8_t>& b, size_t at) {
  if (at + 2 > b.size()) throw std::runtime_error("read past the end at " + std::to_string(at));
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8;
}
inline uint32_t u32(const std::vector<uint8_t>& b, size_t at) {
  return u16(b, at) | u16(b, at + 2) << 16;
}

// The archive's entries, name -> data, in central-directory order in
// `order`. Throws std::runtime_error naming the first thing that is wrong.
inline std::map<std::string, std::vector<uint8_t>> read_zip(
    const std::vector<uint8_t>& z, std::vector<std::string>* order = nullptr) {
  if (z.size() < 22) throw std::runtime_error("shorter than an end record");
  size_t eocd = z.size() - 22;  // no archive comment is written: the record ends the file
  if (u32(z, eocd) != 0x06054b50)
    throw std::runtime_error("no end-of-central-directory record at the end");
  if (u16(z, eocd + 4) != 0 || u16(z, eocd + 6) != 0)
    throw std::runtime_error("multi-disk archive");
  const uint32_t entries = u16(z, eocd + 10), cd_size = u32(z, eocd + 12),
                 cd_offset = u32(z, eocd + 16);
  if (u16(z, eocd + 8) != entries) throw std::runtime_error("entry counts disagree");
  if (u16(z, eocd + 20) != 0) throw std::runtime_error("unexpected archive comment");
  if (uint64_t(cd_offset) + cd_size != eocd)
    throw std::runtime_error("central directory does not end at the end record");
  std::map<std::string, std::vector<uint8_t>> out;
  size_t at = cd_offset, expected_local = 0;
  for (uint32_t k = 0; k < entries; ++k) {
    if (u32(z, at) != 0x02014b50)
      throw std::runtime_error("bad central header signature, entry " + std::to_string(k));
    const uint32_t flags = u16(z, at + 8), method = u16(z, at + 10), crc = u32(z, at + 16);
    const uint32_t csize = u32(z, at + 20), usize = u32(z, at + 24);
    const uint32_t nlen = u16(z, at + 28), xlen = u16(z, at + 30), clen = u16(z, at + 32);
    const uint32_t local = u32(z, at + 42);
    if (at + 46 + nlen > z.size()) throw std::runtime_error("central name past the end");
    const std::string name(z.begin() + long(at + 46), z.begin() + long(at + 46 + nlen));
    if (flags != 0 || method != 0 || csize != usize)
      throw std::runtime_error(name + ": not a plain stored entry");
    if (local != expected_local)
      throw std::runtime_error(name + ": local header not where the previous entry ended");
    // The local header must repeat what the central directory says.
    if (u32(z, local) != 0x04034b50)
      throw std::runtime_error(name + ": bad local header signature");
    if (u16(z, local + 6) != flags || u16(z, local + 8) != method || u32(z, local + 14) != crc ||
        u32(z, local + 18) != csize || u32(z, local + 22) != usize || u16(z, local + 26) != nlen)
      throw std::runtime_error(name + ": local header disagrees with the central directory");
    const uint32_t lx = u16(z, local + 28);
    const size_t data = local + 30 + nlen + lx;
    if (std::string(z.begin() + long(local + 30), z.begin() + long(local + 30 + nlen)) != name)
      throw std::runtime_error(name + ": local name differs");
    if (data + usize > cd_offset)
      throw std::runtime_error(name + ": data runs into the central directory");
    std::vector<uint8_t> bytes(z.begin() + long(data), z.begin() + long(data + usize));
    if (uint32_t(::crc32(0L, bytes.data(), uInt(bytes.size()))) != crc)
      throw std::runtime_error(name + ": CRC-32 mismatch");
    if (!out.emplace(name, std::move(bytes)).second)
      throw std::runtime_error(name + ": listed twice");
    if (order) order->push_back(name);
    expected_local = data + usize;
    at += 46 + nlen + xlen + clen;
  }
  if (at != eocd) throw std::runtime_error("central directory size disagrees with its entries");
  if (expected_local != cd_offset)
    throw std::runtime_error("bytes between the last entry and the central directory");
  return out;
}

}  // namespace rg::testing_zip
