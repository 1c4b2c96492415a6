// SPDX-License-Identifier: Apache-2.0
#include "apps/metrics/eval.h"

#include "engine/io/atomic_file.h"
#include "engine/io/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "apps/metrics/inception.h"

namespace rg::metrics {
namespace fs = std::filesystem;

std::vector<Image> load_image_folder(const std::string& dir) {
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a folder");
  static const std::set<std::string> kExt{".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"};
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (kExt.count(ext)) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error(dir + ": no image files (png, jpg, bmp, webp, tiff)");
  std::vector<Image> out;
  out.reserve(files.size());
  for (const fs::path& p : files) {
    const cv::Mat bgr = cv::imread(p.string(), cv::IMREAD_COLOR);
    if (bgr.empty()) throw std::runtime_error(p.string() + ": cannot decode image");
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    Image im;
    im.width = rgb.cols;
    im.height = rgb.rows;
    im.rgb.resize(size_t(im.width) * size_t(im.height) * 3);
    for (int y = 0; y < rgb.rows; ++y)
      std::copy(rgb.ptr<uint8_t>(y), rgb.ptr<uint8_t>(y) + size_t(im.width) * 3, im.rgb.data() + size_t(y) * size_t(im.width) * 3);
    out.push_back(std::move(im));
  }
  return out;
}

namespace {

// Pointers to the images and their common square size; throws naming `what`.
int common_size(const std::vector<Image>& imgs, const std::string& what, std::vector<const uint8_t*>& ptrs) {
  if (imgs.empty()) throw std::invalid_argument(what + ": no images");
  const int s = imgs[0].width;
  for (size_t i = 0; i < imgs.size(); ++i) {
    const Image& im = imgs[i];
    if (im.width != s || im.height != s || im.rgb.size() != size_t(s) * size_t(s) * 3)
      throw std::invalid_argument(
          what + ": image " + std::to_string(i) + " is " + std::to_string(im.width) + "x" + std::to_string(im.height) +
          "; all images must be square and of one size (" +
          (i == 0 ? std::string("the first is not square") : "the first is " + std::to_string(s) + "x" + std::to_string(s)) +
          "); letterbox a photo folder first: ralsgan preprocess --input DIR --output CACHE --size N, then pass CACHE");
    ptrs.push_back(im.rgb.data());
  }
  return s;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

std::string cache_tag(const EvalOptions& o) {
  return "inception=" + fs::path(o.inception).filename().string() + ";width=" + num(o.inception_width);
}

}  // namespace

MetricsReport evaluate(const EvalOptions& o) {
  bool want_swd = false, want_fid = false, want_kid = false;
  for (const std::string& m : o.metrics) {
    if (m == "swd") want_swd = true;
    else if (m == "fid") want_fid = true;
    else if (m == "kid") want_kid = true;
    else throw std::invalid_argument("--metrics: unknown metric '" + m + "' (expected swd, fid, kid)");
  }
  if (!want_swd && !want_fid && !want_kid) throw std::invalid_argument("--metrics: no metric requested");
  if ((want_fid || want_kid) && o.inception.empty())
    throw std::invalid_argument("--inception: FID and KID need Inception weights (--inception FILE, made by "
                                "tools/inception/convert_pt_inception.py; see docs/metrics.md)");
  if ((want_fid || want_kid) && !fs::is_regular_file(o.inception))
    throw std::runtime_error(o.inception + ": Inception weights file not found (--inception)");

  const bool cache_usable = (want_fid || want_kid) && !o.real_stats_cache.empty() && fs::is_regular_file(o.real_stats_cache);
  const bool need_real_images = want_swd || ((want_fid || want_kid) && !cache_usable);

  std::vector<Image> real_loaded, fake_loaded;
  const std::vector<Image>* real = &o.real;
  const std::vector<Image>* fake = &o.fake;
  if (need_real_images && real->empty()) {
    if (o.real_dir.empty()) throw std::invalid_argument("--real: no real images given");
    real_loaded = load_image_folder(o.real_dir);
    real = &real_loaded;
  }
  if (fake->empty()) {
    if (o.fake_dir.empty()) throw std::invalid_argument("--fake: no fake images given");
    fake_loaded = load_image_folder(o.fake_dir);
    fake = &fake_loaded;
  }
  MetricsReport r;
  std::vector<const uint8_t*> rp, fp;
  if (need_real_images) {
    r.real_size = common_size(*real, "--real", rp);
    r.real_count = real->size();
  }
  r.fake_size = common_size(*fake, "--fake", fp);
  r.fake_count = fake->size();

  if (want_swd) {
    if (r.real_size != r.fake_size)
      throw std::invalid_argument("swd: real images are " + std::to_string(r.real_size) + " px, fake images " +
                                  std::to_string(r.fake_size) + " px; SWD needs one size");
    SwdOptions so = o.swd;
    so.seed = o.seed;
    r.swd = swd(rp, fp, r.fake_size, so);
  }
  if (want_fid || want_kid) {
    RealStatsCache real_stats;
    if (cache_usable) {
      real_stats = read_stats_cache(o.real_stats_cache);
      if (real_stats.tag != cache_tag(o))
        throw std::runtime_error(o.real_stats_cache + ": statistics were made with '" + real_stats.tag +
                                 "', not '" + cache_tag(o) + "'; delete the file to recompute it");
      if (want_kid && real_stats.features.size() == 0)
        throw std::runtime_error(o.real_stats_cache + ": has no features, which KID needs");
      r.real_stats_from_cache = true;
      r.real_count = size_t(real_stats.stats.count);
    }
    InceptionOptions io;
    io.weights = o.inception;
    io.width = o.inception_width;
    io.batch = o.inception_batch;
    io.make_backend = o.make_backend;
    InceptionExtractor net(io);
    auto prog = [&](const std::string& stage) {
      return [&o, stage](size_t d, size_t t) {
        if (o.progress) o.progress(stage, d, t);
      };
    };
    if (!cache_usable) {
      real_stats.features = net.features(rp, r.real_size, prog("inception real"));
      real_stats.stats = gaussian_stats(real_stats.features);
      real_stats.tag = cache_tag(o);
      if (!o.real_stats_cache.empty()) write_stats_cache(o.real_stats_cache, real_stats);
    }
    const Eigen::MatrixXd ff = net.features(fp, r.fake_size, prog("inception fake"));
    if (want_fid) r.fid = frechet_distance(real_stats.stats, gaussian_stats(ff));
    if (want_kid) {
      KidOptions ko = o.kid;
      ko.seed = o.seed;
      r.kid = kernel_inception_distance(real_stats.features, ff, ko);
    }
  }
  return r;
}

std::string MetricsReport::table() const {
  std::ostringstream s;
  char b[160];
  std::snprintf(b, sizeof b, "real images: %zu (%d px)%s, fake images: %zu (%d px)\n", real_count, real_size,
                real_stats_from_cache ? " [cached statistics]" : "", fake_count, fake_size);
  s << b;
  s << "metric              value\n";
  if (swd) {
    for (size_t i = 0; i < swd->per_level.size(); ++i) {
      std::snprintf(b, sizeof b, "swd %4d px (x1e3)  %.4f\n", swd->resolutions[i], swd->per_level[i]);
      s << b;
    }
    std::snprintf(b, sizeof b, "swd mean (x1e3)     %.4f\n", swd->mean);
    s << b;
  }
  if (fid) {
    std::snprintf(b, sizeof b, "fid                 %.4f\n", *fid);
    s << b;
  }
  if (kid) {
    std::snprintf(b, sizeof b, "kid                 %.6f +- %.6f  (%d subsets of %d)\n", kid->mean, kid->std,
                  kid->subsets, kid->subset_size);
    s << b;
  }
  return s.str();
}

std::string MetricsReport::json() const {
  // Keys in this order; a non-finite value is null (io::json_number).
  const auto number = [](double v) { return io::json_number(v); };
  io::Json j;
  j["real_count"] = real_count, j["fake_count"] = fake_count, j["real_size"] = real_size, j["fake_size"] = fake_size;
  j["real_stats_from_cache"] = real_stats_from_cache;
  if (swd) {
    io::Json levels = io::Json::array();
    for (double v : swd->per_level) levels.push_back(number(v));
    j["swd"] = {{"resolutions", swd->resolutions}, {"per_level_x1e3", levels}, {"mean_x1e3", number(swd->mean)}};
  }
  if (fid) j["fid"] = number(*fid);
  if (kid)
    j["kid"] = {{"mean", number(kid->mean)}, {"std", number(kid->std)}, {"subsets", kid->subsets},
                {"subset_size", kid->subset_size}};
  return io::dump_compact(j);
}

void write_json(const MetricsReport& report, const std::string& path) {
  io::write_file_atomic(path, report.json() + "\n");
}

}  // namespace rg::metrics
