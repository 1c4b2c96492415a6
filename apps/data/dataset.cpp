// SPDX-License-Identifier: Apache-2.0
// The dataset cache: its format (docs/data.md), reading it (memory-mapped,
// validated) and writing it atomically. Building one from a folder of images
// is dataset_build.cpp (OpenCV).
#include "apps/data/dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "engine/io/atomic_file.h"

static_assert(std::endian::native == std::endian::little, "the cache format is little-endian");

namespace fs = std::filesystem;

namespace rg::data {

uint64_t fnv1a64(const void* data, std::size_t n, uint64_t h) {
  const auto* b = static_cast<const uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

uint32_t crc32_of(std::span<const uint8_t> bytes, uint32_t crc) {
  uLong c = crc;
  const uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  while (n > 0) {
    const uInt k = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    c = ::crc32(c, p, k);
    p += k;
    n -= k;
  }
  return static_cast<uint32_t>(c);
}

// ---- Dataset -------------------------------------------------------------------

Dataset Dataset::from_memory(int image_size, std::vector<uint8_t> pixels, std::vector<std::string> sources, Fit fit,
                             uint64_t fingerprint) {
  if (image_size <= 0) throw std::invalid_argument("Dataset: image size must be positive");
  const std::size_t per = static_cast<std::size_t>(image_size) * image_size * 3;
  if (pixels.size() != per * sources.size())
    throw std::invalid_argument("Dataset: pixel buffer size does not match count x size x size x 3");
  auto buf = std::make_shared<std::vector<uint8_t>>(std::move(pixels));
  Dataset d;
  d.pixels_ = buf->data();
  d.owner_ = buf;
  d.count_ = sources.size();
  d.image_size_ = image_size;
  d.fit_ = fit;
  d.fingerprint_ = fingerprint;
  d.sources_ = std::move(sources);
  return d;
}

namespace {

// Header field offsets (see docs/data.md).
enum : std::size_t {
  kOffMagic = 0, kOffVersion = 8, kOffHeaderSize = 12, kOffImageSize = 16, kOffChannels = 20, kOffCount = 24,
  kOffFit = 32, kOffReserved = 36, kOffFingerprint = 40, kOffPathsOffset = 48, kOffPathsBytes = 56,
  kOffPixelsOffset = 64, kOffPixelsBytes = 72, kOffFileSize = 80, kOffPathsCrc = 88, kOffPixelsCrc = 92,
  kOffHeaderCrc = 124,
};
constexpr uint32_t kMaxPathBytes = 1u << 16;

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

[[noreturn]] void bad(const std::string& name, const std::string& field, const std::string& what) {
  throw std::runtime_error(name + ": invalid dataset cache: " + field + ": " + what);
}

uint64_t align64(uint64_t x) { return (x + 63) & ~uint64_t{63}; }

struct ParsedHeader {
  CacheHeader h;
  uint64_t paths_offset, paths_bytes, pixels_offset, pixels_bytes, file_size;
  uint32_t paths_crc, pixels_crc;
};

ParsedHeader parse_header(std::span<const uint8_t> b, const std::string& name) {
  if (b.size() < kCacheHeaderSize)
    bad(name, "header", "file is " + std::to_string(b.size()) + " bytes, shorter than the 128-byte header");
  const uint8_t* p = b.data();
  if (std::memcmp(p, kCacheMagic, 8) != 0) bad(name, "magic", "not a ralsgan dataset cache (wrong magic)");
  ParsedHeader r;
  r.h.version = load<uint32_t>(p + kOffVersion);
  if (r.h.version != kCacheVersion)
    bad(name, "version", "version " + std::to_string(r.h.version) + ", expected " + std::to_string(kCacheVersion));
  if (load<uint32_t>(p + kOffHeaderCrc) != crc32_of({p, kOffHeaderCrc}))
    bad(name, "header checksum", "CRC-32 mismatch (header corrupted)");
  if (load<uint32_t>(p + kOffHeaderSize) != kCacheHeaderSize) bad(name, "header_size", "must be 128");
  r.h.image_size = load<uint32_t>(p + kOffImageSize);
  r.h.channels = load<uint32_t>(p + kOffChannels);
  r.h.count = load<uint64_t>(p + kOffCount);
  r.h.fit = load<uint32_t>(p + kOffFit);
  r.h.fingerprint = load<uint64_t>(p + kOffFingerprint);
  r.paths_offset = load<uint64_t>(p + kOffPathsOffset);
  r.paths_bytes = load<uint64_t>(p + kOffPathsBytes);
  r.pixels_offset = load<uint64_t>(p + kOffPixelsOffset);
  r.pixels_bytes = load<uint64_t>(p + kOffPixelsBytes);
  r.file_size = load<uint64_t>(p + kOffFileSize);
  r.paths_crc = load<uint32_t>(p + kOffPathsCrc);
  r.pixels_crc = load<uint32_t>(p + kOffPixelsCrc);
  if (r.h.image_size == 0 || r.h.image_size > kMaxImageSize)
    bad(name, "image_size", std::to_string(r.h.image_size) + " out of range [1, 32768]");
  if (r.h.channels != 3) bad(name, "channels", std::to_string(r.h.channels) + ", expected 3");
  if (r.h.fit > 1) bad(name, "fit", std::to_string(r.h.fit) + " is neither pad (0) nor stretch (1)");
  if (r.h.count == 0) bad(name, "count", "0 images");
  if (load<uint32_t>(p + kOffReserved) != 0) bad(name, "reserved", "must be 0");
  if (r.file_size != b.size())
    bad(name, "file_size", "header says " + std::to_string(r.file_size) + " bytes, file has " +
                               std::to_string(b.size()) + " (truncated or extended)");
  if (r.paths_offset != kCacheHeaderSize) bad(name, "paths_offset", "must be 128");
  if (r.paths_bytes > r.file_size - r.paths_offset) bad(name, "paths_bytes", "path table runs past the end of the file");
  if (r.paths_bytes < 4 * r.h.count) bad(name, "paths_bytes", "too small for " + std::to_string(r.h.count) + " paths");
  if (r.pixels_offset % 64 != 0) bad(name, "pixels_offset", "not 64-byte aligned");
  if (r.pixels_offset < r.paths_offset + r.paths_bytes) bad(name, "pixels_offset", "overlaps the path table");
  if (r.pixels_offset > r.file_size) bad(name, "pixels_offset", "past the end of the file");
  const uint64_t per = uint64_t{r.h.image_size} * r.h.image_size * 3;
  if (r.h.count > (r.file_size - r.pixels_offset) / per)
    bad(name, "count", std::to_string(r.h.count) + " images do not fit in the file");
  if (r.pixels_bytes != r.h.count * per) bad(name, "pixels_bytes", "does not equal count x size x size x 3");
  if (r.pixels_offset + r.pixels_bytes != r.file_size) bad(name, "pixels_bytes", "pixels do not end at the end of the file");
  return r;
}

}  // namespace

Dataset Dataset::parse_cache(std::shared_ptr<const void> owner, std::span<const uint8_t> b, const std::string& name,
                             bool verify_pixels) {
  const ParsedHeader r = parse_header(b, name);
  const uint8_t* paths = b.data() + r.paths_offset;
  if (crc32_of({paths, static_cast<std::size_t>(r.paths_bytes)}) != r.paths_crc)
    bad(name, "path table checksum", "CRC-32 mismatch (path table corrupted)");
  std::vector<std::string> sources;
  sources.reserve(static_cast<std::size_t>(r.h.count));
  uint64_t pos = 0;
  for (uint64_t i = 0; i < r.h.count; ++i) {
    if (r.paths_bytes - pos < 4) bad(name, "path table", "entry " + std::to_string(i) + " runs past the table");
    const uint32_t len = load<uint32_t>(paths + pos);
    pos += 4;
    if (len > kMaxPathBytes || len > r.paths_bytes - pos)
      bad(name, "path table", "entry " + std::to_string(i) + " has a bad length " + std::to_string(len));
    sources.emplace_back(reinterpret_cast<const char*>(paths + pos), len);
    pos += len;
  }
  if (pos != r.paths_bytes) bad(name, "path table", "trailing bytes after the last entry");
  for (uint64_t i = r.paths_offset + r.paths_bytes; i < r.pixels_offset; ++i)
    if (b[static_cast<std::size_t>(i)] != 0) bad(name, "padding", "non-zero byte before the pixels");
  const uint8_t* pixels = b.data() + r.pixels_offset;
  if (verify_pixels && crc32_of({pixels, static_cast<std::size_t>(r.pixels_bytes)}) != r.pixels_crc)
    bad(name, "pixels checksum", "CRC-32 mismatch (pixel data corrupted)");
  Dataset d;
  d.owner_ = std::move(owner);
  d.pixels_ = pixels;
  d.count_ = static_cast<std::size_t>(r.h.count);
  d.image_size_ = static_cast<int>(r.h.image_size);
  d.fit_ = static_cast<Fit>(r.h.fit);
  d.fingerprint_ = r.h.fingerprint;
  d.sources_ = std::move(sources);
  return d;
}

namespace {

struct Mapping {
  void* addr = nullptr;
  std::size_t len = 0;
  ~Mapping() {
    if (addr && addr != MAP_FAILED) ::munmap(addr, len);
  }
};

std::shared_ptr<Mapping> map_file(const fs::path& path, std::size_t max_bytes = SIZE_MAX) {
  const std::string name = path.string();
  // Without blocking: a FIFO must be refused (below), not waited on.
  int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(name + ": cannot open dataset cache: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(name + ": cannot stat dataset cache: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error(name + ": dataset cache is not a regular file");
  }
  auto m = std::make_shared<Mapping>();
  m->len = std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max_bytes);
  if (m->len > 0) {
    m->addr = ::mmap(nullptr, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      m->addr = nullptr;
      throw std::runtime_error(name + ": cannot map dataset cache: " + std::strerror(e));
    }
  }
  ::close(fd);
  return m;
}

void write_all(int fd, const void* data, std::size_t n, const std::string& name) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    ssize_t k = ::write(fd, p, std::min<std::size_t>(n, 1u << 30));
    if (k < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(name + ": write failed: " + std::strerror(errno));
    }
    p += k;
    n -= static_cast<std::size_t>(k);
  }
}

}  // namespace

Dataset open_cache(const fs::path& path, bool verify_pixels) {
  auto m = map_file(path);
  std::span<const uint8_t> bytes(static_cast<const uint8_t*>(m->addr), m->len);
  return Dataset::parse_cache(m, bytes, path.string(), verify_pixels);
}

CacheHeader read_cache_header(const fs::path& path) {
  auto m = map_file(path);
  return parse_header({static_cast<const uint8_t*>(m->addr), m->len}, path.string()).h;
}

void write_cache(const Dataset& ds, const fs::path& path) {
  const std::string name = path.string();
  if (ds.size() == 0) throw std::runtime_error(name + ": refusing to write an empty dataset cache");
  std::vector<uint8_t> table;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    const std::string& s = ds.source(i);
    if (s.size() > kMaxPathBytes) throw std::runtime_error(name + ": source path too long: " + s.substr(0, 64) + "...");
    uint8_t len[4];
    store<uint32_t>(len, static_cast<uint32_t>(s.size()));
    table.insert(table.end(), len, len + 4);
    table.insert(table.end(), s.begin(), s.end());
  }
  const uint64_t pixels_offset = align64(kCacheHeaderSize + table.size());
  const uint64_t pixels_bytes = uint64_t{ds.size()} * ds.image_bytes();
  uint8_t h[kCacheHeaderSize] = {};
  std::memcpy(h + kOffMagic, kCacheMagic, 8);
  store<uint32_t>(h + kOffVersion, kCacheVersion);
  store<uint32_t>(h + kOffHeaderSize, kCacheHeaderSize);
  store<uint32_t>(h + kOffImageSize, static_cast<uint32_t>(ds.image_size()));
  store<uint32_t>(h + kOffChannels, 3);
  store<uint64_t>(h + kOffCount, ds.size());
  store<uint32_t>(h + kOffFit, static_cast<uint32_t>(ds.fit()));
  store<uint64_t>(h + kOffFingerprint, ds.fingerprint());
  store<uint64_t>(h + kOffPathsOffset, kCacheHeaderSize);
  store<uint64_t>(h + kOffPathsBytes, table.size());
  store<uint64_t>(h + kOffPixelsOffset, pixels_offset);
  store<uint64_t>(h + kOffPixelsBytes, pixels_bytes);
  store<uint64_t>(h + kOffFileSize, pixels_offset + pixels_bytes);
  store<uint32_t>(h + kOffPathsCrc, crc32_of(table));
  store<uint32_t>(h + kOffPixelsCrc, crc32_of({ds.pixels(), static_cast<std::size_t>(pixels_bytes)}));
  store<uint32_t>(h + kOffHeaderCrc, crc32_of({h, kOffHeaderCrc}));

  static std::atomic<unsigned> counter{0};
  // "<cache>.rgtmp-<pid>-<n>": the app's rule for finding temporaries of killed runs.
  const fs::path tmp = path.string() + io::kTempMarker + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const std::string tname = tmp.string();
  int fd = ::open(tname.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(tname + ": cannot create dataset cache: " + std::strerror(errno));
  try {
    write_all(fd, h, sizeof h, tname);
    write_all(fd, table.data(), table.size(), tname);
    const std::vector<uint8_t> pad(pixels_offset - kCacheHeaderSize - table.size(), 0);
    write_all(fd, pad.data(), pad.size(), tname);
    write_all(fd, ds.pixels(), static_cast<std::size_t>(pixels_bytes), tname);
    if (::fsync(fd) != 0) throw std::runtime_error(tname + ": fsync failed: " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tname.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tname.c_str());
    throw std::runtime_error(tname + ": close failed: " + std::strerror(errno));
  }
  if (::rename(tname.c_str(), name.c_str()) != 0) {
    int e = errno;
    ::unlink(tname.c_str());
    throw std::runtime_error(name + ": cannot rename the temporary cache into place: " + std::strerror(e));
  }
}

}  // namespace rg::data
