// SPDX-License-Identifier: Apache-2.0
// pytorch-fid's Inception-v3 (FID variant) as an engine graph, and a feature
// extractor that runs it on the reference backend.
//
// The network is pytorch-fid's fid_inception_v3() up to the 2048-d pool3
// features: BasicConv2d = conv (no bias) + BatchNorm (eps 1e-3, running
// statistics) + ReLU; Mixed_5b..5d FIDInceptionA, 6a InceptionB, 6b..6e
// FIDInceptionC, 7a InceptionD, 7b FIDInceptionE_1 (average pools exclude the
// padding), 7c FIDInceptionE_2 (3x3 stride-1 max pool); then the mean over H, W.
// Input: images in [0, 1] (uint8 / 255, as torchvision's ToTensor), resized to
// 299 x 299 by F.interpolate(bilinear, align_corners=False), scaled by 2x - 1.
//
// Variables are named as pytorch-fid's state dict ("Mixed_5b.branch1x1.conv.weight",
// "...bn.weight", "...bn.bias", "...bn.running_mean", "...bn.running_var"), so the
// file written by tools/inception/convert_pt_inception.py binds by name.
// `width` scales every conv's output channels to int(c * width + 0.5) (tests use
// 1/8, as tools/inception/fid_inception.py does).
//
// The pooling, concat and resize ops it needs are implemented by the reference
// backend only; the extractor therefore always runs on the reference backend.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "graph/graph.h"

namespace rg::metrics {

struct InceptionGraph {
  ValueId images = kNoValue;    // input "images": [batch, 3, size, size] in [0, 1]
  ValueId features = kNoValue;  // [batch, feature_dim]
  int64_t feature_dim = 0;
  std::vector<std::string> variables;  // every weight/statistic name, in creation order
};

// Adds the network to `g` (an input named "images" and its variables).
InceptionGraph build_inception(Graph& g, int64_t batch, int64_t image_size, double width = 1.0);

struct InceptionOptions {
  std::string weights;      // safetensors file (tools/inception/convert_pt_inception.py)
  double width = 1.0;       // must match the file (1 for the real weights)
  int batch = 8;            // images per graph run (the last batch is padded)
  DType dtype = DType::f32;
  // Where the network runs; empty: the reference backend. (oneDNN runs the
  // pooling, concat and resize ops through reference kernels; the CUDA
  // backend generates kernels for them.)
  std::function<std::unique_ptr<Backend>()> make_backend;
};

class InceptionExtractor {
 public:
  // Reads and checks the weights (std::runtime_error naming the file and tensor).
  explicit InceptionExtractor(InceptionOptions opts);
  ~InceptionExtractor();
  InceptionExtractor(const InceptionExtractor&) = delete;
  InceptionExtractor& operator=(const InceptionExtractor&) = delete;

  int64_t feature_dim() const { return feature_dim_; }

  // Features of HWC uint8 RGB images of size x size, one row per image. The
  // graph is compiled once per image size. `progress(done, total)` is optional.
  Eigen::MatrixXd features(const std::vector<const uint8_t*>& images, int size,
                           const std::function<void(size_t, size_t)>& progress = {});

 private:
  struct Compiled;
  Compiled& compiled_for(int size);

  InceptionOptions opts_;
  int64_t feature_dim_ = 0;
  std::vector<std::pair<std::string, std::vector<float>>> weights_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace rg::metrics
