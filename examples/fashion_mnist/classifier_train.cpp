// SPDX-License-Identifier: Apache-2.0
#include "classifier_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "fashion_mnist_data.h"

namespace rg::classifier {
namespace {

constexpr int64_t kPixels = int64_t(kImageSize) * kImageSize;

// What a random draw is for: each purpose (and each epoch of shuffling) has
// its own generator, so a run depends only on the seed, never on the order
// in which the program asks.
enum class Purpose : uint32_t { init = 1, shuffle = 2 };

// std::seed_seq and std::mt19937_64 are specified to the bit by the standard
// (unlike the std:: distributions, which are not used here).
std::mt19937_64 generator(uint64_t seed, Purpose purpose, uint64_t index) {
  std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(purpose), uint32_t(index),
                    uint32_t(index >> 32)};
  return std::mt19937_64(seq);
}

// Uniform in [0, 1) from the top 53 bits of one draw.
double uniform(std::mt19937_64& g) {
  return double(g() >> 11) * 0x1p-53;
}

// Images as floats in [0, 1] (x / 255), one-hot labels, for positions
// [first, first + n) of `order`.
void fill_batch(const Split& s, const std::vector<uint32_t>& order, size_t first, size_t n,
                std::vector<float>& images, std::vector<float>* one_hot) {
  images.resize(n * size_t(kPixels));
  if (one_hot) one_hot->assign(n * kClasses, 0.f);
  for (size_t b = 0; b < n; ++b) {
    const size_t i = order[first + b];
    for (int64_t p = 0; p < kPixels; ++p)
      images[b * size_t(kPixels) + size_t(p)] =
          float(s.images[i * size_t(kPixels) + size_t(p)]) / 255.f;
    if (one_hot) (*one_hot)[b * kClasses + s.labels[i]] = 1.f;
  }
}

// Fisher-Yates from the epoch's own generator: depends only on (seed, epoch).
void shuffle(std::vector<uint32_t>& order, uint64_t seed, uint64_t epoch) {
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937_64 g = generator(seed, Purpose::shuffle, epoch);
  for (size_t i = order.size(); i-- > 1;) {
    const size_t j = size_t(uniform(g) * double(i + 1));
    std::swap(order[i], order[std::min(j, i)]);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The fraction of `test` that the trained parameters of `trained` classify
// correctly, through the forward-only graph in batches of eval_batch.
double test_accuracy(const TrainOptions& opt, Backend& backend, const Session& trained,
                     const Split& test) {
  const ClassifierGraph eval = build_classifier_eval(opt.model, opt.eval_batch, DType::f32);
  auto plan = compile(eval.graph, backend);
  Session s(*plan);
  for (const ParamSpec& p : classifier_parameters(opt.model)) {
    const std::vector<double> v = trained.variable(p.name);
    s.set_variable(p.name, std::span<const double>(v));
  }
  std::vector<uint32_t> in_order(test.count());
  std::iota(in_order.begin(), in_order.end(), 0u);
  std::vector<float> images, log_probs(size_t(opt.eval_batch) * kClasses);
  size_t correct = 0;
  for (size_t first = 0; first < test.count(); first += size_t(opt.eval_batch)) {
    fill_batch(test, in_order, first, size_t(opt.eval_batch), images, nullptr);
    s.set_input("images", std::span<const float>(images));
    s.run();
    s.read_output("log_probs", std::span<float>(log_probs));
    for (size_t b = 0; b < size_t(opt.eval_batch); ++b) {
      const float* row = log_probs.data() + b * kClasses;
      const size_t guess = size_t(std::max_element(row, row + kClasses) - row);
      correct += guess == test.labels[first + b];
    }
  }
  return double(correct) / double(test.count());
}

}  // namespace

std::unique_ptr<Backend> make_classifier_backend(const std::string& name, int threads) {
  if (name == "ref") return make_ref_backend();
#if RG_HAVE_ONEDNN
  if (name == "cpu") return make_onednn_backend({.threads = threads});
#else
  (void)threads;
  if (name == "cpu") throw std::invalid_argument("backend 'cpu': this build of rg has no oneDNN");
#endif
  throw std::invalid_argument("unknown backend '" + name + "' (cpu, ref)");
}

void initialize_parameters(Session& s, const ClassifierConfig& cfg, uint64_t seed) {
  const std::vector<ParamSpec> specs = classifier_parameters(cfg);
  for (size_t t = 0; t < specs.size(); ++t) {
    const double bound = 1.0 / std::sqrt(double(specs[t].fan_in));
    std::mt19937_64 g = generator(seed, Purpose::init, t);
    std::vector<double> v(size_t(numel(specs[t].shape)));
    for (double& x : v) x = (2.0 * uniform(g) - 1.0) * bound;
    s.set_variable(specs[t].name, std::span<const double>(v));
  }
}

TrainResult train_classifier(const TrainOptions& opt) {
  const std::string dir = opt.data_dir.empty() ? kFashionMnistDir : opt.data_dir;
  const Split train = read_split(dir, true), test = read_split(dir, false);
  const size_t batch = size_t(opt.model.batch);
  if (batch == 0 || batch > train.count())
    throw std::invalid_argument("batch must be in 1.." + std::to_string(train.count()));
  if (opt.eval_batch < 1 || test.count() % size_t(opt.eval_batch) != 0)
    throw std::invalid_argument("eval batch " + std::to_string(opt.eval_batch) + " must divide " +
                                std::to_string(test.count()));

  auto backend = make_classifier_backend(opt.backend, opt.threads);
  const ClassifierGraph step = build_classifier_step(opt.model, DType::f32);
  auto plan = compile(step.graph, *backend);
  Session s(*plan);
  initialize_parameters(s, opt.model, opt.seed);
  // Adam's moments and step counter: a session's variables start at zero.

  TrainResult r;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<uint32_t> order(train.count());
  std::vector<float> images, labels;
  const size_t per_epoch = train.count() / batch;
  double loss_sum = 0;
  int loss_count = 0;
  for (int k = 0; k < opt.steps; ++k) {
    const size_t in_epoch = size_t(k) % per_epoch;
    if (in_epoch == 0) shuffle(order, opt.seed, uint64_t(k) / per_epoch);
    fill_batch(train, order, in_epoch * batch, batch, images, &labels);
    s.set_input("images", std::span<const float>(images));
    s.set_input("labels", std::span<const float>(labels));
    s.run();
    float loss = 0;
    s.read_output("loss", std::span<float>(&loss, 1));
    loss_sum += loss;
    ++loss_count;
    if ((k + 1) % opt.log_every == 0 || k + 1 == opt.steps) {
      r.last_loss = loss_sum / loss_count;
      if (opt.on_log) opt.on_log(k + 1, r.last_loss);
      loss_sum = 0, loss_count = 0;
    }
  }
  r.train_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  r.test_accuracy = test_accuracy(opt, *backend, s, test);
  r.eval_seconds = seconds_since(t1);
  return r;
}

}  // namespace rg::classifier
