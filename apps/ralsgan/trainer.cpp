// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "apps/data/augment.h"
#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/checkpoint_unit.h"
#include "apps/ralsgan/image_io.h"
#include "apps/ralsgan/init.h"
#include "apps/ralsgan/loss_plot.h"
#include "apps/ralsgan/progress.h"
#include "apps/ralsgan/stop.h"
#include "apps/ralsgan/train_log.h"
#include "apps/ralsgan/version.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"
#include "nlohmann/json.hpp"
#include "engine/rng/philox.h"
#include "apps/rng_streams.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace rg::app {

namespace {

namespace fs = std::filesystem;

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// Options that must match to resume a run; stored in train_state's metadata.
// The data set is identified by its pixels (in training order), not by file
// names or times: a copied folder resumes, a changed image does not.
std::map<std::string, std::string> run_metadata(const TrainOptions& o, const data::Dataset& ds, uint32_t data_crc,
                                                uint64_t step, uint64_t epoch) {
  return {{"step", std::to_string(step)},
          {"epoch", std::to_string(epoch)},
          {"seed", std::to_string(o.seed)},
          {"size", std::to_string(o.size)},
          {"width", num(o.width)},
          {"nz", std::to_string(o.nz)},
          {"batch", std::to_string(o.batch)},
          {"epochs", std::to_string(o.epochs)},
          {"lr_g", num(o.lr_g)},
          {"lr_d", num(o.lr_d)},
          {"real_label", num(o.real_label)},
          {"augment", o.augment ? "1" : "0"},
          {"ema_kimg", num(o.ema_kimg)},
          {"ema_rampup", num(o.ema_kimg > 0 ? o.ema_rampup : 0.0)},
          {"diffaugment", model::parse_diffaugment(o.diffaugment).text()},
          {"shuffle", o.shuffle ? "1" : "0"},
          {"dataset_images", std::to_string(ds.size())},
          {"dataset_crc32", crc32_text(data_crc)},
          {"format", "ralsgan-train-state-2"}};
}

// Options that are written only when they are not these values: runs from
// before EMA and DiffAugment existed had neither, and a seed-recipe run's
// train state stays byte for byte what it was then.
const std::map<std::string, std::string>& absent_means() {
  static const std::map<std::string, std::string> m = {
      {"ema_kimg", "0"}, {"ema_rampup", "0"}, {"diffaugment", ""}};
  return m;
}

void check_resumable(const std::map<std::string, std::string>& saved, const std::map<std::string, std::string>& now,
                     const std::string& label) {
  const std::map<std::string, std::string>& absent = absent_means();
  for (const char* key :
       {"format", "seed", "size", "width", "nz", "batch", "lr_g", "lr_d", "real_label", "augment",
        "shuffle", "dataset_images", "dataset_crc32", "ema_kimg", "ema_rampup", "diffaugment"}) {
    auto it = saved.find(key);
    if (it == saved.end() && absent.count(key)) it = absent.find(key);
    if (it == saved.end()) throw std::runtime_error(label + ": metadata lacks '" + key + "'; not a ralsgan train state");
    if (it->second != now.at(key))
      throw std::runtime_error(label + ": the run was started with " + key + " = " + it->second + ", now " +
                               now.at(key) + "; resume with the same options and data");
  }
}

// Weights given with --init-g/--init-d must be finite: a NaN would train
// (every loss NaN at once, or worse, only some weights) and generate blank PNGs.
void check_finite(const io::SafetensorsContents& c, const std::string& file) {
  for (const auto& [name, t] : c.tensors) {
    size_t bad = 0;
    if (t.dtype == "F32")
      for (size_t i = 0; i + 4 <= t.bytes.size(); i += 4) {
        float v;
        std::memcpy(&v, t.bytes.data() + i, 4);
        bad += !std::isfinite(v);
      }
    else if (t.dtype == "F64")
      for (size_t i = 0; i + 8 <= t.bytes.size(); i += 8) {
        double v;
        std::memcpy(&v, t.bytes.data() + i, 8);
        bad += !std::isfinite(v);
      }
    if (bad)
      throw std::runtime_error(file + ": tensor '" + name + "' holds " + std::to_string(bad) +
                               " value(s) that are NaN or infinite; initial weights must be finite");
  }
}

// Where --resume starts: RUN/checkpoint, or, when a run was killed after its
// first kept copy was published but before RUN/checkpoint was (the first
// epoch's window), the newest kept copy RUN/checkpoints/epoch_NNNN.
fs::path resume_source(const RunFolder& run) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(run.checkpoint(), ec))) return run.checkpoint();
  const std::vector<fs::path> kept = run.kept_copies();
  if (kept.empty()) return run.checkpoint();  // read_checkpoint says there is none
  std::fprintf(stderr, "note: %s is missing (the run was stopped while publishing it); resuming from %s\n",
               run.checkpoint().string().c_str(), kept.back().string().c_str());
  return kept.back();
}

// StyleGAN2-ADA's schedule: the half-life in images, capped during ramp-up
// by rampup x the images seen before this step; beta = 0.5^(batch / half-life).
double ema_beta(const TrainOptions& o, uint64_t step) {
  double nimg = o.ema_kimg * 1000.0;
  if (o.ema_rampup > 0) nimg = std::min(nimg, double(step) * double(o.batch) * o.ema_rampup);
  return std::pow(0.5, double(o.batch) / std::max(nimg, 1e-8));
}

// The DiffAugment inputs of step `step`'s three D evaluations (Philox stream
// 8, index 3 step + evaluation; apps/model/diffaugment.h).
void feed_diffaugment(Session& s, const model::DiffAugmentPolicy& p, const TrainOptions& o,
                      uint64_t step) {
  int k = 0;
  for (const char* which : {"daug.real", "daug.fake", "daug.fake_g"}) {
    const auto names = model::diffaugment_inputs(p, which);
    const auto values =
        model::diffaugment_values(p, o.batch, o.size, o.seed, 3 * step + uint64_t(k++));
    for (size_t i = 0; i < names.size(); ++i) {
      if (o.f64) {
        const std::vector<double> d(values[i].begin(), values[i].end());
        s.set_input(names[i], std::span<const double>(d));
      } else {
        s.set_input(names[i], std::span<const float>(values[i]));
      }
    }
  }
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

}  // namespace

std::pair<fs::path, std::shared_ptr<const CheckpointUnit>> resume_checkpoint(const RunFolder& run) {
  const fs::path from = resume_source(run);
  return {from, std::make_shared<const CheckpointUnit>(read_checkpoint(from))};
}

// RUN/options.json (docs/run_folder.md): every option of this invocation,
// the version, the backend and what it computes on, as StyleGAN2-ADA keeps
// training_options.json. Rewritten by each invocation (a resume included).
void write_options_json(const TrainOptions& o, const SelectedBackend& be, const std::string& arithmetic,
                        const fs::path& path) {
  using io::utf8_or_escaped;
  nlohmann::ordered_json j;
  const std::string version = version_text("ralsgan");
  j["version"] = utf8_or_escaped(version.substr(0, version.find('\n')));
  j["command"] = "train";
  nlohmann::ordered_json opt;
  opt["out"] = utf8_or_escaped(o.out.string());
  opt["size"] = o.size, opt["width"] = o.width, opt["nz"] = o.nz, opt["epochs"] = o.epochs, opt["batch"] = o.batch;
  opt["lr_g"] = o.lr_g, opt["lr_d"] = o.lr_d, opt["real_label"] = o.real_label, opt["seed"] = o.seed;
  opt["backend"] = o.backend.name, opt["threads"] = o.backend.threads, opt["device"] = o.backend.device;
  opt["cuda_math"] = o.backend.cuda_math, opt["cpu_math"] = o.backend.cpu_math;
  opt["resume"] = o.resume;
  opt["init_g"] = utf8_or_escaped(o.init_g.string()), opt["init_d"] = utf8_or_escaped(o.init_d.string());
  opt["steps"] = o.steps, opt["augment"] = o.augment, opt["shuffle"] = o.shuffle;
  opt["ema_kimg"] = o.ema_kimg, opt["ema_rampup"] = o.ema_rampup, opt["diffaugment"] = o.diffaugment;
  opt["precision"] = o.f64 ? "f64" : "f32";
  opt["log_every"] = o.log_every, opt["sample_every"] = o.sample_every, opt["checkpoint_every"] = o.checkpoint_every;
  opt["allow_nonfinite"] = o.allow_nonfinite, opt["allow_inexact_resume"] = o.allow_inexact_resume;
  opt["metrics_every"] = o.metrics_every, opt["metrics_count"] = o.metrics_count;
  opt["quiet"] = o.quiet;
  j["options"] = opt;
  j["backend"] = {{"name", be.name}, {"math", be.math}, {"arithmetic", arithmetic}};
  j["processor"] = utf8_or_escaped(describe_processor(be, o.backend));
  io::write_file_atomic(path, j.dump(2) + "\n");
}

TrainResult train(const TrainOptions& opt, const data::Dataset& ds, RunFolder& run) {
  if (ds.image_size() != opt.size)
    throw std::runtime_error("the data set's images are " + std::to_string(ds.image_size()) + " px but --size is " +
                             std::to_string(opt.size));
  const uint64_t per_epoch = data::steps_per_epoch(ds.size(), size_t(opt.batch));
  if (per_epoch == 0)
    throw std::runtime_error("the data set has " + std::to_string(ds.size()) + " images, fewer than one batch of " +
                             std::to_string(opt.batch));
  const fs::path samples_dir = run.samples();
  fs::create_directories(samples_dir);
  const uint32_t data_crc = data::crc32_of({ds.pixels(), ds.size() * ds.image_bytes()});

  model::StepConfig sc;
  sc.model = {opt.size, opt.width, opt.nz};
  sc.batch = opt.batch;
  sc.real_label = opt.real_label;
  sc.lr_g = opt.lr_g;
  sc.lr_d = opt.lr_d;
  sc.ema = opt.ema_kimg > 0;
  sc.diffaugment = model::parse_diffaugment(opt.diffaugment);
  const DType dtype = opt.f64 ? DType::f64 : DType::f32;
  SelectedBackend be = make_backend(opt.backend);
  const model::StepGraph sg = model::build_train_step(sc, dtype);
  if (opt.f64 && be.name != "ref") throw std::runtime_error("--precision f64 needs --backend ref");
  auto plan = compile(sg.graph, *be.backend);
  const std::unique_ptr<Session> session = make_session(*plan, "the training step (--batch " + std::to_string(opt.batch) + ")");
  Session& s = *session;

  uint64_t step = 0;
  std::optional<uint64_t> saved_step;  // the step of RUN/checkpoint, once there is one of this run
  const std::map<std::string, std::string> meta = run_metadata(opt, ds, data_crc, 0, 0);
  // What the step's values depend on besides the options (SelectedBackend::arithmetic).
  const std::string arithmetic = be.arithmetic + (opt.f64 ? ", f64 graph" : "");
  write_options_json(opt, be, arithmetic, run.options());
  std::string inexact_resumes;  // earlier ones, carried in the train state
  std::string resume_note;      // this run's, for its first log line
  if (opt.resume) {
    const auto [from, unit] = opt.resume_unit ? std::pair{opt.resume_dir, opt.resume_unit} : resume_checkpoint(run);
    const CheckpointUnit& ck = *unit;
    const CheckpointPaths p = CheckpointPaths::in(from);
    check_resumable(ck.train_state.metadata, meta, p.train_state.string());
    const auto& saved = ck.train_state.metadata;
    if (auto it = saved.find("inexact_resumes"); it != saved.end()) inexact_resumes = it->second;
    const auto was = saved.find("arithmetic");
    if (was == saved.end()) {
      std::fprintf(stderr,
                   "note: %s does not say which arithmetic it was trained with (an older ralsgan): the resumed run "
                   "matches an uninterrupted one only with the same backend, --threads and CPU\n",
                   p.train_state.string().c_str());
    } else if (was->second != arithmetic) {
      const std::string change = "trained with " + was->second + ", continued with " + arithmetic;
      if (!opt.allow_inexact_resume)
        throw std::runtime_error(
            p.train_state.string() + ": " + change +
            "; the step's values depend on both, so the run would silently differ from an uninterrupted one. Resume "
            "with the same backend, --threads and --cpu-math on a CPU with the same instruction set, or pass "
            "--allow-inexact-resume to continue anyway (noted in log.jsonl)");
      resume_note = "resumed at step " + std::to_string(ck.step) + " with other arithmetic (--allow-inexact-resume): " +
                    change;
      inexact_resumes += (inexact_resumes.empty() ? "" : "; ") + resume_note;
      std::fprintf(stderr, "note: %s\n", resume_note.c_str());
    }
    step = ck.step;
    saved_step = step;
    import_network(s, ck.generator, p.generator.string(), sg.g_params, "G.");
    import_network(s, ck.discriminator, p.discriminator.string(), sg.d_params, "D.");
    import_train_state(s, ck.train_state, p.train_state.string(), sg.g_params, sg.d_params);
    if (sc.ema) {
      if (!ck.generator_ema)
        throw std::runtime_error(p.train_state.string() +
                                 ": the run has a moving-average generator but " +
                                 p.generator_ema.string() + " is not part of its checkpoint");
      import_network(s, *ck.generator_ema, p.generator_ema.string(), sg.g_params, "G_ema.");
    }
  } else {
    initialize_network(s, sg.g_params, "G.", opt.seed, 0);
    initialize_network(s, sg.d_params, "D.", opt.seed, 1);
    for (auto [file, specs, prefix] : {std::tuple{&opt.init_g, &sg.g_params, "G."}, {&opt.init_d, &sg.d_params, "D."}}) {
      if (file->empty()) continue;
      const io::SafetensorsContents c = io::read_safetensors(file->string());
      verify_checksum(c, file->string(), false);  // files of ours carry one; PyTorch's do not
      check_finite(c, file->string());
      import_network(s, c, file->string(), *specs, prefix);
    }
    if (sc.ema) copy_network(s, s, sg.g_params, "G.", "G_ema.");  // G_ema starts as G (a deep copy)
  }
  const uint64_t total = uint64_t(opt.epochs) * per_epoch;
  const uint64_t end = opt.steps >= 0 ? std::min(total, step + uint64_t(opt.steps)) : total;
  TrainResult result{step, step, false};

  // Sample grids from fixed latents: the first 64 images `generate` makes with
  // this seed, in runs of 8 (a generation plan of batch 8 keeps its arena an
  // eighth of a batch-64 one; eval-mode images do not depend on the batch).
  const int grid_n = 64, grid_batch = 8;
  model::GenerateGraph gen = model::build_generate_graph(sc.model, grid_batch, dtype);
  std::unique_ptr<Plan> gen_plan;
  std::unique_ptr<Session> gen_session;

  TrainLog log = opt.resume ? TrainLog::resume(run.log(), step) : TrainLog::start(run.log());

  // One unit (checkpoint_unit.h): the train state names the step and the
  // checksums of the generator and discriminator it belongs with.
  // The best value so far of the first metric (RUN/best's, on resume).
  std::optional<double> best_value;
  std::string best_metric;
  if (opt.resume) {
    std::error_code ec;
    const fs::path best_state = CheckpointPaths::in(run.best()).train_state;
    if (fs::exists(best_state, ec)) {
      const io::SafetensorsContents b = io::read_safetensors(best_state.string());
      if (auto it = b.metadata.find("best_value"); it != b.metadata.end())
        best_value = std::stod(it->second);
    }
  }
  auto save_checkpoint = [&](const fs::path& dir, uint64_t at_step) {
    run.check_still_ours();
    log.sync();  // the log holds every line up to the checkpoint's step
    try {
      publish_checkpoint(dir, [&](const fs::path& staging) {
        const CheckpointPaths p = CheckpointPaths::in(staging);
        const std::map<std::string, std::string> step_meta{{"step", std::to_string(at_step)}};
        const uint32_t g_crc = write_network(p.generator, s, sg.g_params, "G.", step_meta);
        const uint32_t d_crc = write_network(p.discriminator, s, sg.d_params, "D.", step_meta);
        const uint32_t ema_crc =
            sc.ema ? write_network(p.generator_ema, s, sg.g_params, "G_ema.", step_meta) : 0;
        auto m = run_metadata(opt, ds, data_crc, at_step, at_step / per_epoch);
        for (const auto& [key, value] : absent_means())
          if (m.at(key) == value) m.erase(key);
        m["backend"] = be.name;
        m["math"] = be.math;
        m["arithmetic"] =
            arithmetic;  // --resume refuses other arithmetic unless --allow-inexact-resume
        if (!inexact_resumes.empty()) m["inexact_resumes"] = inexact_resumes;
        m["generator_crc32"] = crc32_text(g_crc);
        m["discriminator_crc32"] = crc32_text(d_crc);
        if (sc.ema) m["generator_ema_crc32"] = crc32_text(ema_crc);
        if (dir == run.best()) m["best_metric"] = best_metric, m["best_value"] = num(*best_value);
        write_train_state(p.train_state, s, sg.g_params, sg.d_params, m);
        run.check_still_ours();  // again just before the publish's renames (a move while writing)
      });
    } catch (const std::runtime_error&) {
      // A folder moved away between that check and the renames fails the
      // publish (its paths are gone): report that cause, not the rename's errno.
      run.check_still_ours();
      throw;
    }
  };
  std::optional<uint64_t> sampled_step;
  // Images 0 .. n-1 of the generation stream from the sampled generator
  // (G_ema when there is one), as `generate` makes them.
  auto sample_images = [&](int n) {
    if (!gen_plan) {
      gen_plan = compile(gen.graph, *be.backend);
      gen_session = make_session(*gen_plan, "the sample grid");
    }
    copy_network(s, *gen_session, sg.g_params, sc.ema ? "G_ema." : "G.", "G.");
    const size_t per = size_t(3) * opt.size * opt.size;
    auto images = std::vector<std::vector<uint8_t>>(size_t(n), std::vector<uint8_t>(per));
    std::vector<float> z_run(size_t(grid_batch) * opt.nz);
    for (int first = 0; first < n; first += grid_batch) {
      for (int i = 0; i < grid_batch; ++i)
        latent_vector(opt.seed, streams::kGeneration, uint64_t(first + i),
                      std::span<float>(&z_run[size_t(i) * opt.nz], size_t(opt.nz)));
      gen_session->set_input("z", std::span<const float>(z_run));
      gen_session->run();
      const std::vector<float> img = gen_session->value_f32(gen.images);
      for (int i = 0; i < grid_batch && first + i < n; ++i)
        quantize_image(&img[size_t(i) * per], opt.size, images[size_t(first + i)].data());
    }
    return images;
  };
  auto save_samples = [&](uint64_t at_step) {
    const std::vector<std::vector<uint8_t>> tiles = sample_images(grid_n);
    int w, h;
    const auto grid = make_grid(tiles, opt.size, 8, w, h);
    char name[64];
    std::snprintf(name, sizeof name, "grid_step_%08llu.png", (unsigned long long)at_step);
    const auto png = encode_png(grid.data(), w, h);
    io::write_file_atomic(samples_dir / name, png);
    io::write_file_atomic(samples_dir / "latest.png", png);
    const Canvas plot = plot_losses(log.records());
    io::write_file_atomic(samples_dir / "losses.png", encode_png(plot.rgb().data(), plot.width(), plot.height()));
    sampled_step = at_step;
  };

  data::BatchOptions bo;
  bo.batch = size_t(opt.batch);
  bo.seed = opt.seed;
  bo.shuffle = opt.shuffle;
  bo.augment = opt.augment;
  bo.start_step = step;
  bo.end_step = end;
  data::BatchLoader loader(ds, bo);
  std::vector<float> z(size_t(opt.batch) * opt.nz);
  std::vector<double> x64(opt.f64 ? size_t(opt.batch) * 3 * opt.size * opt.size : 0);
  Progress progress("train", end, "step", step);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t t0_step = step;
  for (; step < end; ++step) {
    if (stop_requested()) {
      result.interrupted = true;
      break;
    }
    std::optional<data::Batch> b = loader.next();
    if (!b) throw std::logic_error("data loader ended early");
    for (int j = 0; j < opt.batch; ++j)
      latent_vector(opt.seed, streams::kTrainingLatents, step * uint64_t(opt.batch) + uint64_t(j),
                    std::span<float>(&z[size_t(j) * opt.nz], size_t(opt.nz)));
    if (opt.f64) {
      // The loader hands out x / 127.5 - 1 rounded to float; an f64 run takes
      // the exact value of the byte x it came from.
      for (size_t i = 0; i < b->data.size(); ++i)
        x64[i] = std::nearbyint((double(b->data[i]) + 1.0) * 127.5) / 127.5 - 1.0;
      s.set_input("x_real", std::span<const double>(x64));
    } else {
      s.set_input("x_real", std::span<const float>(b->data));
    }
    s.set_input("z", std::span<const float>(z));
    if (sc.ema) {
      const double beta = ema_beta(opt, step);
      if (opt.f64)
        s.set_input("ema_beta", std::span<const double>(&beta, 1));
      else {
        const float b = float(beta);
        s.set_input("ema_beta", std::span<const float>(&b, 1));
      }
    }
    if (sc.diffaugment.any()) feed_diffaugment(s, sc.diffaugment, opt, step);
    s.run();
    const auto step_end =
        std::chrono::steady_clock::now();  // the rate leaves out measuring metrics
    const uint64_t done = step + 1;
    const bool epoch_end = done % per_epoch == 0;
    const double ld = s.value(sg.loss_d)[0], lg = s.value(sg.loss_g)[0];
    const bool finite = std::isfinite(ld) && std::isfinite(lg);
    const bool measure_now = finite && opt.measure && opt.metrics_every > 0 &&
                             (done % uint64_t(opt.metrics_every) == 0 || done == end);
    std::vector<std::pair<std::string, double>> measured;
    if (measure_now) measured = opt.measure(sample_images(opt.metrics_count));
    if (done % uint64_t(opt.log_every) == 0 || epoch_end || done == end || stop_requested() ||
        !finite || measure_now) {
      const double secs = std::chrono::duration<double>(step_end - t0).count();
      LogRecord r;
      r.step = done;
      r.epoch = double(done) / double(per_epoch);
      r.loss_d = ld, r.loss_g = lg;
      r.c_real = mean_of(s.value(sg.c_r)), r.c_fake = mean_of(s.value(sg.c_f));
      r.images_per_s = secs > 0 ? double(done - t0_step) * opt.batch / secs : 0.0;
      t0 = std::chrono::steady_clock::now();
      t0_step = done;
      r.note = std::exchange(resume_note, std::string());  // an inexact resume, on its first line
      r.metrics = measured;
      log.append(r);
      if (!opt.quiet) progress.update(done, "loss_d " + num(ld) + " loss_g " + num(lg));
    }
    if (!finite && !opt.allow_nonfinite)
      throw std::runtime_error(
          "step " + std::to_string(done) + ": the losses are not finite (loss_d " + num(ld) + ", loss_g " + num(lg) +
          "): training diverged. " +
          (saved_step ? "The last good checkpoint, of step " + std::to_string(*saved_step) + ", is kept in " +
                            run.checkpoint().string()
                      : std::string("No checkpoint was written")) +
          ". Lower --lr-d/--lr-g, or pass --allow-nonfinite to go on regardless");
    if (!measured.empty() && std::isfinite(measured[0].second) &&
        (!best_value || measured[0].second < *best_value)) {
      best_value = measured[0].second;
      best_metric = measured[0].first;
      save_checkpoint(run.best(), done);
    }
    if (epoch_end) {
      // RUN/checkpoint last: a run killed before it resumes from the one
      // before and makes this epoch's pictures and kept copy again (the same
      // bytes), so none of them can go missing.
      const uint64_t epoch = done / per_epoch;
      if (opt.sample_every > 0 && epoch % uint64_t(opt.sample_every) == 0) save_samples(done);
      if (opt.checkpoint_every > 0 && epoch % uint64_t(opt.checkpoint_every) == 0) {
        char name[32];
        std::snprintf(name, sizeof name, "epoch_%04llu", (unsigned long long)epoch);
        save_checkpoint(run.kept_checkpoints() / name, done);
      }
      save_checkpoint(run.checkpoint(), done);
      saved_step = done;
    }
  }
  result.last_step = step;
  if (step > result.first_step && sampled_step != step) save_samples(step);
  if (step > 0 && saved_step != step) save_checkpoint(run.checkpoint(), step);
  if (!opt.quiet) {
    if (result.interrupted) progress.stopped(step);
    else progress.finish();
  }
  return result;
}

}  // namespace rg::app
