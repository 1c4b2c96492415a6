// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/zip_writer.h"

#include <zlib.h>

#include <stdexcept>

namespace rg::app {

ZipWriter::ZipWriter(const std::filesystem::path& path) : path_(path), f_(path) {}

void ZipWriter::put(const void* p, size_t n) {
  f_.write(p, n);
  pos_ += n;
  if (pos_ > 0xffffffffull) throw std::runtime_error(path_.string() + ": archive above 4 GiB (ZIP64 not supported)");
}
void ZipWriter::u16(uint16_t v) {
  const uint8_t b[2] = {uint8_t(v), uint8_t(v >> 8)};
  put(b, 2);
}
void ZipWriter::u32(uint32_t v) {
  const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  put(b, 4);
}

void ZipWriter::add(const std::string& name, std::span<const uint8_t> data) {
  const uint32_t crc = uint32_t(::crc32(0L, data.data(), uInt(data.size())));
  entries_.push_back({name, crc, uint32_t(data.size()), uint32_t(pos_)});
  u32(0x04034b50);  // local file header
  u16(20), u16(0), u16(0), u16(0), u16(0x21);  // version, flags, stored, time, date (1980-01-01: reproducible)
  u32(crc), u32(uint32_t(data.size())), u32(uint32_t(data.size()));
  u16(uint16_t(name.size())), u16(0);
  put(name.data(), name.size());
  put(data.data(), data.size());
}

void ZipWriter::close() {
  const uint32_t dir_start = uint32_t(pos_);
  for (const Entry& e : entries_) {
    u32(0x02014b50);
    u16(20), u16(20), u16(0), u16(0), u16(0), u16(0x21);
    u32(e.crc), u32(e.size), u32(e.size);
    u16(uint16_t(e.name.size())), u16(0), u16(0), u16(0), u16(0);
    u32(0), u32(e.offset);
    put(e.name.data(), e.name.size());
  }
  const uint32_t dir_size = uint32_t(pos_) - dir_start;
  u32(0x06054b50);
  u16(0), u16(0), u16(uint16_t(entries_.size())), u16(uint16_t(entries_.size()));
  u32(dir_size), u32(dir_start), u16(0);
  if (entries_.size() > 0xffff) throw std::runtime_error(path_.string() + ": more than 65535 entries (ZIP64 not supported)");
  f_.commit();
}

}  // namespace rg::app
