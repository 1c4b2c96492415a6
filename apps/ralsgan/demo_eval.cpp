// SPDX-License-Identifier: Apache-2.0
// `ralsgan demo` (docs/contracts.md §7) and `ralsgan eval`.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "apps/data/dataset.h"
#include "apps/data/idx.h"
#include "apps/metrics/eval.h"
#include "apps/ralsgan/backend_select.h"
#include "apps/ralsgan/cli.h"
#include "apps/ralsgan/command_helpers.h"
#include "apps/ralsgan/commands.h"
#include "apps/ralsgan/generate.h"
#include "apps/ralsgan/stop.h"
#include "apps/ralsgan/trainer.h"
#include "engine/io/atomic_file.h"

namespace rg::app {

namespace fs = std::filesystem;

namespace {
// A data set's images (the first `limit`) as the metrics take them.
std::vector<metrics::Image> images_of(const data::Dataset& ds, size_t limit = SIZE_MAX) {
  std::vector<metrics::Image> r(std::min(ds.size(), limit));
  for (size_t i = 0; i < r.size(); ++i) {
    r[i].width = r[i].height = ds.image_size();
    r[i].rgb.assign(ds.image(i), ds.image(i) + ds.image_bytes());
  }
  return r;
}

// --metrics: a comma-separated list of swd, fid, kid (UsageError naming
// `command` and the unknown name otherwise).
std::vector<std::string> metric_names(const std::string& list, const std::string& command) {
  std::vector<std::string> names;
  for (size_t p = 0; p <= list.size();) {
    const size_t q = std::min(list.find(',', p), list.size());
    const std::string m = list.substr(p, q - p);
    if (m != "swd" && m != "fid" && m != "kid")
      throw UsageError(command + ": --metrics takes swd, fid, kid; got '" + m + "'");
    names.push_back(m);
    p = q + 1;
  }
  return names;
}
}  // namespace

void add_training_metrics_flags(Flags& f) {
  f.value("metrics-every", "N",
          "measure image quality every N steps and at the end (0: never); best unit in RUN/best",
          "0")
      .value("metrics", "LIST", "what to measure: swd, fid, kid (the first picks RUN/best)", "swd")
      .value("metrics-count", "M", "images generated (fixed latents) and real images compared",
             "1000")
      .value("inception", "FILE", "Inception weights for fid/kid (docs/metrics.md)");
}

void apply_training_metrics_flags(const Flags& f, const std::string& command,
                                  const data::Dataset* real_set, TrainOptions& o) {
  o.metrics_every = f.integer("metrics-every", 0, int64_t(1) << 40);
  if (o.metrics_every == 0) return;
  o.metrics_count = int(f.integer("metrics-count", 2, 1000000));
  const std::vector<std::string> names = metric_names(f.str("metrics"), command);
  const bool inception =
      std::any_of(names.begin(), names.end(), [](const std::string& m) { return m != "swd"; });
  if (inception && !f.has("inception"))
    throw UsageError(command + ": --metrics fid or kid needs --inception FILE (docs/metrics.md)");
  if (!real_set) return;
  const data::Dataset& real = *real_set;
  auto base = std::make_shared<metrics::EvalOptions>();
  base->metrics = names;
  base->seed = o.seed;
  if (f.has("inception")) base->inception = f.str("inception");
  base->real_stats_cache = (o.out / "real_stats.safetensors").string();
  base->real = images_of(real, size_t(o.metrics_count));
  const int size = real.image_size();
  o.measure = [base, names, size](const std::vector<std::vector<uint8_t>>& fakes) {
    metrics::EvalOptions e = *base;
    for (const auto& img : fakes) e.fake.push_back({size, size, img});
    const metrics::MetricsReport r = metrics::evaluate(e);
    std::vector<std::pair<std::string, double>> out;
    for (const std::string& m : names) {
      if (m == "swd") out.emplace_back("swd", r.swd->mean);  // x1e3, as `eval` prints it
      if (m == "fid") out.emplace_back("fid", *r.fid);
      if (m == "kid") out.emplace_back("kid", r.kid->mean);
    }
    return out;
  };
}

int cmd_demo(int argc, char** argv) {
  Flags f("demo", "Train a small RaLSGAN on Fashion-MNIST (Debian's dataset-fashion-mnist, letterboxed to 32x32 RGB)\n"
                  "for a few minutes, then generate samples, a grid image and a metric report. No download.");
  f.value("out", "RUN", "run folder", "demo-run")
      .value("steps", "N", "training steps (batch 64)", "3000")
      .value("width", "W", "channel multiplier of the seed's model", "0.5")
      .value("count", "N", "images to generate after training", "1000")
      .value("seed", "N", "seed", "0")
      .value("images", "N",
             "train on the first N training images only (0: all 60,000; the low-data study)", "0")
      .toggle("start-over", "delete an earlier demo's checkpoints, samples and log in --out first");
  add_recipe_flags(f);
  add_training_metrics_flags(f);
  add_backend_flags(f);
  if (!f.parse(argc, argv)) return 0;
  const fs::path out = f.str("out");
  const BackendRequest backend = backend_of(f);  // a bad --backend fails before any work
  {
    TrainOptions check;
    apply_recipe_flags(f, "demo", check);
    apply_training_metrics_flags(f, "demo", nullptr, check);
  }
  RunFolder run(out, f.on("start-over") ? RunFolder::Mode::kStartOver : RunFolder::Mode::kNew);
  const data::Dataset ds = data::fashion_mnist_dataset(32, size_t(f.integer("images", 0, 60000)));
  std::fprintf(stderr, "demo: Fashion-MNIST, %zu images letterboxed to 32x32 RGB\n", ds.size());
  TrainOptions o;
  o.command = "demo";
  o.out = out;
  o.size = 32;
  o.width = f.real("width", 1.0 / 64, 4);
  o.batch = 64;
  o.epochs = 1000;
  o.steps = f.integer("steps", 1, 10000000);
  o.seed = f.unsigned_integer("seed");
  o.sample_every = 0;  // the grid is written once at the end
  o.checkpoint_every = 0;
  o.backend = backend;
  o.log_every = 20;
  apply_recipe_flags(f, "demo", o);
  apply_training_metrics_flags(f, "demo", &ds, o);
  const TrainResult tr = train(o, ds, run);
  if (tr.interrupted)
    throw Interrupted("training stopped after step " + std::to_string(tr.last_step) + "; its checkpoint is in " +
                      run.checkpoint().string());
  GenerateOptions g;
  g.checkpoint = out;
  g.out = out / "generated";
  g.count = f.unsigned_integer("count");
  g.seed = o.seed;
  g.backend = o.backend;
  const GenerateResult gr = generate(g);
  if (gr.interrupted)
    throw Interrupted(std::to_string(gr.images) + " whole images were written to " + g.out.string());
  // The metric report keeps nothing half-made: from here a signal ends the demo at once.
  restore_default_stop_handlers();
  std::fprintf(stderr, "demo: %llu images in %s (%.1f img/s); sample grid: %s\n", (unsigned long long)gr.images,
               g.out.string().c_str(), gr.seconds > 0 ? double(gr.images) / gr.seconds : 0.0,
               (out / "samples" / "latest.png").string().c_str());
  // SWD of the generated images against as many real ones (the first of the test set).
  metrics::EvalOptions e;
  e.metrics = {"swd"};
  e.seed = o.seed;
  e.real = images_of(data::fashion_mnist_dataset(32, size_t(g.count), false));
  e.fake_dir = g.out.string();
  const metrics::MetricsReport report = metrics::evaluate(e);
  std::fputs(report.table().c_str(), stdout);
  io::write_file_atomic(out / "metrics.json", report.json() + "\n");
  std::fprintf(stderr, "demo: metrics in %s\n", (out / "metrics.json").string().c_str());
  return 0;
}

int cmd_eval(int argc, char** argv) {
  Flags f("eval", "Image-quality metrics of generated images against real ones: SWD (no network needed), and FID\n"
                  "and KID with pytorch-fid's Inception-v3 (weights converted by tools/inception/convert_pt_inception.py).\n"
                  "Prints a table and writes JSON. See docs/metrics.md.");
  f.value("real", "DIR|CACHE", "real images: a folder of images or a dataset cache from `preprocess`")
      .value("fake", "DIR", "generated images (a folder of PNGs)")
      .value("metrics", "LIST", "comma-separated: swd, fid, kid", "swd,fid,kid")
      .value("inception", "FILE", "Inception weights (safetensors) for fid and kid")
      .value("real-stats", "FILE", "cache of the real set's Inception statistics (read if present, else written)")
      .value("json", "FILE", "where to write the JSON report (default: FAKE/metrics.json); - prints it on stdout instead of the table")
      .value("seed", "N", "seed of SWD's patches and directions and KID's subsets", "0")
      .required("real")
      .required("fake");
  add_backend_flags(f);
  if (!f.parse(argc, argv)) return 0;
  metrics::EvalOptions o;
  std::string list = f.str("metrics");
  o.metrics = metric_names(list, "eval");
  const bool needs_inception = list.find("fid") != std::string::npos || list.find("kid") != std::string::npos;
  if (needs_inception && !f.has("inception"))
    throw UsageError("eval: fid and kid need --inception FILE (pytorch-fid weights converted by "
                     "tools/inception/convert_pt_inception.py); or ask for --metrics swd");
  o.inception = f.str("inception");
  o.real_stats_cache = f.str("real-stats");
  o.seed = f.unsigned_integer("seed");
  const BackendRequest br = backend_of(f);
  o.make_backend = [br] { return make_backend(br).backend; };
  const fs::path real = f.str("real");
  if (fs::is_regular_file(real)) {  // a dataset cache
    o.real = images_of(data::open_cache(real));
  } else {
    o.real_dir = real.string();
  }
  o.fake_dir = f.str("fake");
  o.progress = [](const std::string& stage, size_t done, size_t total) {
    std::fprintf(stderr, "%s: %zu/%zu\n", stage.c_str(), done, total);
  };
  const metrics::MetricsReport r = metrics::evaluate(o);
  if (f.has("json") && f.str("json") == "-") {  // machine-readable: the report alone on stdout
    std::fputs((r.json() + "\n").c_str(), stdout);
    return 0;
  }
  std::fputs(r.table().c_str(), stdout);
  const std::string json = f.has("json") ? f.str("json") : (fs::path(o.fake_dir) / "metrics.json").string();
  io::write_file_atomic(json, r.json() + "\n");
  std::fprintf(stderr, "wrote %s\n", json.c_str());
  return 0;
}

}  // namespace rg::app
