// SPDX-License-Identifier: Apache-2.0
// Loading and running a YOLO detector through OpenCV's DNN module (detector.h).
#include "apps/data/clean/detector.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <mutex>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <stdexcept>

#include "apps/data/clean/class_names.h"
#include "apps/data/dataset.h"
#include "apps/data/read_file.h"

namespace rg::data {

namespace fs = std::filesystem;

struct Detector::NetPool {
  std::mutex mutex;
  std::vector<std::unique_ptr<cv::dnn::Net>> idle;
};

namespace {

std::vector<uint8_t> read_detector_file(const fs::path& p, const char* what) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!read_regular_file(p, bytes, error))
    throw std::runtime_error(p.string() + ": cannot read the detector's " + what + ": " + error);
  if (bytes.empty())
    throw std::runtime_error(p.string() + ": the detector's " + what + " is empty");
  return bytes;
}

// OpenCV's messages are several lines with the source location; its first
// line that says what went wrong is enough.
std::string opencv_reason(const cv::Exception& e) {
  std::string m = e.err.empty() ? std::string(e.what()) : e.err;
  if (const size_t nl = m.find('\n'); nl != std::string::npos) m.resize(nl);
  return m;
}

// Darknet's [net] width= (height must match: the input is square here).
int darknet_input_size(const std::vector<uint8_t>& cfg, const fs::path& path) {
  std::istringstream in(std::string(cfg.begin(), cfg.end()));
  std::string line;
  int w = 0, h = 0;
  bool in_net = false;
  while (std::getline(in, line)) {
    line.erase(0, line.find_first_not_of(" \t\r"));
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (in_net) break;
      in_net = line.rfind("[net]", 0) == 0 || line.rfind("[network]", 0) == 0;
      continue;
    }
    if (!in_net) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    key.erase(key.find_last_not_of(" \t") + 1);
    try {
      if (key == "width") w = std::stoi(line.substr(eq + 1));
      if (key == "height") h = std::stoi(line.substr(eq + 1));
    } catch (const std::exception&) {
      throw std::runtime_error(path.string() + ": [net] " + key + " is not a number");
    }
  }
  if (w <= 0 || h <= 0)
    throw std::runtime_error(path.string() + ": no [net] section with width= and height=");
  if (w != h)
    throw std::runtime_error(path.string() + ": the network's input is " + std::to_string(w) + "x" +
                             std::to_string(h) + "; only square inputs are supported");
  return w;
}

// The ONNX model's image input side when its shape is fixed [N, 3, S, S]; 0 if not.
int onnx_input_size(const std::vector<uint8_t>& bytes, const fs::path& path) {
  onnx::ModelProto m;
  if (bytes.size() > size_t(INT32_MAX) || !m.ParseFromArray(bytes.data(), int(bytes.size())))
    throw std::runtime_error(path.string() + ": not an ONNX model (it does not parse)");
  const auto& g = m.graph();
  for (const auto& in : g.input()) {
    bool is_weight = false;
    for (const auto& init : g.initializer()) is_weight |= init.name() == in.name();
    if (is_weight) continue;
    const auto& shape = in.type().tensor_type().shape();
    if (shape.dim_size() != 4)
      throw std::runtime_error(path.string() + ": its input '" + in.name() +
                               "' is not an image batch [N, 3, H, W]");
    const auto& h = shape.dim(2);
    const auto& w = shape.dim(3);
    if (h.has_dim_value() && w.has_dim_value()) {
      if (h.dim_value() != w.dim_value() || h.dim_value() <= 0 || h.dim_value() > 8192)
        throw std::runtime_error(path.string() + ": its input is " + std::to_string(h.dim_value()) +
                                 "x" + std::to_string(w.dim_value()) +
                                 "; only square inputs are supported");
      return int(h.dim_value());
    }
    return 0;
  }
  throw std::runtime_error(path.string() + ": the model has no input");
}

// OpenCV reads a Darknet weights file that is too short without complaint
// (the missing weights stay zero), so the size is checked against the
// network it built: a header of 16 or 20 bytes, then every layer's
// parameters as float32 (OpenCV's blobs hold exactly those, besides the
// anchors its [yolo] layers keep as a blob).
void check_darknet_weights_size(cv::dnn::Net& net, const std::vector<uint8_t>& weights,
                                const fs::path& cfg_path) {
  size_t params = 0;
  for (const std::string& name : net.getLayerNames()) {
    const cv::Ptr<cv::dnn::Layer> layer = net.getLayer(net.getLayerId(name));
    if (layer->type == "Region") continue;
    for (const cv::Mat& blob : layer->blobs) params += blob.total();
  }
  int32_t version[2] = {0, 0};
  if (weights.size() >= 8) std::memcpy(version, weights.data(), 8);
  const size_t header = version[0] * 10 + version[1] >= 2 ? 20 : 16;
  const size_t want = header + 4 * params;
  if (weights.size() != want)
    throw std::runtime_error(std::to_string(weights.size()) + " bytes, but the network in " +
                             cfg_path.string() + " needs " + std::to_string(want) + " (" +
                             std::to_string(params) +
                             " weights): truncated, or weights of another network");
}

// A network from a detector's bytes (Darknet when there is a cfg), on
// OpenCV's own CPU code.
std::unique_ptr<cv::dnn::Net> make_net(const std::vector<uint8_t>& model,
                                       const std::vector<uint8_t>& config) {
  auto net =
      std::make_unique<cv::dnn::Net>(config.empty() ? cv::dnn::readNetFromONNX(model)
                                                    : cv::dnn::readNetFromDarknet(config, model));
  if (!net->empty()) {
    net->setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net->setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  }
  return net;
}

bool looks_like_darknet_weights(const fs::path& p) {
  return p.extension() == ".weights";
}

}  // namespace

Detector::Detector(const DetectorFiles& files) : files_(files), pool_(std::make_unique<NetPool>()) {
  const bool darknet = !files.config.empty();
  if (!darknet && files.model.extension() == ".cfg")
    throw std::runtime_error(files.model.string() +
                             ": this is a Darknet network; give it as --detector-config and its "
                             ".weights file as --detector");
  if (!darknet && looks_like_darknet_weights(files.model))
    throw std::runtime_error(files.model.string() +
                             ": Darknet weights need their network: give --detector-config CFG");
  if (darknet && files.config.extension() != ".cfg" && files.model.extension() == ".cfg")
    throw std::runtime_error(files.model.string() +
                             ": this is a Darknet cfg; give it as --detector-config and the "
                             ".weights file as --detector");
  model_bytes_ = read_detector_file(files.model, darknet ? "weights" : "model");
  if (darknet) config_bytes_ = read_detector_file(files.config, "cfg");
  names_ = files.names.empty() ? coco_class_names() : read_class_names(files.names);
  hash_ = fnv1a64(model_bytes_.data(), model_bytes_.size());
  const uint8_t sep = 0;
  hash_ = fnv1a64(&sep, 1, hash_);
  hash_ = fnv1a64(config_bytes_.data(), config_bytes_.size(), hash_);

  layout_ = darknet ? YoloLayout::kDarknet : YoloLayout::kV5;
  input_ = files.input_size;
  if (!input_) {
    input_ = darknet ? darknet_input_size(config_bytes_, files.config)
                     : onnx_input_size(model_bytes_, files.model);
    if (!input_) input_ = 640;  // a dynamic input: ultralytics' default size
  } else if (!darknet) {
    const int fixed = onnx_input_size(model_bytes_, files.model);
    if (fixed && fixed != input_)
      throw std::runtime_error(files.model.string() + ": its input is fixed at " +
                               std::to_string(fixed) + " px, not --detector-size " +
                               std::to_string(input_));
  }
  if (input_ % 32 != 0 && input_ > 64 && darknet)
    throw std::runtime_error(files.config.string() + ": the input size " + std::to_string(input_) +
                             " is not a multiple of 32");

  // One run on a grey image: it loads the weights (a truncated file fails
  // here) and shows the output shape, hence the ONNX layout.
  const fs::path& blamed = files.model;
  // Each network runs on one thread: images run in parallel, one network per
  // thread, so the numbers cannot depend on how many threads there are.
  cv::setNumThreads(1);
  std::unique_ptr<cv::dnn::Net> net;
  std::vector<cv::Mat> outs;
  try {
    net = make_net(model_bytes_, config_bytes_);
    if (net->empty()) throw std::runtime_error("OpenCV made an empty network from it");
    if (darknet) check_darknet_weights_size(*net, model_bytes_, files.config);
    cv::Mat grey(input_, input_, CV_8UC3, cv::Scalar(114, 114, 114));
    net->setInput(cv::dnn::blobFromImage(grey, 1.0 / 255, cv::Size(input_, input_)));
    net->forward(outs, net->getUnconnectedOutLayersNames());
  } catch (const cv::Exception& e) {
    throw std::runtime_error(blamed.string() + ": OpenCV cannot run this detector" +
                             (darknet ? " with " + files.config.string() : std::string()) + ": " +
                             opencv_reason(e));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(blamed.string() + ": " + e.what());
  }
  const int classes = int(names_.size());
  try {
    if (outs.empty()) throw std::runtime_error("the network has no output");
    if (!darknet) {
      if (outs.size() != 1)
        throw std::runtime_error("it has " + std::to_string(outs.size()) +
                                 " outputs; a YOLO export has one");
      std::vector<int> shape(size_t(outs[0].dims));
      for (int i = 0; i < outs[0].dims; ++i) shape[size_t(i)] = outs[0].size[i];
      layout_ = onnx_layout_of(shape, classes);
    }
    decode_yolo_outputs(outs, layout_, classes, stretch_placement(input_, input_, input_), 1.0f);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(blamed.string() + ": " + e.what() +
                             (files.names.empty()
                                  ? " (the 80 COCO names; another set: --detector-names)"
                                  : " (names: " + files.names.string() + ")"));
  }
  pool_->idle.push_back(std::move(net));
}

Detector::~Detector() = default;

std::string Detector::describe() const {
  const bool darknet = layout_ == YoloLayout::kDarknet;
  return std::string(darknet ? "Darknet" : std::string(layout_name(layout_)) + " ONNX") +
         " detector " + files_.model.filename().string() + ", " + std::to_string(input_) +
         " px input, " + std::to_string(names_.size()) + " classes";
}

InputPlacement Detector::placement(int width, int height) const {
  return layout_ == YoloLayout::kDarknet ? stretch_placement(width, height, input_)
                                         : letterbox_placement(width, height, input_);
}

std::vector<Detection> Detector::detect(const Image& image, float floor) const {
  std::unique_ptr<cv::dnn::Net> net;
  {
    std::lock_guard<std::mutex> lock(pool_->mutex);
    if (!pool_->idle.empty()) {
      net = std::move(pool_->idle.back());
      pool_->idle.pop_back();
    }
  }
  if (!net) net = make_net(model_bytes_, config_bytes_);
  const InputPlacement p = placement(image.width, image.height);
  // The image (RGB, as YOLO expects) drawn into the input; INTER_LINEAR as
  // both ultralytics and Darknet's OpenCV samples resize.
  const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat canvas(input_, input_, CV_8UC3, cv::Scalar(114, 114, 114));
  cv::resize(src, canvas(cv::Rect(p.left, p.top, p.drawn_w, p.drawn_h)),
             cv::Size(p.drawn_w, p.drawn_h), 0, 0, cv::INTER_LINEAR);
  net->setInput(cv::dnn::blobFromImage(canvas, 1.0 / 255, cv::Size(input_, input_)));
  std::vector<cv::Mat> outs;
  net->forward(outs, net->getUnconnectedOutLayersNames());
  std::vector<Detection> dets = decode_yolo_outputs(outs, layout_, int(names_.size()), p, floor);
  std::lock_guard<std::mutex> lock(pool_->mutex);
  pool_->idle.push_back(std::move(net));
  return dets;
}

}  // namespace rg::data
