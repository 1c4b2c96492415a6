// SPDX-License-Identifier: Apache-2.0
// The per-image cleaning step and its report entries (cleaning.h).
#include "apps/data/clean/cleaning.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "engine/io/json.h"

namespace rg::data {

std::set<std::string> read_exclude_list(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot read the exclude list");
  std::set<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    names.insert(line);
  }
  return names;
}

Image crop_image(const Image& image, const CropRect& c) {
  Image out;
  out.width = c.width();
  out.height = c.height();
  out.pixels.resize(out.bytes());
  for (int y = 0; y < out.height; ++y)
    std::memcpy(out.at(y, 0), image.at(c.y0 + y, c.x0), size_t(out.width) * 3);
  return out;
}

namespace {

void make_thumbnail(const Image& image, int side, ImageRecord& rec) {
  const double r = double(side) / std::max(image.width, image.height);
  const int w = std::max(1, int(std::lround(image.width * std::min(1.0, r))));
  const int h = std::max(1, int(std::lround(image.height * std::min(1.0, r))));
  const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat small, bgr;
  cv::resize(src, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, bgr, cv::COLOR_RGB2BGR);
  cv::imencode(".jpg", bgr, rec.thumbnail, {cv::IMWRITE_JPEG_QUALITY, 85});
  rec.thumb_width = w;
  rec.thumb_height = h;
}

}  // namespace

bool clean_image(const CleanOptions& o, std::span<const uint8_t> bytes, Image& image,
                 ImageRecord& rec, CleanCounters& counters) {
  rec.width = image.width;
  rec.height = image.height;
  if (o.thumbnail_size > 0) make_thumbnail(image, o.thumbnail_size, rec);
  if (!o.detector) return true;
  const float floor =
      std::min(o.detections ? o.detections->floor() : kCandidateFloor, o.select.min_score);
  std::vector<Detection> candidates;
  const ContentKey key = content_key(bytes);
  if (auto hit = o.detections ? o.detections->find(key) : std::nullopt) {
    candidates = std::move(*hit);
    ++counters.cached;
  } else {
    candidates = o.detector->detect(image, floor);
    ++counters.network_runs;
    if (o.detections) o.detections->insert(key, candidates);
  }
  rec.detected = true;
  Decision d = decide(candidates, image.width, image.height, o.select, o.detector->names());
  rec.detections = std::move(d.detections);
  rec.used = std::move(d.used);
  if (!d.kept) {
    rec.reason = std::move(d.reason);
    return false;
  }
  rec.cropped = true;
  rec.crop = d.crop;
  if (d.crop != CropRect{0, 0, image.width, image.height}) image = crop_image(image, d.crop);
  return true;
}

namespace {

io::Json num(double v) {
  return io::json_number(v, 6);
}

std::string hex64(uint64_t v) {
  char h[24];
  std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(v));
  return h;
}

}  // namespace

std::string clean_settings_json(const CleanOptions& o) {
  io::Json s = io::Json::object();
  if (o.detector) {
    const Detector& d = *o.detector;
    const DetectorFiles& f = d.files();
    s["detector"] = io::json_text(f.model.string());
    if (!f.config.empty()) s["detector_config"] = io::json_text(f.config.string());
    s["detector_hash"] = hex64(d.hash());
    s["layout"] = layout_name(d.layout());
    s["input_size"] = d.input_size();
    io::Json keep = io::Json::array();
    for (size_t c = 0; c < o.select.keep.size(); ++c)
      if (o.select.keep[c]) keep.push_back(io::json_text(d.names()[c]));
    s["keep"] = std::move(keep);
    s["min_score"] = num(o.select.min_score);
    s["nms"] = num(o.select.nms_iou);
    s["crop"] = crop_mode_name(o.select.crop);
    s["margin"] = num(o.select.margin);
    s["min_area"] = num(o.select.min_area);
  }
  s["exclude"] = io::json_text(o.exclude_file);
  s["dedupe"] = o.dedupe;
  s["dedupe_distance"] = o.dedupe_distance;
  return io::dump_compact(s);
}

io::Json image_records_json(const std::vector<ImageRecord>& records, const std::vector<std::string>& names) {
  io::Json all = io::Json::array();
  for (const ImageRecord& r : records) {
    io::Json s = io::Json::object();
    s["path"] = io::json_text(r.path);
    s["decision"] = r.kept ? "kept" : "skipped";
    if (!r.kept) s["reason"] = io::json_text(r.reason);
    if (r.width) s["size"] = {r.width, r.height};
    if (r.cropped) s["crop"] = {r.crop.x0, r.crop.y0, r.crop.x1, r.crop.y1};
    if (r.detected) {
      io::Json dets = io::Json::array();
      for (size_t k = 0; k < r.detections.size(); ++k) {
        const Detection& d = r.detections[k];
        const std::string cls = d.cls >= 0 && size_t(d.cls) < names.size() ? names[size_t(d.cls)]
                                                                           : std::to_string(d.cls);
        io::Json e = io::Json::object();
        e["class"] = io::json_text(cls);
        e["score"] = num(d.score);
        e["box"] = {num(d.box.x0), num(d.box.y0), num(d.box.x1), num(d.box.y1)};
        e["used"] = bool(r.used[k]);
        dets.push_back(std::move(e));
      }
      s["detections"] = std::move(dets);
    }
    if (r.hashed) s["phash"] = hex64(r.phash);
    if (!r.duplicate_of.empty()) s["duplicate_of"] = io::json_text(r.duplicate_of);
    all.push_back(std::move(s));
  }
  return all;
}

}  // namespace rg::data
