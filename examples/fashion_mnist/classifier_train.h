// SPDX-License-Identifier: Apache-2.0
// Training the Fashion-MNIST classifier (classifier_model.h) on a backend of
// the library, and measuring its test accuracy (docs/classifier.md). Public
// API only.
#pragma once

#include <rg/rg.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "classifier_model.h"

namespace rg::classifier {

struct TrainOptions {
  ClassifierConfig model;
  int steps = 1000;
  uint64_t seed = 1;
  std::string backend = "cpu";  // "cpu" (oneDNN) or "ref"
  int threads = 0;              // oneDNN threads; 0: all cores
  std::string data_dir;         // empty: kFashionMnistDir (fashion_mnist_data.h)
  int eval_batch = 500;
  // Called every `log_every` steps with the mean loss since the last call.
  int log_every = 100;
  std::function<void(int step, double mean_loss)> on_log;
};

struct TrainResult {
  double test_accuracy = 0;  // fraction of the 10,000 test images classified correctly
  double last_loss = 0;      // mean training loss over the last log_every steps
  double train_seconds = 0, eval_seconds = 0;
};

// "cpu" or "ref"; throws std::invalid_argument naming an unknown or unavailable backend.
std::unique_ptr<Backend> make_classifier_backend(const std::string& name, int threads);

// PyTorch's default initial parameters, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
// drawn from std::mt19937_64 (fully specified by the C++ standard, so the
// same on every platform; stream "init" of docs/classifier.md).
void initialize_parameters(Session& s, const ClassifierConfig& cfg, uint64_t seed);

// Trains for opt.steps steps of opt.model.batch images (reshuffled every
// epoch from (seed, epoch)), then classifies the test split.
TrainResult train_classifier(const TrainOptions& opt);

}  // namespace rg::classifier
