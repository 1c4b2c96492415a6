// SPDX-License-Identifier: Apache-2.0
// Reading YOLO outputs into detections (yolo_outputs.h).
#include "apps/data/clean/yolo_outputs.h"

#include <cmath>
#include <stdexcept>

namespace rg::data {

const char* layout_name(YoloLayout layout) {
  switch (layout) {
    case YoloLayout::kDarknet:
      return "darknet";
    case YoloLayout::kV5:
      return "yolov5";
    case YoloLayout::kV8:
      return "yolov8";
  }
  return "?";
}

InputPlacement letterbox_placement(int width, int height, int input) {
  InputPlacement p;
  p.input = input;
  p.width = width;
  p.height = height;
  const double r = double(input) / std::max(width, height);
  p.drawn_w = std::clamp(int(std::lround(width * r)), 1, input);
  p.drawn_h = std::clamp(int(std::lround(height * r)), 1, input);
  p.left = (input - p.drawn_w) / 2;
  p.top = (input - p.drawn_h) / 2;
  return p;
}

InputPlacement stretch_placement(int width, int height, int input) {
  InputPlacement p;
  p.input = input;
  p.width = width;
  p.height = height;
  p.drawn_w = p.drawn_h = input;
  return p;
}

namespace {

std::string shape_text(const std::vector<int>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<int> shape_of(const cv::Mat& m) {
  std::vector<int> s(size_t(m.dims));
  for (int i = 0; i < m.dims; ++i) s[size_t(i)] = m.size[i];
  return s;
}

// A candidate in input pixels -> a detection in image pixels.
Detection to_image(double cx, double cy, double w, double h, float score, int cls,
                   const InputPlacement& p) {
  const double sx = double(p.drawn_w) / p.width, sy = double(p.drawn_h) / p.height;
  auto x = [&](double v) { return float(std::clamp((v - p.left) / sx, 0.0, double(p.width))); };
  auto y = [&](double v) { return float(std::clamp((v - p.top) / sy, 0.0, double(p.height))); };
  Detection d;
  d.box = {x(cx - w / 2), y(cy - h / 2), x(cx + w / 2), y(cy + h / 2)};
  d.score = score;
  d.cls = cls;
  return d;
}

// How a layout's rows read.
struct RowFormat {
  int first_class;        // 5 with an objectness column, else 4
  bool times_objectness;  // the score is objectness x class value
  double coord_scale;     // coordinates x this = input pixels
};

// One candidate: 4 coordinates, maybe an objectness and `classes` class
// values, each `stride` floats apart.
void add_candidate(const float* v, size_t stride, const RowFormat& f, int classes,
                   const InputPlacement& p, float floor, std::vector<Detection>& out) {
  const int first = f.first_class;
  const double coord_scale = f.coord_scale;
  int best = 0;
  float best_score = v[size_t(first) * stride];
  for (int c = 1; c < classes; ++c) {
    const float s = v[size_t(first + c) * stride];
    if (s > best_score) best_score = s, best = c;
  }
  if (f.times_objectness) best_score *= v[4 * stride];
  if (!(best_score >= floor)) return;  // also drops NaN
  const double cx = v[0] * coord_scale, cy = v[stride] * coord_scale;
  const double w = v[2 * stride] * coord_scale, h = v[3 * stride] * coord_scale;
  if (!std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(w) || !std::isfinite(h) ||
      !std::isfinite(best_score) || w <= 0 || h <= 0)
    return;
  Detection d = to_image(cx, cy, w, h, best_score, best, p);
  if (d.box.area() > 0) out.push_back(d);
}

}  // namespace

YoloLayout onnx_layout_of(const std::vector<int>& shape, int classes) {
  if (shape.size() == 3 && shape[0] == 1) {
    if (shape[2] == 5 + classes) return YoloLayout::kV5;
    if (shape[1] == 4 + classes) return YoloLayout::kV8;
  }
  throw std::runtime_error("its output " + shape_text(shape) + " is neither YOLOv5's [1, N, " +
                           std::to_string(5 + classes) + "] nor YOLOv8's [1, " +
                           std::to_string(4 + classes) + ", N] for " + std::to_string(classes) +
                           " classes");
}

std::vector<Detection> decode_yolo_outputs(const std::vector<cv::Mat>& outputs, YoloLayout layout,
                                           int classes, const InputPlacement& placement,
                                           float floor) {
  std::vector<Detection> out;
  for (const cv::Mat& m : outputs) {
    if (m.type() != CV_32F || !m.isContinuous())
      throw std::runtime_error("its output is not a float tensor");
    const std::vector<int> shape = shape_of(m);
    const auto* data = m.ptr<float>();
    // Darknet's class values already carry the objectness (OpenCV's region
    // layer multiplies them) and its coordinates are fractions of the input.
    const RowFormat kDarknetRow{5, false, double(placement.input)};
    const RowFormat kV5Row{5, true, 1.0}, kV8Row{4, false, 1.0};
    if (layout == YoloLayout::kDarknet) {
      if (shape.size() != 2 || shape[1] != 5 + classes)
        throw std::runtime_error("its [yolo] output " + shape_text(shape) + " is not [N, " +
                                 std::to_string(5 + classes) + "] for " + std::to_string(classes) +
                                 " classes");
      for (int r = 0; r < shape[0]; ++r)
        add_candidate(data + size_t(r) * size_t(shape[1]), 1, kDarknetRow, classes, placement,
                      floor, out);
    } else {
      if (onnx_layout_of(shape, classes) != layout)
        throw std::runtime_error("its output " + shape_text(shape) + " changed layout");
      if (layout == YoloLayout::kV5) {
        for (int r = 0; r < shape[1]; ++r)
          add_candidate(data + size_t(r) * size_t(shape[2]), 1, kV5Row, classes, placement, floor,
                        out);
      } else {
        for (int n = 0; n < shape[2]; ++n)
          add_candidate(data + n, size_t(shape[2]), kV8Row, classes, placement, floor, out);
      }
    }
  }
  return out;
}

}  // namespace rg::data
