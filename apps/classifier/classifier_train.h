// Training the Fashion-MNIST classifier (classifier_model.h) on a backend of
// the engine, and measuring its test accuracy (docs/classifier.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/classifier/classifier_model.h"
#include "engine/backend.h"
#include "engine/session.h"

namespace rg::classifier {

// One split of Fashion-MNIST: images (N x 28 x 28 bytes) and labels (N bytes, 0..9).
struct Split {
  std::vector<uint8_t> images;
  std::vector<uint8_t> labels;
  size_t count() const { return labels.size(); }
};
// Reads "<dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"; throws
// std::runtime_error naming the file when it is missing or not Fashion-MNIST shaped.
Split read_split(const std::string& dir, bool train);

struct TrainOptions {
  ClassifierConfig model;
  int steps = 1000;
  uint64_t seed = 1;
  std::string backend = "cpu";  // "cpu" (oneDNN) or "ref"
  int threads = 0;              // oneDNN threads; 0: all cores
  std::string data_dir;         // empty: the Debian package's folder (apps/data/idx.h)
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
// drawn from Philox (apps/rng_streams.h: kClassifierInit, index = parameter).
void initialize_parameters(Session& s, const ClassifierConfig& cfg, uint64_t seed);

// Trains for opt.steps steps of opt.model.batch images (reshuffled every epoch,
// Philox kClassifierShuffle), then classifies the test split.
TrainResult train_classifier(const TrainOptions& opt);

}  // namespace rg::classifier
