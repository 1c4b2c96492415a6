// SPDX-License-Identifier: Apache-2.0
// An object detector run through OpenCV's DNN module: Darknet YOLOv3/v4
// (cfg + weights) or an ONNX YOLO export (YOLOv5 or YOLOv8 output layout).
// The files are read once, hashed (the detection cache's key) and checked by
// running the network on a blank image, so a bad file fails at the start
// with its name, not in the middle of a folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/data/clean/detection.h"
#include "apps/data/clean/yolo_outputs.h"
#include "apps/data/image.h"

namespace rg::data {

struct DetectorFiles {
  std::filesystem::path model;   // .onnx, or Darknet's .weights
  std::filesystem::path config;  // Darknet's .cfg (empty for ONNX)
  std::filesystem::path names;   // class names, one per line (empty: the 80 COCO names)
  int input_size = 0;            // 0: the cfg's width, or the ONNX input's, or 640
};

class Detector {
 public:
  // Throws std::runtime_error naming the file at fault.
  explicit Detector(const DetectorFiles& files);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Candidates scoring at least `floor`, in the image's pixels. Safe to call
  // from several threads: each call borrows a network of its own.
  std::vector<Detection> detect(const Image& image, float floor) const;

  // FNV-1a 64 of the model and config bytes (what the detection cache keys on).
  uint64_t hash() const { return hash_; }
  int input_size() const { return input_; }
  YoloLayout layout() const { return layout_; }
  const std::vector<std::string>& names() const { return names_; }
  const DetectorFiles& files() const { return files_; }
  std::string describe() const;  // "yolov5 ONNX model m.onnx, 640 px input, 80 classes"

 private:
  struct NetPool;  // idle OpenCV networks (detector.cpp)
  InputPlacement placement(int width, int height) const;

  DetectorFiles files_;
  std::vector<uint8_t> model_bytes_, config_bytes_;
  std::vector<std::string> names_;
  YoloLayout layout_ = YoloLayout::kV5;
  int input_ = 0;
  uint64_t hash_ = 0;
  std::unique_ptr<NetPool> pool_;
};

}  // namespace rg::data
