// SPDX-License-Identifier: Apache-2.0
// The preprocessed data set: N images of size x size x 3 (uint8, HWC), either
// memory-mapped from a cache file or held in memory. See docs/data.md for the
// cache format and the rules for which files are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/data/clean/image_record.h"
#include "apps/data/image.h"

namespace rg::data {

class Dataset {
 public:
  Dataset() = default;

  std::size_t size() const { return count_; }
  int image_size() const { return image_size_; }
  int channels() const { return 3; }
  Fit fit() const { return fit_; }
  uint64_t fingerprint() const { return fingerprint_; }
  std::size_t image_bytes() const { return static_cast<std::size_t>(image_size_) * image_size_ * 3; }
  // Pixels of image i (size x size x 3, HWC RGB); i < size(), unchecked.
  const uint8_t* image(std::size_t i) const { return pixels_ + i * image_bytes(); }
  const uint8_t* pixels() const { return pixels_; }
  // Source path of image i, relative to the input folder (or a synthetic name).
  const std::string& source(std::size_t i) const { return sources_.at(i); }

  // An in-memory data set; pixels.size() must be sources.size() * size * size * 3.
  static Dataset from_memory(int image_size, std::vector<uint8_t> pixels, std::vector<std::string> sources,
                             Fit fit = Fit::kPad, uint64_t fingerprint = 0);

  // Parses a cache held in memory (the file's bytes). `name` goes in error
  // messages. Throws std::runtime_error naming the file and the field at fault.
  // With verify_pixels the pixel checksum is checked too (reads every byte).
  static Dataset parse_cache(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                             const std::string& name, bool verify_pixels = true);

 private:
  std::shared_ptr<const void> owner_;  // keeps the mapping or buffer alive
  const uint8_t* pixels_ = nullptr;
  std::size_t count_ = 0;
  int image_size_ = 0;
  Fit fit_ = Fit::kPad;
  uint64_t fingerprint_ = 0;
  std::vector<std::string> sources_;
};

// ---- Cache files -----------------------------------------------------------

inline constexpr char kCacheMagic[8] = {'R', 'G', 'D', 'C', 'A', 'C', 'H', 'E'};
inline constexpr uint32_t kCacheVersion = 1;
inline constexpr std::size_t kCacheHeaderSize = 128;
inline constexpr uint32_t kMaxImageSize = 1u << 15;  // the largest image side a cache holds

// Writes `ds` to `path` atomically (temporary file in the same folder, fsync, rename).
void write_cache(const Dataset& ds, const std::filesystem::path& path);
// Memory-maps and validates a cache file. Throws std::runtime_error("<file>: <field>: ...").
Dataset open_cache(const std::filesystem::path& path, bool verify_pixels = true);
// Reads only the header fields (no checksum of pixels); throws like open_cache.
struct CacheHeader {
  uint32_t version = 0, image_size = 0, channels = 0, fit = 0;
  uint64_t count = 0, fingerprint = 0;
};
CacheHeader read_cache_header(const std::filesystem::path& path);

// ---- Building from a folder --------------------------------------------------

struct SkippedFile {
  std::string path;  // relative to the folder
  std::string reason;
};
struct NotedFile {
  std::string path;
  std::string note;
};

struct BuildReport {
  std::string folder;
  std::size_t files_seen = 0, decoded = 0;
  std::vector<SkippedFile> skipped;
  std::vector<NotedFile> notes;  // kept, with a warning (wrong extension, truncated JPEG, ...)
  double seconds = 0;            // printed, not in the JSON (which must not vary between runs)
  // With a cleaning step (BuildOptions::clean): what it was told and what it
  // decided per file, in path order; the detector's class names.
  std::string cleaning_json;
  std::vector<ImageRecord> images;
  std::vector<std::string> class_names;
  std::size_t network_runs = 0, cached_detections = 0, excluded = 0, duplicates = 0;
};

struct CleanOptions;  // apps/data/clean/cleaning.h

struct BuildOptions {
  unsigned threads = 0;  // 0: std::thread::hardware_concurrency()
  // Called as files finish, from worker threads but never concurrently.
  std::function<void(std::size_t done, std::size_t total)> progress;
  // Polled before each file, from worker threads: returning true stops the
  // build (Cancelled is thrown, nothing is written). For SIGINT/SIGTERM.
  std::function<bool()> cancelled;
  // Exclude list, detector crop, near-duplicates (docs/data.md); null: none.
  const CleanOptions* clean = nullptr;
};

// A build stopped by BuildOptions::cancelled.
class Cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One file found under a folder: relative path (generic, '/' separators),
// size in bytes and modification time (ns since epoch); 0 for unreadable.
struct FolderEntry {
  std::string relative;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool is_dir = false;  // a directory whose name has an image extension (reported, not decoded)
};

// All files under `folder`, recursively (directory symlinks are not followed),
// sorted by relative path in byte order.
std::vector<FolderEntry> scan_folder(const std::filesystem::path& folder);
// FNV-1a 64 over (relative path, size, mtime) of every entry, in order.
uint64_t folder_fingerprint(const std::vector<FolderEntry>& entries);

// Decodes every file of `folder` on a thread pool, fits each to size x size,
// and returns an in-memory data set in sorted path order. Throws
// std::runtime_error if the folder is missing, empty or has no decodable image.
Dataset build_dataset(const std::filesystem::path& folder, int size, Fit fit, BuildReport* report = nullptr,
                      const BuildOptions& options = {});

// build_dataset + write_cache(cache_file) + the JSON report at cache_file + ".report.json".
Dataset build_dataset_cache(const std::filesystem::path& folder, const std::filesystem::path& cache_file, int size,
                            Fit fit, BuildReport* report = nullptr, const BuildOptions& options = {});

// Reuses cache_dir/<name>.rgcache when its header matches (version, size, fit,
// folder fingerprint) and it validates; rebuilds it otherwise. `rebuilt` tells which.
Dataset open_or_build_dataset(const std::filesystem::path& folder, const std::filesystem::path& cache_dir, int size,
                              Fit fit, const BuildOptions& options = {}, bool* rebuilt = nullptr);
// The cache file open_or_build_dataset uses for (folder, size, fit).
std::filesystem::path cache_path_for(const std::filesystem::path& folder, const std::filesystem::path& cache_dir,
                                     int size, Fit fit);

std::string report_json(const BuildReport& report, const std::string& cache_file = {});
void write_report_json(const BuildReport& report, const std::filesystem::path& json_path,
                       const std::string& cache_file = {});

// CRC-32 (zlib's polynomial) of bytes.
uint32_t crc32_of(std::span<const uint8_t> bytes, uint32_t crc = 0);
// FNV-1a 64 of bytes, continuing from `h` (the folder fingerprint, cache
// names, the detection cache's keys).
inline constexpr uint64_t kFnv1a64Basis = 0xcbf29ce484222325ull;
uint64_t fnv1a64(const void* data, std::size_t n, uint64_t h = kFnv1a64Basis);

}  // namespace rg::data
