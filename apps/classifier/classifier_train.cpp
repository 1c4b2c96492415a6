#include "apps/classifier/classifier_train.h"

#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "apps/data/idx.h"
#include "apps/rng_streams.h"
#include "backends/ref/ref_backend.h"
#include "engine/rng/philox.h"
#include "engine/session.h"
#ifdef RALSGAN_HAVE_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif

namespace rg::classifier {
namespace {

constexpr int64_t kPixels = int64_t(kImageSize) * kImageSize;

std::filesystem::path find_file(const std::string& dir, const std::string& stem) {
  const std::filesystem::path plain = std::filesystem::path(dir) / stem;
  if (std::filesystem::exists(plain)) return plain;
  return plain.string() + ".gz";
}

// Images as floats in [0, 1] (x / 255), one-hot labels, for positions [first, first + n) of
// `order`.
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

// Fisher-Yates with Philox words (index = epoch * N + position): depends only on (seed, epoch).
void shuffle(std::vector<uint32_t>& order, uint64_t seed, uint64_t epoch) {
  std::iota(order.begin(), order.end(), 0u);
  for (size_t i = order.size(); i-- > 1;) {
    const auto w = philox_words(seed, streams::kClassifierShuffle, epoch * order.size() + i, 0);
    const size_t j = size_t(uniform_from_word(w[0]) * double(i + 1));
    std::swap(order[i], order[std::min(j, i)]);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Split read_split(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const auto images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  data::IdxArray im = data::read_idx_file(images_path);
  data::IdxArray lb = data::read_idx_file(labels_path);
  if (im.dims.size() != 3 || im.dims[1] != kImageSize || im.dims[2] != kImageSize)
    throw std::runtime_error(images_path.string() + ": expected N x 28 x 28 images");
  if (lb.dims.size() != 1 || lb.dims[0] != im.dims[0])
    throw std::runtime_error(labels_path.string() + ": expected " + std::to_string(im.dims[0]) +
                             " labels");
  for (size_t i = 0; i < lb.data.size(); ++i)
    if (lb.data[i] >= kClasses)
      throw std::runtime_error(labels_path.string() + ": label " + std::to_string(lb.data[i]) +
                               " at " + std::to_string(i) + " is not a class 0..9");
  return Split{std::move(im.data), std::move(lb.data)};
}

std::unique_ptr<Backend> make_classifier_backend(const std::string& name, int threads) {
  if (name == "ref") return make_ref_backend();
#ifdef RALSGAN_HAVE_ONEDNN
  if (name == "cpu") return make_onednn_backend({.threads = threads});
#else
  (void)threads;
  if (name == "cpu") throw std::invalid_argument("backend 'cpu': this build has no oneDNN");
#endif
  throw std::invalid_argument("unknown backend '" + name + "' (cpu, ref)");
}

void initialize_parameters(Session& s, const ClassifierConfig& cfg, uint64_t seed) {
  const std::vector<ParamSpec> specs = classifier_parameters(cfg);
  for (size_t t = 0; t < specs.size(); ++t) {
    const double bound = 1.0 / std::sqrt(double(specs[t].fan_in));
    std::vector<double> v(size_t(numel(specs[t].shape)));
    for (size_t i = 0; i < v.size(); ++i) {
      const auto w = philox_words(seed, streams::kClassifierInit, t, uint32_t(i / 4));
      v[i] = (2.0 * uniform_from_word(w[i % 4]) - 1.0) * bound;
    }
    s.set_variable(specs[t].name, std::span<const double>(v));
  }
}

TrainResult train_classifier(const TrainOptions& opt) {
  const std::string dir = opt.data_dir.empty() ? data::kFashionMnistDir : opt.data_dir;
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
    loss_sum += s.value(step.loss)[0];
    ++loss_count;
    if ((k + 1) % opt.log_every == 0 || k + 1 == opt.steps) {
      r.last_loss = loss_sum / loss_count;
      if (opt.on_log) opt.on_log(k + 1, r.last_loss);
      loss_sum = 0, loss_count = 0;
    }
  }
  r.train_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  const ClassifierGraph eval = build_classifier_eval(opt.model, opt.eval_batch, DType::f32);
  auto eval_plan = compile(eval.graph, *backend);
  Session es(*eval_plan);
  for (const ParamSpec& p : classifier_parameters(opt.model)) {
    const std::vector<double> v = s.variable(p.name);
    es.set_variable(p.name, std::span<const double>(v));
  }
  std::vector<uint32_t> in_order(test.count());
  std::iota(in_order.begin(), in_order.end(), 0u);
  size_t correct = 0;
  for (size_t first = 0; first < test.count(); first += size_t(opt.eval_batch)) {
    fill_batch(test, in_order, first, size_t(opt.eval_batch), images, nullptr);
    es.set_input("images", std::span<const float>(images));
    es.run();
    const std::vector<float> lp = es.value_f32(eval.log_probs);
    for (size_t b = 0; b < size_t(opt.eval_batch); ++b) {
      const float* row = lp.data() + b * kClasses;
      const size_t guess = size_t(std::max_element(row, row + kClasses) - row);
      correct += guess == test.labels[first + b];
    }
  }
  r.test_accuracy = double(correct) / double(test.count());
  r.eval_seconds = seconds_since(t1);
  return r;
}

}  // namespace rg::classifier
