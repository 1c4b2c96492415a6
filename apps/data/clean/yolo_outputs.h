// SPDX-License-Identifier: Apache-2.0
// What a YOLO network's outputs mean, and where the image sits in its input.
// Three output layouts are read (docs/data.md, "Detecting the subject"):
//   Darknet  ([yolo] layers through OpenCV): one [N, 5+C] matrix per layer,
//            cx, cy, w, h as fractions of the input, objectness, then the
//            class scores already multiplied by the objectness;
//   YOLOv5   ONNX [1, N, 5+C]: cx, cy, w, h in input pixels, objectness,
//            class probabilities (score = objectness x probability);
//   YOLOv8   ONNX [1, 4+C, N]: cx, cy, w, h in input pixels, class scores.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "apps/data/clean/detection.h"

namespace rg::data {

enum class YoloLayout { kDarknet, kV5, kV8 };
const char* layout_name(YoloLayout layout);

// The image drawn into the network's input: input = image * scale + pad.
struct InputPlacement {
  int input = 0;                 // the input is input x input pixels
  int width = 0, height = 0;     // the image's size
  int drawn_w = 0, drawn_h = 0;  // its size inside the input
  int left = 0, top = 0;         // where it is drawn
};

// Aspect kept, centred on grey 114 (what ultralytics' exports were trained
// with): drawn side = round(side * input / max(w, h)), offset = (input - drawn) / 2.
InputPlacement letterbox_placement(int width, int height, int input);
// Stretched to the whole input (what Darknet's OpenCV samples do).
InputPlacement stretch_placement(int width, int height, int input);

// Which ONNX layout an output of this shape is, for `classes` classes;
// throws std::runtime_error describing the shape when it is neither.
YoloLayout onnx_layout_of(const std::vector<int>& shape, int classes);

// Every candidate whose best class scores at least `floor`, as a box in the
// image's pixels (clipped to it), its best class and score. Rows that are
// not finite are dropped. Throws std::runtime_error on outputs whose shape
// the layout does not allow.
std::vector<Detection> decode_yolo_outputs(const std::vector<cv::Mat>& outputs, YoloLayout layout,
                                           int classes, const InputPlacement& placement,
                                           float floor);

}  // namespace rg::data
