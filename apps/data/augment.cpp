// SPDX-License-Identifier: Apache-2.0
#include "apps/data/augment.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "apps/data/parallel.h"
#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

namespace rg::data {

AugmentParams augment_params(uint64_t seed, uint64_t draw_index) {
  const auto w = philox_words(seed, streams::kAugmentation, draw_index, 0);
  AugmentParams p;
  p.flip = uniform_from_word(w[0]) < 0.5;
  p.rotate = uniform_from_word(w[1]) < 0.3;
  p.angle_deg = -5.0 + 10.0 * uniform_from_word(w[2]);
  return p;
}

std::vector<uint32_t> epoch_order(std::size_t n, uint64_t seed, uint64_t epoch, bool shuffle) {
  if (n > UINT32_MAX) throw std::invalid_argument("epoch_order: data set too large");
  std::vector<uint32_t> perm(n);
  for (std::size_t i = 0; i < n; ++i) perm[i] = static_cast<uint32_t>(i);
  if (!shuffle || n < 2) return perm;
  for (std::size_t t = 0; t + 1 < n; ++t) {
    const std::size_t i = n - 1 - t;
    const uint32_t x = philox_words(seed, streams::kShuffle, epoch, static_cast<uint32_t>(t))[0];
    const std::size_t j = static_cast<std::size_t>((uint64_t{x} * (i + 1)) >> 32);
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

std::size_t steps_per_epoch(std::size_t dataset_size, std::size_t batch) {
  if (batch == 0) throw std::invalid_argument("batch size must be positive");
  return dataset_size / batch;
}

void make_batch(const Dataset& ds, const BatchOptions& opt, uint64_t step, Batch& out, unsigned threads,
                const std::vector<uint32_t>* order) {
  const std::size_t n = ds.size();
  const std::size_t spe = steps_per_epoch(n, opt.batch);
  if (spe == 0)
    throw std::invalid_argument("batch size " + std::to_string(opt.batch) + " exceeds the data set size " +
                                std::to_string(n));
  const uint64_t epoch = step / spe;
  const std::size_t first = static_cast<std::size_t>(step % spe) * opt.batch;
  std::vector<uint32_t> local;
  if (!order || order->size() != n) {
    local = epoch_order(n, opt.seed, epoch, opt.shuffle);
    order = &local;
  }
  const int s = ds.image_size();
  const std::size_t plane = static_cast<std::size_t>(s) * s;
  out.step = step;
  out.epoch = epoch;
  out.batch = opt.batch;
  out.size = s;
  out.data.resize(opt.batch * 3 * plane);
  out.indices.resize(opt.batch);
  parallel_for(opt.batch, threads, [&](std::size_t b) {
    const std::size_t pos = first + b;
    const uint32_t idx = (*order)[pos];
    out.indices[b] = idx;
    const uint8_t* px = ds.image(idx);
    std::vector<uint8_t> aug;
    if (opt.augment) {
      aug.resize(ds.image_bytes());
      augment_image(px, s, augment_params(opt.seed, epoch * n + pos), aug.data());
      px = aug.data();
    }
    float* dst = out.data.data() + b * 3 * plane;
    for (std::size_t k = 0; k < plane; ++k)
      for (int c = 0; c < 3; ++c) dst[c * plane + k] = static_cast<float>(px[k * 3 + c]) / 127.5f - 1.0f;
  });
}

BatchLoader::BatchLoader(const Dataset& ds, BatchOptions opt) : ds_(ds), opt_(opt) {
  if (opt_.queue_depth == 0) opt_.queue_depth = 1;
  if (steps_per_epoch(ds_.size(), opt_.batch) == 0)
    throw std::invalid_argument("batch size " + std::to_string(opt_.batch) + " exceeds the data set size " +
                                std::to_string(ds_.size()));
  thread_ = std::thread([this] { run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchLoader::run() {
  try {
    const std::size_t spe = steps_per_epoch(ds_.size(), opt_.batch);
    uint64_t cached_epoch = UINT64_MAX;
    std::vector<uint32_t> order;
    for (uint64_t step = opt_.start_step; step < opt_.end_step; ++step) {
      const uint64_t epoch = step / spe;
      if (epoch != cached_epoch) {
        order = epoch_order(ds_.size(), opt_.seed, epoch, opt_.shuffle);
        cached_epoch = epoch;
      }
      Batch b;
      make_batch(ds_, opt_, step, b, opt_.threads, &order);
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || queue_.size() < opt_.queue_depth; });
      if (stop_) return;
      queue_.push_back(std::move(b));
      lock.unlock();
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || done_; });
  if (!queue_.empty()) {
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
    return b;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

}  // namespace rg::data
