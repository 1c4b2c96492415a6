// SPDX-License-Identifier: Apache-2.0
// Building a dataset from a folder of images: scanning, decoding and
// letterboxing on a thread pool (OpenCV, decode.h), the build report, and the
// cache that open_or_build_dataset reuses while the folder is unchanged.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "apps/data/clean/cleaning.h"
#include "apps/data/clean/perceptual_hash.h"
#include "apps/data/dataset.h"
#include "apps/data/decode.h"
#include "apps/data/letterbox.h"
#include "apps/data/parallel.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"

namespace fs = std::filesystem;

namespace rg::data {

// ---- Folder scanning --------------------------------------------------------------

std::vector<FolderEntry> scan_folder(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw std::runtime_error(folder.string() +
                             ": input folder does not exist or is not a directory");
  std::vector<FolderEntry> out;
  fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec),
      end;
  if (ec) throw std::runtime_error(folder.string() + ": cannot list folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& e = *it;
    std::error_code e2;
    const bool link = e.is_symlink(e2);
    const bool dir = e.is_directory(e2);  // follows symlinks
    if (dir) {
      // Directories are walked; one with an image extension, or a symlink to a
      // directory (not followed), is listed so that the report explains it.
      const bool image_ext =
          format_from_extension(e.path().extension().string()) != ImageFormat::kUnknown;
      if (!link && !image_ext) continue;
    }
    FolderEntry f;
    f.relative = e.path().lexically_relative(folder).generic_string();
    f.is_dir = dir;
    if (!dir) {
      auto sz = fs::file_size(e.path(), e2);
      f.size = e2 ? 0 : sz;
    }
    auto t = fs::last_write_time(e.path(), e2);
    f.mtime_ns =
        e2 ? 0 : std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    out.push_back(std::move(f));
  }
  if (ec) throw std::runtime_error(folder.string() + ": cannot list folder: " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const FolderEntry& a, const FolderEntry& b) { return a.relative < b.relative; });
  return out;
}

uint64_t folder_fingerprint(const std::vector<FolderEntry>& entries) {
  uint64_t h = kFnv1a64Basis;
  auto mix = [&](const void* p, std::size_t n) { h = fnv1a64(p, n, h); };
  for (const auto& e : entries) {
    mix(e.relative.data(), e.relative.size());
    const uint8_t zero = 0, dir = e.is_dir;
    mix(&zero, 1);
    mix(&e.size, 8);
    mix(&e.mtime_ns, 8);
    mix(&dir, 1);
  }
  return h;
}

// ---- Building -------------------------------------------------------------------

namespace {

Dataset build_from_entries(const fs::path& folder, const std::vector<FolderEntry>& entries,
                           int size, Fit fit, BuildReport* report, const BuildOptions& options) {
  if (size <= 0 || size > static_cast<int>(kMaxImageSize))
    throw std::invalid_argument("image size out of range");
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t n = entries.size();
  const std::size_t per = static_cast<std::size_t>(size) * size * 3;
  if (n == 0) throw std::runtime_error(folder.string() + ": input folder has no files");
  std::vector<uint8_t> pixels(n * per);
  std::vector<uint8_t> ok(n, 0);
  std::vector<std::string> reason(n), note(n);
  std::mutex progress_mutex;
  std::size_t done = 0;
  std::atomic<std::size_t> finished{0};
  const CleanOptions* clean = options.clean;
  std::vector<ImageRecord> records(clean ? n : 0);
  std::vector<uint64_t> hashes(clean ? n : 0);
  CleanCounters counters;
  parallel_for(n, options.threads, [&](std::size_t i) {
    if (options.cancelled && options.cancelled())
      throw Cancelled(folder.string() + ": decoding stopped after " +
                      std::to_string(finished.load()) + " of " + std::to_string(n) + " files");
    const FolderEntry& e = entries[i];
    try {
      std::vector<uint8_t> bytes;  // kept for the detection cache's key
      if (clean && clean->exclude.count(e.relative)) {  // never read
        reason[i] = "excluded by " + clean->exclude_file;
        ++counters.excluded;
      } else if (DecodeResult r =
                     decode_image_file(folder / fs::path(e.relative), clean ? &bytes : nullptr);
                 !r.ok) {
        reason[i] = std::move(r.reason);
      } else if (clean && !clean_image(*clean, bytes, r.image, records[i], counters)) {
        reason[i] = records[i].reason;
      } else {
        fit_image(r.image, size, fit, pixels.data() + i * per);
        if (clean) {
          hashes[i] = perceptual_hash(pixels.data() + i * per, size, size);
          records[i].hashed = true;
        }
        ok[i] = 1;
        note[i] = std::move(r.note);
      }
    } catch (const std::exception& ex) {
      reason[i] = std::string("error: ") + ex.what();
    }
    ++finished;
    if (options.progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      options.progress(++done, n);
    }
  });
  std::size_t duplicates = 0;
  if (clean) {  // near-duplicates, in path order: the first of a group is kept
    std::vector<bool> present(n);
    for (std::size_t i = 0; i < n; ++i) present[i] = ok[i];
    const std::vector<long> dup = near_duplicate_of(hashes, present, clean->dedupe_distance);
    for (std::size_t i = 0; i < n; ++i) {
      if (dup[i] < 0) continue;
      ++duplicates;
      records[i].duplicate_of = entries[size_t(dup[i])].relative;
      if (clean->dedupe) {
        ok[i] = 0;
        reason[i] = "near-duplicate of " + records[i].duplicate_of;
      }
    }
    // Each record's decision is the build's own, whatever step made it.
    for (std::size_t i = 0; i < n; ++i) {
      records[i].path = entries[i].relative;
      records[i].kept = ok[i];
      records[i].reason = ok[i] ? std::string() : reason[i];
    }
  }
  BuildReport rep;
  rep.folder = folder.string();
  rep.files_seen = n;
  std::vector<std::string> sources;
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!ok[i]) {
      rep.skipped.push_back({entries[i].relative, reason[i]});
      continue;
    }
    if (!note[i].empty()) rep.notes.push_back({entries[i].relative, note[i]});
    if (k != i) std::memmove(pixels.data() + k * per, pixels.data() + i * per, per);
    sources.push_back(entries[i].relative);
    ++k;
  }
  rep.decoded = k;
  if (clean) {
    rep.cleaning_json = clean_settings_json(*clean);
    rep.images = std::move(records);
    if (clean->detector) rep.class_names = clean->detector->names();
    rep.network_runs = counters.network_runs;
    rep.cached_detections = counters.cached;
    rep.excluded = counters.excluded;
    rep.duplicates = duplicates;
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (report) *report = rep;
  if (k == 0)
    throw std::runtime_error(folder.string() +
                             (clean ? ": no image kept among " : ": no decodable image among ") +
                             std::to_string(n) + " files (first: " + rep.skipped[0].path + ": " +
                             rep.skipped[0].reason + ")");
  pixels.resize(k * per);
  pixels.shrink_to_fit();
  return Dataset::from_memory(size, std::move(pixels), std::move(sources), fit,
                              folder_fingerprint(entries));
}

}  // namespace

Dataset build_dataset(const fs::path& folder, int size, Fit fit, BuildReport* report,
                      const BuildOptions& options) {
  return build_from_entries(folder, scan_folder(folder), size, fit, report, options);
}

std::string report_json(const BuildReport& r, const std::string& cache_file) {
  io::Json j = io::Json::object();
  j["folder"] = io::json_text(r.folder);
  j["cache"] = io::json_text(cache_file);
  j["files_seen"] = r.files_seen;
  j["decoded"] = r.decoded;
  j["skipped_count"] = r.skipped.size();
  io::Json skipped = io::Json::array(), notes = io::Json::array();
  for (const SkippedFile& f : r.skipped)
    skipped.push_back(io::Json{{"path", io::json_text(f.path)}, {"reason", io::json_text(f.reason)}});
  for (const NotedFile& f : r.notes)
    notes.push_back(io::Json{{"path", io::json_text(f.path)}, {"note", io::json_text(f.note)}});
  j["skipped"] = std::move(skipped);
  j["notes"] = std::move(notes);
  if (!r.cleaning_json.empty()) {
    j["cleaning"] = io::Json::parse(r.cleaning_json);
    j["images"] = image_records_json(r.images, r.class_names);
  }
  return io::dump_report(j);
}

void write_report_json(const BuildReport& report, const fs::path& json_path,
                       const std::string& cache_file) {
  try {
    io::write_file_atomic(json_path, report_json(report, cache_file));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + " (the decoding report)");
  }
}

Dataset build_dataset_cache(const fs::path& folder, const fs::path& cache_file, int size, Fit fit,
                            BuildReport* report, const BuildOptions& options) {
  BuildReport local;
  BuildReport& rep = report ? *report : local;
  Dataset ds;
  try {
    ds = build_dataset(folder, size, fit, &rep, options);
  } catch (...) {
    if (rep.files_seen) {  // still explain what was skipped
      std::error_code ec;
      if (!cache_file.parent_path().empty()) fs::create_directories(cache_file.parent_path(), ec);
      try {
        write_report_json(rep, cache_file.string() + ".report.json", cache_file.string());
      } catch (...) {
      }
    }
    throw;
  }
  std::error_code ec;
  if (!cache_file.parent_path().empty()) fs::create_directories(cache_file.parent_path(), ec);
  write_cache(ds, cache_file);
  write_report_json(rep, cache_file.string() + ".report.json", cache_file.string());
  return ds;
}

fs::path cache_path_for(const fs::path& folder, const fs::path& cache_dir, int size, Fit fit) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(folder, ec), ec);
  const std::string s = abs.generic_string();
  const uint64_t h = fnv1a64(s.data(), s.size());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return cache_dir / ("dataset-" + std::string(buf) + "-" + std::to_string(size) + "-" +
                      fit_name(fit) + ".rgcache");
}

Dataset open_or_build_dataset(const fs::path& folder, const fs::path& cache_dir, int size, Fit fit,
                              const BuildOptions& options, bool* rebuilt) {
  const fs::path cache = cache_path_for(folder, cache_dir, size, fit);
  const std::vector<FolderEntry> entries = scan_folder(folder);
  const uint64_t fp = folder_fingerprint(entries);
  std::error_code ec;
  if (fs::exists(cache, ec)) {
    try {
      const CacheHeader h = read_cache_header(cache);
      if (h.image_size == static_cast<uint32_t>(size) && h.fit == static_cast<uint32_t>(fit) &&
          h.fingerprint == fp) {
        Dataset ds = open_cache(cache);
        if (rebuilt) *rebuilt = false;
        return ds;
      }
    } catch (const std::runtime_error&) {
      // stale or corrupt: rebuilt below
    }
  }
  BuildReport rep;
  Dataset built;
  try {
    built = build_from_entries(folder, entries, size, fit, &rep, options);
  } catch (...) {
    if (rep.files_seen) {
      fs::create_directories(cache_dir, ec);
      try {
        write_report_json(rep, cache.string() + ".report.json", cache.string());
      } catch (...) {
      }
    }
    throw;
  }
  fs::create_directories(cache_dir, ec);
  write_cache(built, cache);
  write_report_json(rep, cache.string() + ".report.json", cache.string());
  if (rebuilt) *rebuilt = true;
  return open_cache(cache, false);
}

}  // namespace rg::data
