// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <tuple>

#include "apps/data/augment.h"
#include "apps/data/dataset.h"
#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/cli.h"
#include "apps/ralsgan/command_helpers.h"
#include "apps/ralsgan/export_plan.h"
#include "engine/io/json.h"
#if RALSGAN_HAVE_METRICS
#include "apps/metrics/swd.h"
#endif
#include "apps/ralsgan/generate.h"
#include "apps/ralsgan/progress.h"
#include "apps/ralsgan/stop.h"
#include "apps/ralsgan/trainer.h"
#include "engine/inspect.h"
#include "engine/io/atomic_file.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::app {

namespace fs = std::filesystem;

int parse_size(const Flags& f) {
  const int64_t s = f.integer("size", 32, 256);
  if (s != 32 && s != 64 && s != 128 && s != 256)
    throw UsageError("--size must be 32, 64, 128 or 256, got " + f.str("size"));
  return int(s);
}

namespace {

// --data DIR (decoded and cached, reused while the folder is unchanged) or a cache file.
data::Dataset load_dataset(const fs::path& data, int size, data::Fit fit, unsigned threads) {
  if (!fs::exists(data)) throw std::runtime_error(data.string() + ": no such file or folder");
  if (!fs::is_directory(data)) {
    const data::Dataset ds = data::open_cache(data);
    if (ds.image_size() != size)
      throw std::runtime_error(data.string() + ": cached images are " +
                               std::to_string(ds.image_size()) + " px, --size is " +
                               std::to_string(size));
    return ds;
  }
#if RALSGAN_HAVE_DECODE
  return load_folder(data, size, fit, threads);
#else
  (void)fit, (void)threads;
  throw std::runtime_error(
      data.string() +
      ": this ralsgan is a core build (no image decoding): give --data a dataset cache, "
      "made by `ralsgan preprocess` on a full build");
#endif
}

}  // namespace

void add_recipe_flags(Flags& f) {
  f.value("recipe", "seed|improved",
          "seed: the seed's recipe exactly; improved: + a moving-average generator (--ema-kimg "
          "B*10/32) "
          "and DiffAugment color,translation,cutout (docs/quality.md)",
          "seed")
      .value("ema-kimg", "K",
             "moving-average generator's half-life in thousands of images (0: none)")
      .value("ema-rampup", "R",
             "during ramp-up the half-life is at most R x the images seen (0: none)", "0.05")
      .value("diffaugment", "POLICY",
             "DiffAugment before every D evaluation: color,translation,cutout (empty: none)");
}

void apply_recipe_flags(const Flags& f, const std::string& command, TrainOptions& o) {
  const std::string recipe = f.str("recipe");
  if (recipe != "seed" && recipe != "improved")
    throw UsageError(command + ": --recipe must be seed or improved, got '" + recipe + "'");
  o.ema_kimg = 0;
  o.diffaugment.clear();
  if (recipe == "improved") {
    o.ema_kimg = o.batch * 10.0 / 32.0;  // StyleGAN2-ADA's rule
    o.diffaugment = "color,translation,cutout";
  }
  if (f.has("ema-kimg")) o.ema_kimg = f.real("ema-kimg", 0, 1e9);
  o.ema_rampup = f.real("ema-rampup", 0, 1e6);
  if (f.has("diffaugment")) o.diffaugment = f.str("diffaugment");
  try {
    model::parse_diffaugment(o.diffaugment);
  } catch (const std::invalid_argument& e) {
    throw UsageError(command + ": " + e.what());
  }
}

int cmd_train(int argc, char** argv) {
  Flags f(
      "train",
      "Train the seed's RaLSGAN (DCGAN architecture, docs/contracts.md §2, §3) on a folder of "
      "images or a cache.\n"
      "The whole step is one compiled graph; checkpoints, samples and log.jsonl go under --out.");
  f.value("data", "DIR|CACHE",
          "training images: a folder (decoded and cached automatically) or a cache file")
      .value("out", "RUN", "run folder (checkpoint/, checkpoints/, samples/, log.jsonl)")
      .value("size", "S", "image side: 32, 64, 128 or 256", "128")
      .value("epochs", "E", "epochs to train", "750")
      .value("batch", "B", "batch size (the last partial batch of an epoch is dropped)", "64")
      .value("lr-g", "LR", "generator Adam learning rate", "8e-4")
      .value("lr-d", "LR", "discriminator Adam learning rate", "8e-4")
      .value("real-label", "Y", "margin y inside the RaLS loss", "0.8")
      .value("seed", "N", "seed of every random choice (Philox, docs/contracts.md §4)", "0")
      .toggle("resume", "continue the run in --out from its newest checkpoint, bit-identically")
      .toggle("start-over",
              "delete the checkpoints, samples and log in --out and train from scratch")
      .value("init-g", "FILE", "start G from these weights (a PyTorch state_dict as safetensors)")
      .value("init-d", "FILE", "start D from these weights")
      .value("steps", "N", "stop after N optimizer steps in this run (a checkpoint is written)")
      .toggle("no-augment", "no flips or rotations")

      .toggle("no-shuffle", "take the data in sorted file-name order")
      .value("width", "W",
             "multiply every hidden channel count by W (small models for tests and demos)", "1")
      .value("nz", "N", "latent size", "128")
      .value("precision", "f32|f64", "f64 runs on the ref backend only (exactness checks)", "f32")
      .value("log-every", "N", "steps between log.jsonl lines", "10")
      .value("sample-every", "E", "epochs between sample grids and loss plots", "1")
      .value("checkpoint-every", "E", "epochs between kept copies under checkpoints/", "10")
      .toggle("allow-nonfinite",
              "go on when the losses become NaN or infinite (else the run stops, exit 1)")
      .toggle("allow-inexact-resume",
              "--resume on another thread count, instruction set, backend or math than the run's: "
              "go on (noted in "
              "log.jsonl) instead of refusing; the run then differs from an uninterrupted one")
      .required("data")
      .required("out");
  add_recipe_flags(f);
#if RALSGAN_HAVE_METRICS
  add_training_metrics_flags(f);
#endif
  add_backend_flags(f);
  f.toggle("quiet", "no progress line on stderr (errors and notes still appear)");
  if (!f.parse(argc, argv)) return 0;
  TrainOptions o;
  o.quiet = f.on("quiet");
  o.out = f.str("out");
  o.size = parse_size(f);
  o.epochs = int(f.integer("epochs", 1, 1000000));
  o.batch = int(f.integer("batch", 2, 4096));
  o.lr_g = f.real("lr-g", 0, 1);
  o.lr_d = f.real("lr-d", 0, 1);
  o.real_label = f.real("real-label", -10, 10);
  o.seed = f.unsigned_integer("seed");
  o.resume = f.on("resume");
  if (f.has("init-g")) o.init_g = f.str("init-g");
  if (f.has("init-d")) o.init_d = f.str("init-d");
  if (o.resume && (f.has("init-g") || f.has("init-d")))
    throw UsageError("train: --resume and --init-g/--init-d exclude each other");
  if (o.resume && f.on("start-over"))
    throw UsageError("train: --resume and --start-over exclude each other");
  if (f.has("steps")) o.steps = f.integer("steps", 0, int64_t(1) << 40);
  o.augment = !f.on("no-augment");
  if (o.augment && !data::augmentation_available())
    throw UsageError(
        "train: this ralsgan is a core build without OpenCV and cannot augment images: pass "
        "--no-augment");
  o.shuffle = !f.on("no-shuffle");
  apply_recipe_flags(f, "train", o);
#if RALSGAN_HAVE_METRICS
  apply_training_metrics_flags(f, "train", nullptr, o);
#endif
  o.width = f.real("width", 1.0 / 1024, 16);
  o.nz = int(f.integer("nz", 4, 4096));
  if (o.nz % 4) throw UsageError("train: --nz must be a multiple of 4");
  const std::string prec = f.str("precision");
  if (prec != "f32" && prec != "f64")
    throw UsageError("train: --precision must be f32 or f64, got '" + prec + "'");
  o.f64 = prec == "f64";
  o.log_every = int(f.integer("log-every", 1, 1000000));
  o.sample_every = int(f.integer("sample-every", 0, 1000000));
  o.checkpoint_every = int(f.integer("checkpoint-every", 0, 1000000));
  o.allow_nonfinite = f.on("allow-nonfinite");
  o.allow_inexact_resume = f.on("allow-inexact-resume");
  o.backend = backend_of(f);
  if (o.f64 && o.backend.name != "ref") throw UsageError("train: --precision f64 needs --backend ref");
  // A run folder inside a data folder would have its sample PNGs read as training images (and then
  // refuse to resume when their count changes): refused before anything is written.
  {
    std::error_code ec;
    const fs::path data = fs::weakly_canonical(fs::absolute(f.str("data")), ec);
    const fs::path out = fs::weakly_canonical(fs::absolute(o.out), ec);
    if (fs::is_directory(data, ec)) {
      auto [d, o2] = std::mismatch(data.begin(), data.end(), out.begin(), out.end());
      if (d == data.end())
        throw UsageError("train: the run folder " + o.out.string() + " is inside the data folder " + f.str("data") +
                         ": its sample images would become training images; put --out elsewhere");
    }
  }
  // The folder first (lock, resume or not): a refusal comes before minutes of decoding.
  RunFolder run(o.out, o.resume             ? RunFolder::Mode::kResume
                       : f.on("start-over") ? RunFolder::Mode::kStartOver
                                            : RunFolder::Mode::kNew);
  // A damaged checkpoint is refused now, not after minutes of decoding.
  if (o.resume) std::tie(o.resume_dir, o.resume_unit) = resume_checkpoint(run);
  const data::Dataset ds =
      load_dataset(f.str("data"), o.size, data::Fit::kPad, unsigned(o.backend.threads));
#if RALSGAN_HAVE_METRICS
  apply_training_metrics_flags(f, "train", &ds, o);
#endif
  const TrainResult r = train(o, ds, run);
  if (r.interrupted) {
    if (r.last_step > 0)
      std::fprintf(stderr,
                   "interrupted by %s after step %llu; checkpoint in %s (continue with --resume)\n",
                   stop_signal_name().c_str(), (unsigned long long)r.last_step,
                   run.checkpoint().string().c_str());
    else
      std::fprintf(stderr, "interrupted by %s before the first step; no checkpoint written\n",
                   stop_signal_name().c_str());
    return stop_exit_code();
  }
  std::fprintf(stderr, "done after step %llu; checkpoint in %s\n", (unsigned long long)r.last_step,
               run.checkpoint().string().c_str());
  return 0;
}

int cmd_generate(int argc, char** argv) {
  Flags f(
      "generate",
      "Write PNG images from a trained generator (BatchNorm in eval mode: running statistics).\n"
      "Image i's latent depends only on (seed, i): same checkpoint, seed and backend give the "
      "same\n"
      "bytes whatever the batch, threads or sharding with --start-index.");
  f.value("checkpoint", "RUN|FILE",
          "a run folder (uses RUN/checkpoint/generator.safetensors) or a generator file")
      .value("weights", "ema|raw",
             "ema: the moving-average generator (the default when the run has one); raw: G itself")
      .value("out", "DIR", "output folder for image_NNNNN.png")
      .value("count", "N", "number of images", "10000")
      .value("seed", "N", "latent seed (Philox stream 0, docs/contracts.md §4)", "0")
      .value("start-index", "I", "index of the first image (for shards)", "0")
      .value("latents", "FILE",
             "take latents from tensor 'z' [N, nz] of a safetensors file instead")
      .value("zip", "FILE", "also write the PNGs into this ZIP archive")
      .value("batch", "B", "images per compiled batch (does not change the images)", "64")
      .required("checkpoint")
      .required("out");
  add_backend_flags(f);
  f.toggle("quiet", "no progress line on stderr (errors and notes still appear)");
  f.toggle("json", "print a JSON summary on stdout (images, folder, ZIP, seconds, backend)");
  if (!f.parse(argc, argv)) return 0;
  GenerateOptions o;
  o.quiet = f.on("quiet");
  o.checkpoint = f.str("checkpoint");
  if (f.has("weights")) o.generator = f.str("weights");
  if (o.generator != "auto" && o.generator != "ema" && o.generator != "raw")
    throw UsageError("generate: --weights must be ema or raw, got '" + o.generator + "'");
  o.out = f.str("out");
  o.count = f.unsigned_integer("count");
  o.seed = f.unsigned_integer("seed");
  o.start_index = f.unsigned_integer("start-index");
  if (f.has("latents")) o.latents = f.str("latents");
  if (f.has("zip")) {
    o.zip = f.str("zip");
    std::error_code ec;
    // (A --zip that is an existing folder is refused later, also before any image.)
    if (fs::weakly_canonical(fs::absolute(o.zip), ec) == fs::weakly_canonical(fs::absolute(o.out), ec))
      throw UsageError("generate: --zip " + o.zip.string() + " names the --out folder; name a file");
  }
  o.batch = int(f.integer("batch", 1, 4096));
  o.backend = backend_of(f);
  try {
    validate_generate_options(o);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("generate: ") + e.what());
  }
  const GenerateResult r = generate(o);
  if (r.interrupted) {
    std::fprintf(stderr, "interrupted by %s: %llu whole images in %s%s\n",
                 stop_signal_name().c_str(), (unsigned long long)r.images, o.out.string().c_str(),
                 o.zip.empty() ? "" : ", no ZIP written");
    return stop_exit_code();
  }
  if (!o.quiet)
    std::fprintf(stderr, "wrote %llu images to %s in %.1f s (%.1f img/s)\n",
               (unsigned long long)r.images, o.out.string().c_str(), r.seconds,
               r.seconds > 0 ? double(r.images) / r.seconds : 0.0);
  if (f.on("json")) {
    io::Json j;
    j["images"] = r.images, j["out"] = io::json_text(o.out.string());
    j["zip"] = o.zip.empty() ? io::Json(nullptr) : io::Json(io::json_text(o.zip.string()));
    j["seed"] = o.seed, j["start_index"] = o.start_index, j["seconds"] = r.seconds;
    j["images_per_s"] = r.seconds > 0 ? double(r.images) / r.seconds : 0.0;
    j["backend"] = o.backend.name;
    std::printf("%s\n", io::dump_compact(j).c_str());
  }
  return 0;
}

void print_weight_type_change(const ExportOptions& o);

int cmd_export(int argc, char** argv) {
  Flags f("export",
          "Compile the generator as `generate --backend ref` does (f32) and write the plan: "
          "DIR/model.rgplan\n"
          "(kernels, memory plan, weights; checksummed) and DIR/model.h (region sizes) for the C "
          "runtime.");
  f.value("checkpoint", "RUN|FILE",
          "a run folder (uses RUN/checkpoint/generator.safetensors) or a generator file")
      .value("generator", "ema|raw",
             "ema: the moving-average generator (the default when the run has one); raw: G itself "
             "(--weights is the stored precision)")
      .value("out", "DIR", "output folder for model.rgplan and model.h")
      .value("onnx", "FILE",
             "instead, write the generator as a standard ONNX model (opset 18; input z [N, nz], "
             "output images "
             "[N, 3, S, S] in [-1, 1]; docs/onnx.md)")
      .value("batch", "B", "images per rg_run call", "1")
      .value("weights", "f32|bf16|int8",
             "weights' type in the plan (bf16: half the size; int8: convolution weights per "
             "output channel, a quarter; neither bit-exact: int8 prints how far its images "
             "move on 256 images)", "f32")
      .value("scratch-kib", "N",
             "a convolution's im2col scratch per pass, KiB: less memory, more passes; the "
             "images do not change", "16")
      .toggle("json", "print a JSON summary on stdout (files, sizes, kernels, weight type)")
      .toggle("fold-bn", "fold each batch norm into the convolution before it, for RG_FAST builds of the "
                         "runtime (faster; no longer bit-exact on any build)")
      .required("checkpoint");
  if (!f.parse(argc, argv)) return 0;
  if (f.has("onnx") == f.has("out")) throw UsageError("export: give one of --out DIR and --onnx FILE");
  const std::string generator = f.has("generator") ? f.str("generator") : "auto";
  if (generator != "auto" && generator != "ema" && generator != "raw")
    throw UsageError("export: --generator must be ema or raw, got '" + generator + "'");
  if (f.has("onnx")) {
    export_onnx(f.str("checkpoint"), f.str("onnx"), generator);
    std::fprintf(stderr, "wrote %s\n", f.str("onnx").c_str());
    return 0;
  }
  const std::string w = f.str("weights");
  if (w != "f32" && w != "bf16" && w != "int8")
    throw UsageError("export: --weights must be f32, bf16 or int8, got " + w);
  ExportOptions o;
  o.checkpoint = f.str("checkpoint");
  o.generator = generator;
  o.out = f.str("out");
  o.batch = int(f.integer("batch", 1, 4096));
  o.weights = w == "bf16" ? RG_WEIGHTS_BF16 : w == "int8" ? RG_WEIGHTS_INT8 : RG_WEIGHTS_F32;
  o.scratch_bytes = size_t(f.integer("scratch-kib", 1, 1 << 20)) * 1024;
  o.fold_batch_norm = f.on("fold-bn");
  const ExportResult r = export_plan(o);
  if (o.weights != RG_WEIGHTS_F32 || o.fold_batch_norm) print_weight_type_change(o);
  if (f.on("json")) {
    io::Json j;
    j["plan"] = io::json_text(r.plan_file.string()), j["header"] = io::json_text(r.header_file.string());
    j["file_bytes"] = r.file_bytes, j["arena_bytes"] = r.arena_bytes, j["weights_bytes"] = r.weights_bytes;
    j["kernels"] = r.kernels, j["weights"] = w, j["batch"] = o.batch;
    std::printf("%s\n", io::dump_compact(j).c_str());
  }
  std::fprintf(
      stderr, "wrote %s (%llu bytes: %d kernels, %llu bytes of weights; arena %llu bytes) and %s\n",
      r.plan_file.string().c_str(), (unsigned long long)r.file_bytes, r.kernels,
      (unsigned long long)r.weights_bytes, (unsigned long long)r.arena_bytes,
      r.header_file.string().c_str());
  return 0;
}

// What --weights bf16|int8 costs: 256 images of seed 0 from the exported
// plan against the f32 plan's (both run by the C runtime here): the largest
// pixel change, how many values move, and the SWD between the two sets.
void print_weight_type_change(const ExportOptions& o) {
  constexpr int kCount = 256;
  ExportOptions f32 = o;
  f32.weights = RG_WEIGHTS_F32;
  f32.fold_batch_norm = false;
  int size = 0;
  const std::vector<uint8_t> a = runtime_images(generator_plan(f32), 0, kCount, &size);
  const std::vector<uint8_t> b = runtime_images(generator_plan(o), 0, kCount, &size);
  int worst = 0;
  size_t moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const int d = std::abs(int(a[i]) - int(b[i]));
    worst = std::max(worst, d), moved += d != 0;
  }
  const std::string what = std::string(o.weights == RG_WEIGHTS_INT8 ? "int8" : o.weights == RG_WEIGHTS_BF16 ? "bf16" : "f32") +
                           " weights" + (o.fold_batch_norm ? " with batch norm folded" : "");
  std::fprintf(stderr, "%s against f32, %d images of seed 0: pixel values move by at most %d levels (%.2f %% of them move)",
               what.c_str(), kCount, worst, 100.0 * double(moved) / double(a.size()));
#if RALSGAN_HAVE_METRICS
  if (size >= 16) {
    std::vector<const uint8_t*> pa, pb;
    for (int i = 0; i < kCount; ++i)
      pa.push_back(a.data() + size_t(i) * size * size * 3), pb.push_back(b.data() + size_t(i) * size * size * 3);
    std::fprintf(stderr, "; SWD between the two sets %.3f (x 1e3)", metrics::swd(pa, pb, size).mean);
  }
#endif
  std::fprintf(stderr, "\n");
}

int cmd_inspect(int argc, char** argv) {
  Flags f("inspect",
          "Print the training-step (or generation) graph, its fusion groups, the kernel each "
          "becomes on\n"
          "the chosen backend, and the memory plan: arena bytes against the sum of all buffers.");
  f.value("size", "S", "image side", "128")
      .value("width", "W", "channel multiplier", "1")
      .value("batch", "B", "batch size", "64")
      .value("graph", "train|generate", "which graph", "train")
      .toggle("nodes", "also list every node of the graph")
      .toggle("buffers", "also list every buffer of the memory plan")
      .value("profile", "N",
             "also run the graph N times (after one warm-up run; zero inputs, zero-initialised "
             "weights) and "
             "print where the time goes: per group, on the device for cuda",
             "0")
      .value("profile-top", "K", "with --profile: list the K heaviest groups (0: every group)",
             "20")
      .toggle("json", "print the plan as JSON on stdout instead (groups, kernels, memory; with --profile, ms per group)");
  add_backend_flags(f);
  if (!f.parse(argc, argv)) return 0;
  const int runs = int(f.integer("profile", 0, 100000));
  const bool json = f.on("json");
  model::ModelConfig mc{parse_size(f), f.real("width", 1.0 / 1024, 16), 128};
  const int batch = int(f.integer("batch", 2, 4096));
  const std::string which = f.str("graph");
  if (which != "train" && which != "generate")
    throw UsageError("inspect: --graph must be train or generate");
  SelectedBackend be = make_backend(backend_of(f));
  std::shared_ptr<Graph> g;
  if (which == "train") {
    model::StepConfig sc;  // as `ralsgan train` builds it
    sc.model = mc;
    sc.batch = batch;
    g = model::build_train_step(sc, DType::f32).graph;
  } else {
    g = model::build_generate_graph(mc, batch, DType::f32).graph;
  }
  auto plan = compile(g, *be.backend);
  if (!json) {
    if (f.on("nodes")) print_graph(std::cout, *plan->graph);  // after the compiler's recomputation choice
    print_plan(std::cout, *plan, f.on("buffers"));
  }
  std::vector<double> ms;
  if (runs > 0) {
    Session s(*plan);
    for (const InputInfo& in : plan->graph->inputs()) {
      const std::vector<float> zeros(size_t(plan->graph->desc(in.value).numel()), 0.f);
      s.set_input(in.name, std::span<const float>(zeros));
    }
    s.run();  // warm-up: first touch of memory, JIT, caches, CUDA graph capture on the next
    for (int r = 0; r < runs; ++r) {
      const std::vector<double> t = s.run_timed();
      ms.resize(t.size(), 0.0);
      for (size_t k = 0; k < t.size(); ++k) ms[k] += t[k] / runs;
    }
    if (!json) print_profile(std::cout, *plan, ms, runs, size_t(f.integer("profile-top", 0, 1 << 30)));
  }
  if (json) {
    io::Json j;
    j["graph"] = which, j["backend"] = be.name, j["batch"] = batch;
    j["arena_bytes"] = plan->arena_bytes, j["sum_bytes"] = plan->sum_bytes, j["buffers"] = plan->buffers.size();
    io::Json groups = io::Json::array();
    for (size_t k = 0; k < plan->groups.size(); ++k) {
      io::Json grp;
      io::Json ops = io::Json::array();
      for (NodeId id : plan->groups[k].nodes) ops.push_back(op_name(plan->graph->node(id).op));
      grp["ops"] = ops;
      grp["kernel"] = plan->kernels[k]->describe();
      grp["fallback"] = k < plan->on_fallback.size() && plan->on_fallback[k];
      if (k < ms.size()) grp["ms"] = ms[k];
      groups.push_back(grp);
    }
    j["groups"] = groups;
    std::printf("%s\n", j.dump(1).c_str());
  }
  return 0;
}

}  // namespace rg::app
