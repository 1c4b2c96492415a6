// SPDX-License-Identifier: Apache-2.0
// The whole `ralsgan generate` job, timed: rg::app::generate (the code the CLI
// runs) writes COUNT PNGs of a freshly initialised seed generator, on any
// backend. Unlike bench_cuda's generation figures this includes quantising,
// PNG encoding (worker threads) and writing the files: what the
// "generation of 10,000 PNGs" measures. PyTorch's counterpart:
// bench/pytorch/generate_pngs_torch.py (--device cuda on a GPU).
//   bench_generate_pngs --dir DIR [--count 10000] [--batch 500] [--size 128]
//       [--width 1] [--backend auto|cuda|cpu|ref] [--cuda-math f32|tf32|bf16]
//       [--encoders N] [--seed N]
// Writes DIR/generator.safetensors (the weights, for the PyTorch script) and
// DIR/pngs/; prints one JSON line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/backend_select.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/generate.h"
#include "apps/ralsgan/init.h"
#include "engine/io/json.h"
#include "rg/safetensors.h"
#include "engine/plan.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::string dir, backend = "auto", math = "f32";
  int count = 10000, batch = 500, size = 128, encoders = 0;
  double width = 1.0;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr,
                   "bench_generate_pngs: %s needs a value (see the top of "
                   "bench/app/bench_generate_pngs.cpp)\n",
                   a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--dir")
      dir = v;
    else if (a == "--count")
      count = std::atoi(v);
    else if (a == "--batch")
      batch = std::atoi(v);
    else if (a == "--size")
      size = std::atoi(v);
    else if (a == "--width")
      width = std::atof(v);
    else if (a == "--backend")
      backend = v;
    else if (a == "--cuda-math")
      math = v;
    else if (a == "--encoders")
      encoders = std::atoi(v);
    else if (a == "--seed")
      seed = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "bench_generate_pngs: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty() || count <= 0 || batch <= 0) {
    std::fprintf(
        stderr,
        "usage: bench_generate_pngs --dir DIR [--count N] [--batch B] [--size S] [--width W] "
        "[--backend NAME] [--cuda-math f32|tf32|bf16] [--encoders N] [--seed N]\n");
    return 2;
  }
  try {
    // A seed generator with the initial weights `ralsgan train` would start
    // from, and BatchNorm running statistics of its own activations: with the
    // initial running statistics (0, 1) its images are flat grey, which PNG
    // compresses far better than real images. Training steps with learning
    // rates 0 leave every weight as it is and move the running statistics to
    // the batch statistics (momentum 0.1: 40 steps leave 1.5 % of the start).
    const rg::model::ModelConfig cfg{size, width, 128};
    rg::model::StepConfig sc;
    sc.model = cfg;
    sc.batch = 16;
    sc.lr_g = sc.lr_d = 0;
    const rg::model::StepGraph sg = rg::model::build_train_step(sc, rg::DType::f32);
    rg::app::BackendRequest req;
    req.name = backend;
    auto be = rg::app::make_backend(req);
    auto plan = rg::compile(sg.graph, *be.backend);
    rg::Session s(*plan);
    rg::app::initialize_network(s, sg.g_params, "G.", seed, 0);
    rg::app::initialize_network(s, sg.d_params, "D.", seed, 1);
    std::mt19937 rng{uint32_t(seed)};
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    std::vector<float> x(size_t(sc.batch) * 3 * size * size), z(size_t(sc.batch) * 128);
    for (int step = 0; step < 40; ++step) {
      for (float& e : x) e = uniform(rng);
      for (float& e : z) e = normal(rng);
      s.set_input("x_real", std::span<const float>(x));
      s.set_input("z", std::span<const float>(z));
      s.run();
    }
    fs::create_directories(dir);
    const fs::path weights = fs::path(dir) / "generator.safetensors";
    rg::io::write_safetensors(weights.string(), rg::app::export_network(s, sg.g_params, "G."));
    fs::remove_all(fs::path(dir) / "pngs");

    rg::app::GenerateOptions opt;
    opt.checkpoint = weights;
    opt.out = fs::path(dir) / "pngs";
    opt.count = uint64_t(count);
    opt.seed = seed;
    opt.batch = batch;
    opt.encoders = encoders;
    opt.backend.name = backend;
    opt.backend.cuda_math = math;
    opt.quiet = true;
    const rg::app::GenerateResult r = rg::app::generate(opt);
    uintmax_t bytes = 0;
    for (const auto& e : fs::directory_iterator(opt.out)) bytes += e.file_size();
    rg::io::Json j;
    j["bench"] = "generate_pngs", j["impl"] = "ours", j["backend"] = rg::io::json_text(backend);
    j["cuda_math"] = rg::io::json_text(math), j["size"] = size, j["width"] = width, j["count"] = count;
    j["batch"] = batch, j["seconds"] = rg::io::json_number(r.seconds, 5);
    j["images_per_s"] = rg::io::json_number(double(count) / r.seconds, 5);
    j["png_mib"] = rg::io::json_number(double(bytes) / (1 << 20), 4);
    j["note"] = "rg::app::generate: network, quantisation, PNG encoding and file writes; compile included";
    std::printf("%s\n", rg::io::dump_compact(j).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_generate_pngs: %s\n", e.what());
    return 1;
  }
  return 0;
}
