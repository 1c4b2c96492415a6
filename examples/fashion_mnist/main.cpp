// SPDX-License-Identifier: Apache-2.0
// fashion_classifier: trains the Fashion-MNIST classifier (docs/classifier.md)
// and prints its test accuracy; a program over the installed library's public
// API only. Usage errors exit 2 with one line; a missing or malformed data
// file exits 1 naming it; --min-accuracy makes a run whose accuracy falls
// short exit 3 (the ctest check).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "classifier_train.h"

namespace {

const char* kUsage =
    "usage: fashion_classifier [--steps N] [--batch N] [--seed N] [--backend cpu|ref] [--threads "
    "N]\n"
    "                          [--data DIR] [--min-accuracy FRACTION]\n"
    "Trains the small CNN of docs/classifier.md on Fashion-MNIST (DIR: the IDX files, default\n"
    "/usr/share/datasets/fashion-mnist) and prints the accuracy on the 10,000 test images.\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "fashion_classifier: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

long parse_int(const std::string& flag, const std::string& text, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || v < lo || v > hi)
    usage_error(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "], got '" + text + "'");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  rg::classifier::TrainOptions opt;
  double min_accuracy = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) usage_error("unknown option or missing value: " + a);
    const std::string v = argv[++i];
    if (a == "--steps")
      opt.steps = int(parse_int(a, v, 1, 10000000));
    else if (a == "--batch")
      opt.model.batch = int(parse_int(a, v, 1, 60000));
    else if (a == "--seed")
      opt.seed = uint64_t(parse_int(a, v, 0, 2147483647));
    else if (a == "--threads")
      opt.threads = int(parse_int(a, v, 0, 1024));
    else if (a == "--backend")
      opt.backend = v;
    else if (a == "--data")
      opt.data_dir = v;
    else if (a == "--min-accuracy") {
      char* end = nullptr;
      min_accuracy = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(min_accuracy >= 0 && min_accuracy <= 1))
        usage_error("--min-accuracy needs a fraction in [0, 1], got '" + v + "'");
    } else
      usage_error("unknown option " + a);
  }
  if (opt.backend != "cpu" && opt.backend != "ref")
    usage_error("--backend must be cpu or ref, got '" + opt.backend + "'");
  opt.on_log = [](int step, double loss) {
    std::printf("step %d  loss %.4f\n", step, loss), std::fflush(stdout);
  };
  try {
    const rg::classifier::TrainResult r = rg::classifier::train_classifier(opt);
    std::printf("test accuracy %.4f (%d steps of %d, backend %s; train %.1f s, eval %.1f s)\n",
                r.test_accuracy, opt.steps, opt.model.batch, opt.backend.c_str(), r.train_seconds,
                r.eval_seconds);
    if (min_accuracy >= 0 && r.test_accuracy < min_accuracy) {
      std::fprintf(stderr, "fashion_classifier: test accuracy %.4f is below --min-accuracy %.4f\n",
                   r.test_accuracy, min_accuracy);
      return 3;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_classifier: %s\n", e.what());
    return 1;
  }
  return 0;
}
