// SPDX-License-Identifier: Apache-2.0
// Augmentation, shuffling and the batch loader (docs/contracts.md §4, §6). Every random
// choice is a pure function of (seed, epoch, draw index), so batches are
// bit-identical whatever the thread count and resumable at any step.
// The exact recipes are in docs/data.md.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "apps/data/dataset.h"

namespace rg::data {

struct AugmentParams {
  bool flip = false;
  bool rotate = false;
  double angle_deg = 0;  // meaningful when rotate
};

// Philox stream 2 (kAugmentation), counter index = draw_index, k = 0:
// flip = u(x0) < 0.5, rotate = u(x1) < 0.3, angle = -5 + 10 * u(x2) degrees.
AugmentParams augment_params(uint64_t seed, uint64_t draw_index);
// Flip (horizontal) then rotate about ((size-1)/2, (size-1)/2), bilinear, black
// fill. src and dst are size x size x 3 and must not overlap.
void augment_image(const uint8_t* src, int size, const AugmentParams& p, uint8_t* dst);
// False in a build without OpenCV, where augment_image throws.
bool augmentation_available();

// The order of an epoch: identity when !shuffle, else the Fisher-Yates of
// docs/data.md driven by Philox stream 3 (kShuffle), index = epoch, k = step.
std::vector<uint32_t> epoch_order(std::size_t n, uint64_t seed, uint64_t epoch, bool shuffle = true);

struct BatchOptions {
  std::size_t batch = 64;
  uint64_t seed = 0;
  bool shuffle = true;
  bool augment = true;
  uint64_t start_step = 0;           // first step produced (resume)
  uint64_t end_step = UINT64_MAX;    // one past the last step produced
  std::size_t queue_depth = 4;       // batches buffered ahead
  unsigned threads = 0;              // augmentation threads per batch; 0: all cores
};

// A batch of real images: NCHW float, x / 127.5 - 1.
struct Batch {
  uint64_t step = 0, epoch = 0;
  std::size_t batch = 0;
  int size = 0;
  std::vector<float> data;        // batch * 3 * size * size
  std::vector<uint32_t> indices;  // data set index of each sample
};

// Steps per epoch: floor(N / batch) (the last partial batch is dropped).
std::size_t steps_per_epoch(std::size_t dataset_size, std::size_t batch);

// Builds the batch of `step`. `order` may pass the precomputed epoch_order of the
// step's epoch. Result independent of `threads`.
void make_batch(const Dataset& ds, const BatchOptions& opt, uint64_t step, Batch& out, unsigned threads,
                const std::vector<uint32_t>* order = nullptr);

// A background thread that fills a bounded queue with make_batch(step) for
// step = start_step, start_step + 1, ... < end_step.
class BatchLoader {
 public:
  BatchLoader(const Dataset& ds, BatchOptions opt);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch in step order; std::nullopt after end_step. Rethrows a
  // producer failure.
  std::optional<Batch> next();

 private:
  void run();

  const Dataset ds_;  // a cheap copy: shares the pixels
  BatchOptions opt_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  bool stop_ = false, done_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace rg::data
