// `ralsgan demo` (DESIGN B7) and `ralsgan eval`.
#include <cstdio>
#include <filesystem>

#include "apps/data/idx.h"
#include "apps/ralsgan/cli.h"
#include "apps/ralsgan/commands.h"
#include "apps/ralsgan/generate.h"
#include "apps/ralsgan/trainer.h"

namespace rg::app {

namespace fs = std::filesystem;

int cmd_demo(int argc, char** argv) {
  Flags f("demo", "Train a small RaLSGAN on Fashion-MNIST (Debian's dataset-fashion-mnist, letterboxed to 32x32 RGB)\n"
                  "for a few minutes, then generate samples, a grid image and a metric report. No download.");
  f.value("out", "RUN", "run folder", "demo-run")
      .value("steps", "N", "training steps (batch 64)", "1200")
      .value("width", "W", "channel multiplier of the seed's model", "0.5")
      .value("count", "N", "images to generate after training", "1000")
      .value("seed", "N", "seed", "0")
      .value("backend", "auto|cuda|cpu|ref", "where to run", "auto")
      .value("threads", "N", "CPU threads; 0 = all cores", "0");
  if (!f.parse(argc, argv)) return 0;
  const fs::path out = f.str("out");
  const data::Dataset ds = data::fashion_mnist_dataset(32);
  std::fprintf(stderr, "demo: Fashion-MNIST, %zu images letterboxed to 32x32 RGB\n", ds.size());
  TrainOptions o;
  o.out = out;
  o.size = 32;
  o.width = f.real("width", 1.0 / 64, 4);
  o.batch = 64;
  o.epochs = 1000;
  o.steps = f.integer("steps", 1, 10000000);
  o.seed = f.unsigned_integer("seed");
  o.sample_every = 0;  // the grid is written once at the end
  o.checkpoint_every = 0;
  o.log_every = 20;
  o.backend.name = f.str("backend");
  o.backend.threads = int(f.integer("threads", 0, 1024));
  const TrainResult tr = train(o, ds);
  if (tr.interrupted) return 128 + g_stop_signal.load();
  GenerateOptions g;
  g.checkpoint = out;
  g.out = out / "generated";
  g.count = f.unsigned_integer("count");
  g.seed = o.seed;
  g.backend = o.backend;
  const GenerateResult gr = generate(g);
  std::fprintf(stderr, "demo: %llu images in %s (%.1f img/s); sample grid: %s\n", (unsigned long long)gr.images,
               g.out.string().c_str(), gr.seconds > 0 ? double(gr.images) / gr.seconds : 0.0,
               (out / "samples" / "latest.png").string().c_str());
  return 0;
}

int cmd_eval(int argc, char** argv) {
  Flags f("eval", "Image-quality metrics of generated images against real ones.");
  f.value("real", "DIR|CACHE", "real images").value("fake", "DIR", "generated images")
      .value("metrics", "LIST", "comma-separated: swd, fid, kid", "swd")
      .value("inspection", "FILE", "unused").required("real").required("fake");
  if (!f.parse(argc, argv)) return 0;
  throw std::runtime_error("eval: this build has no metrics library");
}

}  // namespace rg::app
