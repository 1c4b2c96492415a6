// SPDX-License-Identifier: Apache-2.0
// The commands' image decoding (builds with rg_data, i.e. OpenCV): `ralsgan
// preprocess`, and `train --data DIR`'s folder, decoded and cached.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "apps/data/dataset.h"
#include "apps/ralsgan/cli.h"
#include "apps/ralsgan/command_helpers.h"
#include "apps/ralsgan/commands.h"
#include "apps/ralsgan/preprocess_clean.h"
#include "apps/ralsgan/progress.h"
#include "apps/ralsgan/stop.h"
#include "engine/io/atomic_file.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {

// A decoding progress callback; the bar is made at the first call, when the
// number of files is known.
std::function<void(size_t, size_t)> decode_progress(std::unique_ptr<Progress>& progress) {
  return [&progress](size_t done, size_t total) {
    if (!progress) progress = std::make_unique<Progress>("decode", total, "img");
    progress->update(done);
  };
}

fs::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "ralsgan";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "ralsgan";
  return fs::temp_directory_path() / "ralsgan-cache";
}

// A file name for the terminal: control characters (an escape sequence in a
// name would drive the terminal) as \xHH; everything else as it is.
std::string printable(const std::string& name) {
  std::string r;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      r += b;
    } else {
      r += ch;
    }
  }
  return r;
}

void print_build_report(const data::BuildReport& r) {
  std::fprintf(stderr, "%s: %zu files, %zu images decoded, %zu skipped (%.1f s)\n",
               r.folder.c_str(), r.files_seen, r.decoded, r.skipped.size(), r.seconds);
  size_t shown = 0;
  for (const auto& s : r.skipped) {
    if (shown++ == 10) {
      std::fprintf(stderr, "  ... and %zu more (see the JSON report)\n", r.skipped.size() - 10);
      break;
    }
    std::fprintf(stderr, "  skipped %s: %s\n", printable(s.path).c_str(),
                 printable(s.reason).c_str());
  }
}

// Decoding options every command uses: all cores or `threads`, a progress
// bar, and a stop at the next file on SIGINT/SIGTERM.
data::BuildOptions build_options(unsigned threads, std::unique_ptr<Progress>& progress) {
  data::BuildOptions bo;
  bo.threads = threads;
  bo.progress = decode_progress(progress);
  bo.cancelled = [] { return stop_requested(); };
  return bo;
}

}  // namespace

data::Dataset load_folder(const fs::path& data, int size, data::Fit fit, unsigned threads) {
  std::unique_ptr<Progress> progress;
  const data::BuildOptions bo = build_options(threads, progress);
  io::remove_temp_files(default_cache_dir(), io::TempOwners::kDead, "dataset-");  // of killed runs
  bool rebuilt = false;
  data::Dataset ds =
      data::open_or_build_dataset(data, default_cache_dir(), size, fit, bo, &rebuilt);
  std::fprintf(stderr, "data: %zu images of %d px from %s (%s %s)\n", ds.size(), size,
               data.string().c_str(), rebuilt ? "cached as" : "cache",
               data::cache_path_for(data, default_cache_dir(), size, fit).string().c_str());
  return ds;
}

int cmd_preprocess(int argc, char** argv) {
  Flags f("preprocess",
          "Decode every image under a folder (JPEG, PNG, BMP, WebP, TIFF, GIF), letterbox it and "
          "write a\n"
          "dataset cache plus a JSON report of what was skipped and why.");
  f.value("input", "DIR", "folder of images (searched recursively)")
      .value("output", "CACHE", "cache file to write (a report is written to CACHE.report.json)")
      .value("size", "S", "image side: 32, 64, 128 or 256", "128")
      .value("fit", "pad|stretch",
             "pad: letterbox with black bars (the seed's); stretch: ignore the aspect ratio", "pad")
      .value("threads", "N", "decoding (and detection) threads; 0 = all cores", "0")
      .required("input")
      .required("output");
  add_clean_flags(f);
  if (!f.parse(argc, argv)) return 0;
  const int size = parse_size(f);
  data::Fit fit;
  try {
    fit = data::parse_fit(f.str("fit").c_str());
  } catch (const std::exception&) {
    throw UsageError("preprocess: --fit must be pad or stretch, got '" + f.str("fit") + "'");
  }
  const fs::path in = f.str("input");
  if (!fs::is_directory(in)) throw std::runtime_error(in.string() + ": not a folder");
  std::unique_ptr<Progress> progress;
  const data::BuildOptions bo = build_options(unsigned(f.integer("threads", 0, 1024)), progress);
  const fs::path out = f.str("output");
  if (fs::is_directory(out))
    throw std::runtime_error("cannot write the cache " + out.string() + ": it is a folder");
  // Replace only a cache of ours: --output naming a user's image (or any other file) is refused.
  if (std::error_code ec; fs::exists(fs::symlink_status(out, ec))) {
    char magic[sizeof data::kCacheMagic] = {};
    std::ifstream head(out, std::ios::binary);
    if (!fs::is_regular_file(fs::symlink_status(out, ec)) || !head.read(magic, sizeof magic) ||
        std::memcmp(magic, data::kCacheMagic, sizeof magic) != 0)
      throw std::runtime_error(
          out.string() +
          " exists and is not a ralsgan dataset cache; it is left as it is (choose another "
          "--output)");
  }
  io::remove_temp_files(out.parent_path().empty() ? "." : out.parent_path(), io::TempOwners::kDead,
                        out.filename().string());
  const std::unique_ptr<CleanSetup> clean = make_clean_setup(f, default_cache_dir());
  data::BuildOptions cleaning = bo;
  if (clean->active) cleaning.clean = &clean->options;
  data::BuildReport report;
  data::Dataset ds;
  try {
    ds = data::build_dataset_cache(in, out, size, fit, &report, cleaning);
  } catch (...) {
    finish_cleaning(*clean, report);  // the detections made so far are kept
    // Every image skipped: the page shows why, which is when it helps most.
    if (clean->review && !report.images.empty()) write_review(report, out.string(), *clean);
    throw;
  }
  finish_cleaning(*clean, report);
  if (stop_requested()) {  // it came while the cache was being written, which then finished
    if (progress) progress->finish();
    std::fprintf(stderr,
                 "interrupted by %s while writing %s; the cache was written whole and is kept\n",
                 stop_signal_name().c_str(), out.string().c_str());
    return stop_exit_code();
  }
  if (progress) progress->finish();
  print_build_report(report);
  std::fprintf(stderr, "wrote %s: %zu images of %d px\n", f.str("output").c_str(), ds.size(), size);
  if (clean->exported) export_images(ds, *clean->exported);
  if (clean->review) write_review(report, out.string(), *clean);
  return 0;
}

}  // namespace rg::app
