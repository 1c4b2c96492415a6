// SPDX-License-Identifier: Apache-2.0
// Score threshold, per-class NMS, class filter, min-area and crop (selection.h).
#include "apps/data/clean/selection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

namespace rg::data {

const char* crop_mode_name(CropMode mode) {
  switch (mode) {
    case CropMode::kLargest:
      return "largest";
    case CropMode::kUnion:
      return "union";
    case CropMode::kNone:
      return "none";
  }
  return "?";
}

CropMode parse_crop_mode(const std::string& name) {
  if (name == "largest") return CropMode::kLargest;
  if (name == "union") return CropMode::kUnion;
  if (name == "none") return CropMode::kNone;
  throw std::invalid_argument("--crop must be largest, union or none, got '" + name + "'");
}

std::vector<Detection> nms_per_class(std::vector<Detection> c, float iou_limit) {
  std::vector<size_t> order(c.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return c[a].score > c[b].score; });
  std::vector<Detection> kept;
  for (size_t i : order) {
    bool suppressed = false;
    for (const Detection& k : kept)
      if (k.cls == c[i].cls && iou(k.box, c[i].box) > iou_limit) {
        suppressed = true;
        break;
      }
    if (!suppressed) kept.push_back(c[i]);
  }
  return kept;
}

CropRect crop_around(const Box& b, float margin, int width, int height) {
  const double mx = double(margin) * b.width(), my = double(margin) * b.height();
  CropRect r;
  r.x0 = int(std::floor(std::clamp(double(b.x0) - mx, 0.0, double(width))));
  r.y0 = int(std::floor(std::clamp(double(b.y0) - my, 0.0, double(height))));
  r.x1 = int(std::ceil(std::clamp(double(b.x1) + mx, 0.0, double(width))));
  r.y1 = int(std::ceil(std::clamp(double(b.y1) + my, 0.0, double(height))));
  if (r.x1 <= r.x0) {  // a box of no width (at the image's edge): keep one column
    r.x1 = std::min(width, r.x0 + 1);
    r.x0 = r.x1 - 1;
  }
  if (r.y1 <= r.y0) {
    r.y1 = std::min(height, r.y0 + 1);
    r.y0 = r.y1 - 1;
  }
  return r;
}

namespace {

std::string class_list(const std::vector<bool>& keep, const std::vector<std::string>& names) {
  std::string s;
  size_t n = 0;
  for (size_t c = 0; c < keep.size() && c < names.size(); ++c)
    if (keep[c]) s += (n++ ? "/" : "") + names[c];
  return n == keep.size() ? std::string("object") : s;
}

std::string score_text(float s) {
  char b[16];
  std::snprintf(b, sizeof b, "%.2f", double(s));
  return b;
}

}  // namespace

Decision decide(const std::vector<Detection>& candidates, int width, int height,
                const SelectOptions& o, const std::vector<std::string>& names) {
  Decision d;
  std::vector<Detection> above;
  for (const Detection& c : candidates)
    if (c.score >= o.min_score) above.push_back(c);
  d.detections = nms_per_class(std::move(above), o.nms_iou);
  const double image_area = double(width) * height;
  d.used.assign(d.detections.size(), false);
  const Detection* largest = nullptr;
  Box uni;
  size_t n_used = 0;
  bool small_one = false;
  for (size_t i = 0; i < d.detections.size(); ++i) {
    const Detection& det = d.detections[i];
    const bool class_ok =
        det.cls >= 0 && size_t(det.cls) < o.keep.size() && o.keep[size_t(det.cls)];
    if (!class_ok) continue;
    if (double(det.box.area()) < double(o.min_area) * image_area) {
      small_one = true;
      continue;
    }
    d.used[i] = true;
    // Largest by area; ties go to the higher score, which comes first.
    if (!largest || det.box.area() > largest->box.area()) largest = &det;
    uni = n_used++ ? Box{std::min(uni.x0, det.box.x0), std::min(uni.y0, det.box.y0),
                         std::max(uni.x1, det.box.x1), std::max(uni.y1, det.box.y1)}
                   : det.box;
  }
  const std::string wanted = class_list(o.keep, names);
  if (!n_used) {
    if (small_one)
      d.reason = "every " + wanted + " box is smaller than --min-area " + score_text(o.min_area) +
                 " of the image";
    else if (d.detections.empty())
      d.reason = "nothing detected (--min-score " + score_text(o.min_score) + ")";
    else
      d.reason =
          "no " + wanted + " detected (best: " +
          (size_t(d.detections[0].cls) < names.size() ? names[size_t(d.detections[0].cls)]
                                                      : std::to_string(d.detections[0].cls)) +
          " " + score_text(d.detections[0].score) + ")";
    return d;
  }
  d.kept = true;
  switch (o.crop) {
    case CropMode::kNone:
      d.crop = {0, 0, width, height};
      break;
    case CropMode::kLargest:
      d.crop = crop_around(largest->box, o.margin, width, height);
      break;
    case CropMode::kUnion:
      d.crop = crop_around(uni, o.margin, width, height);
      break;
  }
  return d;
}

}  // namespace rg::data
