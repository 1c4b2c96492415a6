// SPDX-License-Identifier: Apache-2.0
// The detection cache file (detection_cache.h). Little-endian:
//   "RGDETECT", u32 version, u32 input size, u64 detector hash, f32 floor,
//   u64 entry count, then per entry (ascending key): u64 fnv, u32 crc,
//   u64 size, u32 n, n x (f32 x0, y0, x1, y1, score, i32 class).
#include "apps/data/clean/detection_cache.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "apps/data/clean/detector.h"
#include "apps/data/dataset.h"
#include "engine/io/atomic_file.h"

namespace rg::data {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'R', 'G', 'D', 'E', 'T', 'E', 'C', 'T'};
// Version 1; bump it when what the network is fed changes (placement, grey,
// interpolation), since old candidates would no longer be what it says.
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxPerImage = 100000;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

struct Reader {
  const std::string& s;
  size_t at = 0;
  template <class T>
  T get() {
    if (s.size() - at < sizeof(T)) throw std::runtime_error("truncated");
    T v;
    std::memcpy(&v, s.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
};

}  // namespace

ContentKey content_key(std::span<const uint8_t> bytes) {
  return {fnv1a64(bytes.data(), bytes.size()), crc32_of(bytes), bytes.size()};
}

fs::path DetectionCache::file_for(const fs::path& dir, uint64_t detector_hash, int input_size) {
  char b[64];
  std::snprintf(b, sizeof b, "detections-%016llx-%d.rgdet",
                static_cast<unsigned long long>(detector_hash), input_size);
  return dir / b;
}

DetectionCache::DetectionCache(fs::path file, uint64_t detector_hash, int input_size, float floor)
    : file_(std::move(file)),
      detector_hash_(detector_hash),
      input_size_(input_size),
      floor_(floor) {
  std::error_code ec;
  if (!fs::exists(file_, ec)) return;
  std::ifstream in(file_, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    Reader r{s};
    char magic[8];
    for (char& c : magic) c = r.get<char>();
    if (std::memcmp(magic, kMagic, 8) != 0) throw std::runtime_error("not a detection cache");
    if (r.get<uint32_t>() != kVersion) throw std::runtime_error("another version");
    if (r.get<uint32_t>() != uint32_t(input_size) || r.get<uint64_t>() != detector_hash)
      throw std::runtime_error("another detector");
    const float stored_floor = r.get<float>();
    if (!(stored_floor <= floor)) {
      note_ = "its candidates stop at score " + std::to_string(stored_floor) +
              ", above --min-score; the network runs again";
      return;
    }
    floor_ = stored_floor;
    const uint64_t count = r.get<uint64_t>();
    if (count > s.size() / 24) throw std::runtime_error("absurd entry count");
    for (uint64_t e = 0; e < count; ++e) {
      ContentKey k;
      k.fnv = r.get<uint64_t>();
      k.crc = r.get<uint32_t>();
      k.size = r.get<uint64_t>();
      const uint32_t n = r.get<uint32_t>();
      if (n > kMaxPerImage || n > (s.size() - r.at) / 24) throw std::runtime_error("absurd count");
      std::vector<Detection> dets(n);
      for (Detection& d : dets) {
        d.box.x0 = r.get<float>();
        d.box.y0 = r.get<float>();
        d.box.x1 = r.get<float>();
        d.box.y1 = r.get<float>();
        d.score = r.get<float>();
        d.cls = r.get<int32_t>();
      }
      entries_[k] = std::move(dets);
    }
    if (r.at != s.size()) throw std::runtime_error("trailing bytes");
  } catch (const std::runtime_error& e) {
    entries_.clear();
    note_ = std::string("it was unreadable (") + e.what() + ") and is rebuilt";
  }
}

std::optional<std::vector<Detection>> DetectionCache::find(const ContentKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void DetectionCache::insert(const ContentKey& key, std::vector<Detection> candidates) {
  if (candidates.size() > kMaxPerImage) candidates.resize(kMaxPerImage);
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[key] = std::move(candidates);
  changed_ = true;
}

size_t DetectionCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

bool DetectionCache::changed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return changed_;
}

void DetectionCache::save() const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out.append(kMagic, 8);
    put<uint32_t>(out, kVersion);
    put<uint32_t>(out, uint32_t(input_size_));
    put<uint64_t>(out, detector_hash_);
    put<float>(out, floor_);
    put<uint64_t>(out, entries_.size());
    for (const auto& [k, dets] : entries_) {
      put(out, k.fnv);
      put(out, k.crc);
      put(out, k.size);
      put<uint32_t>(out, uint32_t(dets.size()));
      for (const Detection& d : dets) {
        put(out, d.box.x0);
        put(out, d.box.y0);
        put(out, d.box.x1);
        put(out, d.box.y1);
        put(out, d.score);
        put<int32_t>(out, d.cls);
      }
    }
  }
  std::error_code ec;
  if (!file_.parent_path().empty()) fs::create_directories(file_.parent_path(), ec);
  io::write_file_atomic(file_, out);
}

}  // namespace rg::data
