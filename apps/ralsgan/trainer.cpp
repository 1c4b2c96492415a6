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
#include "apps/ralsgan/run_options.h"
#include "apps/ralsgan/stop.h"
#include "apps/ralsgan/train_log.h"
#include "apps/rng_streams.h"
#include "engine/io/atomic_file.h"
#include "engine/plan.h"
#include "engine/rng/philox.h"
#include "rg/session.h"

namespace rg::app {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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
      throw std::runtime_error(
          file + ": tensor '" + name + "' holds " + std::to_string(bad) +
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
  std::fprintf(stderr,
               "note: %s is missing (the run was stopped while publishing it); resuming from %s\n",
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

uint64_t checked_steps_per_epoch(const TrainOptions& opt, const data::Dataset& ds) {
  if (ds.image_size() != opt.size)
    throw std::runtime_error("the data set's images are " + std::to_string(ds.image_size()) +
                             " px but --size is " + std::to_string(opt.size));
  const uint64_t per_epoch = data::steps_per_epoch(ds.size(), size_t(opt.batch));
  if (per_epoch == 0)
    throw std::runtime_error("the data set has " + std::to_string(ds.size()) +
                             " images, fewer than one batch of " + std::to_string(opt.batch));
  return per_epoch;
}

model::StepConfig step_config(const TrainOptions& opt) {
  model::StepConfig sc;
  sc.model = {opt.size, opt.width, opt.nz};
  sc.batch = opt.batch;
  sc.real_label = opt.real_label;
  sc.lr_g = opt.lr_g;
  sc.lr_d = opt.lr_d;
  sc.ema = opt.ema_kimg > 0;
  sc.diffaugment = model::parse_diffaugment(opt.diffaugment);
  return sc;
}

// One invocation of `train`: the compiled step and its session, where the run
// stands (step, last checkpoint, best metric), and what it writes to the run
// folder. run() is the loop; each step's bookkeeping is finish_step().
class TrainingRun {
 public:
  TrainingRun(const TrainOptions& opt, const data::Dataset& ds, RunFolder& run);
  TrainResult train();

 private:
  void resume();           // weights, optimiser state and notes of the checkpoint
  void initialize();       // fresh weights, or --init-g/--init-d
  void read_best_value();  // RUN/best's, on resume
  void set_step_inputs(const data::Batch& b);
  void finish_step(uint64_t end, Progress& progress);
  void log_step(uint64_t done, double loss_d, double loss_g, Clock::time_point step_end,
                std::vector<std::pair<std::string, double>> measured, Progress& progress);
  void end_epoch(uint64_t done);
  [[noreturn]] void diverged(uint64_t done, double loss_d, double loss_g) const;
  void save_checkpoint(const fs::path& dir, uint64_t at_step);
  Metadata checkpoint_metadata(const fs::path& dir, uint64_t at_step, uint32_t g_crc,
                               uint32_t d_crc, uint32_t ema_crc) const;
  std::vector<std::vector<uint8_t>> sample_images(int n);
  void save_samples(uint64_t at_step);

  const TrainOptions& opt_;
  const data::Dataset& ds_;
  RunFolder& run_;
  const uint64_t per_epoch_;
  const uint32_t data_crc_;
  const model::StepConfig sc_;
  const DType dtype_;
  SelectedBackend be_;
  const model::StepGraph sg_;
  std::unique_ptr<Plan> plan_;
  std::unique_ptr<Session> session_;
  // What the step's values depend on besides the options (SelectedBackend::arithmetic).
  const std::string arithmetic_;

  uint64_t step_ = 0;
  std::optional<uint64_t> saved_step_;  // the step of RUN/checkpoint, once there is one of this run
  std::optional<uint64_t> sampled_step_;  // the step of the last sample grid
  std::string inexact_resumes_;           // earlier ones, carried in the train state
  std::string resume_note_;               // this run's, for its first log line
  std::optional<TrainLog> log_;
  std::optional<double> best_value_;  // the best value so far of the first metric
  std::string best_metric_;
  Clock::time_point rate_t0_;  // images/s counts from here (the last log line)
  uint64_t rate_step_ = 0;

  // Sample grids from fixed latents: the first 64 images `generate` makes with
  // this seed, in runs of 8 (a generation plan of batch 8 keeps its arena an
  // eighth of a batch-64 one; eval-mode images do not depend on the batch).
  static constexpr int kGridImages = 64, kGridBatch = 8;
  const model::GenerateGraph gen_;
  std::unique_ptr<Plan> gen_plan_;  // compiled when first needed
  std::unique_ptr<Session> gen_session_;

  std::vector<float> z_;
  std::vector<double> x64_;
};

TrainingRun::TrainingRun(const TrainOptions& opt, const data::Dataset& ds, RunFolder& run)
    : opt_(opt),
      ds_(ds),
      run_(run),
      per_epoch_(checked_steps_per_epoch(opt, ds)),
      data_crc_(data::crc32_of({ds.pixels(), ds.size() * ds.image_bytes()})),
      sc_(step_config(opt)),
      dtype_(opt.f64 ? DType::f64 : DType::f32),
      be_(make_backend(opt.backend)),
      sg_(model::build_train_step(sc_, dtype_)),
      arithmetic_(be_.arithmetic + (opt.f64 ? ", f64 graph" : "")),
      gen_(model::build_generate_graph(sc_.model, kGridBatch, dtype_)),
      z_(size_t(opt.batch) * opt.nz),
      x64_(opt.f64 ? size_t(opt.batch) * 3 * opt.size * opt.size : 0) {
  fs::create_directories(run_.samples());
  if (opt_.f64 && be_.name != "ref")
    throw std::runtime_error("--precision f64 needs --backend ref");
  plan_ = compile(sg_.graph, *be_.backend);
  session_ = make_session(*plan_, "the training step (--batch " + std::to_string(opt_.batch) + ")");
  write_options_json(opt_, be_, arithmetic_, run_.options());
  if (opt_.resume)
    resume();
  else
    initialize();
  log_.emplace(opt_.resume ? TrainLog::resume(run_.log(), step_) : TrainLog::start(run_.log()));
  if (opt_.resume) read_best_value();
}

void TrainingRun::resume() {
  const auto [from, unit] =
      opt_.resume_unit ? std::pair{opt_.resume_dir, opt_.resume_unit} : resume_checkpoint(run_);
  const CheckpointUnit& ck = *unit;
  const CheckpointPaths p = CheckpointPaths::in(from);
  check_resumable(ck.train_state.metadata, run_metadata(opt_, ds_, data_crc_, 0, 0),
                  p.train_state.string());
  const auto& saved = ck.train_state.metadata;
  if (auto it = saved.find("inexact_resumes"); it != saved.end()) inexact_resumes_ = it->second;
  const auto was = saved.find("arithmetic");
  if (was == saved.end()) {
    std::fprintf(stderr,
                 "note: %s does not say which arithmetic it was trained with (an older ralsgan): "
                 "the resumed run "
                 "matches an uninterrupted one only with the same backend, --threads and CPU\n",
                 p.train_state.string().c_str());
  } else if (was->second != arithmetic_) {
    const std::string change = "trained with " + was->second + ", continued with " + arithmetic_;
    if (!opt_.allow_inexact_resume)
      throw std::runtime_error(p.train_state.string() + ": " + change +
                               "; the step's values depend on both, so the run would silently "
                               "differ from an uninterrupted one. Resume "
                               "with the same backend, --threads and --cpu-math on a CPU with the "
                               "same instruction set, or pass "
                               "--allow-inexact-resume to continue anyway (noted in log.jsonl)");
    resume_note_ = "resumed at step " + std::to_string(ck.step) +
                   " with other arithmetic (--allow-inexact-resume): " + change;
    inexact_resumes_ += (inexact_resumes_.empty() ? "" : "; ") + resume_note_;
    std::fprintf(stderr, "note: %s\n", resume_note_.c_str());
  }
  step_ = ck.step;
  saved_step_ = step_;
  Session& s = *session_;
  import_network(s, ck.generator, p.generator.string(), sg_.g_params, "G.");
  import_network(s, ck.discriminator, p.discriminator.string(), sg_.d_params, "D.");
  import_train_state(s, ck.train_state, p.train_state.string(), sg_.g_params, sg_.d_params);
  if (sc_.ema) {
    if (!ck.generator_ema)
      throw std::runtime_error(p.train_state.string() +
                               ": the run has a moving-average generator but " +
                               p.generator_ema.string() + " is not part of its checkpoint");
    import_network(s, *ck.generator_ema, p.generator_ema.string(), sg_.g_params, "G_ema.");
  }
}

void TrainingRun::initialize() {
  Session& s = *session_;
  initialize_network(s, sg_.g_params, "G.", opt_.seed, 0);
  initialize_network(s, sg_.d_params, "D.", opt_.seed, 1);
  for (auto [file, specs, prefix] :
       {std::tuple{&opt_.init_g, &sg_.g_params, "G."}, {&opt_.init_d, &sg_.d_params, "D."}}) {
    if (file->empty()) continue;
    const io::SafetensorsContents c = io::read_safetensors(file->string());
    verify_checksum(c, file->string(), false);  // files of ours carry one; PyTorch's do not
    check_finite(c, file->string());
    import_network(s, c, file->string(), *specs, prefix);
  }
  if (sc_.ema) copy_network(s, s, sg_.g_params, "G.", "G_ema.");  // G_ema starts as G (a deep copy)
}

void TrainingRun::read_best_value() {
  std::error_code ec;
  const fs::path best_state = CheckpointPaths::in(run_.best()).train_state;
  if (!fs::exists(best_state, ec)) return;
  const io::SafetensorsContents b = io::read_safetensors(best_state.string());
  if (auto it = b.metadata.find("best_value"); it != b.metadata.end())
    best_value_ = std::stod(it->second);
}

TrainResult TrainingRun::train() {
  const uint64_t total = uint64_t(opt_.epochs) * per_epoch_;
  const uint64_t end = opt_.steps >= 0 ? std::min(total, step_ + uint64_t(opt_.steps)) : total;
  TrainResult result{step_, step_, false};
  data::BatchOptions bo;
  bo.batch = size_t(opt_.batch);
  bo.seed = opt_.seed;
  bo.shuffle = opt_.shuffle;
  bo.augment = opt_.augment;
  bo.start_step = step_;
  bo.end_step = end;
  data::BatchLoader loader(ds_, bo);
  Progress progress("train", end, "step", step_);
  rate_t0_ = Clock::now();
  rate_step_ = step_;
  for (; step_ < end; ++step_) {
    if (stop_requested()) {
      result.interrupted = true;
      break;
    }
    std::optional<data::Batch> b = loader.next();
    if (!b) throw std::logic_error("data loader ended early");
    set_step_inputs(*b);
    session_->run();
    finish_step(end, progress);
  }
  result.last_step = step_;
  if (step_ > result.first_step && sampled_step_ != step_) save_samples(step_);
  if (step_ > 0 && saved_step_ != step_) save_checkpoint(run_.checkpoint(), step_);
  if (!opt_.quiet) {
    if (result.interrupted)
      progress.stopped(step_);
    else
      progress.finish();
  }
  return result;
}

void TrainingRun::set_step_inputs(const data::Batch& b) {
  Session& s = *session_;
  for (int j = 0; j < opt_.batch; ++j)
    latent_vector(opt_.seed, streams::kTrainingLatents, step_ * uint64_t(opt_.batch) + uint64_t(j),
                  std::span<float>(&z_[size_t(j) * opt_.nz], size_t(opt_.nz)));
  if (opt_.f64) {
    // The loader hands out x / 127.5 - 1 rounded to float; an f64 run takes
    // the exact value of the byte x it came from.
    for (size_t i = 0; i < b.data.size(); ++i)
      x64_[i] = std::nearbyint((double(b.data[i]) + 1.0) * 127.5) / 127.5 - 1.0;
    s.set_input("x_real", std::span<const double>(x64_));
  } else {
    s.set_input("x_real", std::span<const float>(b.data));
  }
  s.set_input("z", std::span<const float>(z_));
  if (sc_.ema) {
    const double beta = ema_beta(opt_, step_);
    if (opt_.f64) {
      s.set_input("ema_beta", std::span<const double>(&beta, 1));
    } else {
      const float b32 = float(beta);
      s.set_input("ema_beta", std::span<const float>(&b32, 1));
    }
  }
  if (sc_.diffaugment.any()) feed_diffaugment(s, sc_.diffaugment, opt_, step_);
}

// After step_ ran: the log line, the metrics, the divergence check, RUN/best
// and the epoch's checkpoints and samples.
void TrainingRun::finish_step(uint64_t end, Progress& progress) {
  const Clock::time_point step_end = Clock::now();  // the rate leaves out measuring metrics
  const uint64_t done = step_ + 1;
  const double ld = session_->value(sg_.loss_d)[0], lg = session_->value(sg_.loss_g)[0];
  const bool finite = std::isfinite(ld) && std::isfinite(lg);
  const bool measure_now = finite && opt_.measure && opt_.metrics_every > 0 &&
                           (done % uint64_t(opt_.metrics_every) == 0 || done == end);
  std::vector<std::pair<std::string, double>> measured;
  if (measure_now) measured = opt_.measure(sample_images(opt_.metrics_count));
  const bool best = !measured.empty() && std::isfinite(measured[0].second) &&
                    (!best_value_ || measured[0].second < *best_value_);
  if (best) best_value_ = measured[0].second, best_metric_ = measured[0].first;
  if (done % uint64_t(opt_.log_every) == 0 || done % per_epoch_ == 0 || done == end ||
      stop_requested() || !finite || measure_now)
    log_step(done, ld, lg, step_end, std::move(measured), progress);
  if (!finite && !opt_.allow_nonfinite) diverged(done, ld, lg);
  if (best) save_checkpoint(run_.best(), done);
  if (done % per_epoch_ == 0) end_epoch(done);
}

void TrainingRun::log_step(uint64_t done, double loss_d, double loss_g, Clock::time_point step_end,
                           std::vector<std::pair<std::string, double>> measured,
                           Progress& progress) {
  const double secs = std::chrono::duration<double>(step_end - rate_t0_).count();
  LogRecord r;
  r.step = done;
  r.epoch = double(done) / double(per_epoch_);
  r.loss_d = loss_d, r.loss_g = loss_g;
  r.c_real = mean_of(session_->value(sg_.c_r)), r.c_fake = mean_of(session_->value(sg_.c_f));
  r.images_per_s = secs > 0 ? double(done - rate_step_) * opt_.batch / secs : 0.0;
  rate_t0_ = Clock::now();
  rate_step_ = done;
  r.note = std::exchange(resume_note_, std::string());  // an inexact resume, on its first line
  r.metrics = std::move(measured);
  log_->append(r);
  if (!opt_.quiet)
    progress.update(done,
                    "loss_d " + metadata_number(loss_d) + " loss_g " + metadata_number(loss_g));
}

void TrainingRun::diverged(uint64_t done, double loss_d, double loss_g) const {
  throw std::runtime_error(
      "step " + std::to_string(done) + ": the losses are not finite (loss_d " +
      metadata_number(loss_d) + ", loss_g " + metadata_number(loss_g) + "): training diverged. " +
      (saved_step_ ? "The last good checkpoint, of step " + std::to_string(*saved_step_) +
                         ", is kept in " + run_.checkpoint().string()
                   : std::string("No checkpoint was written")) +
      ". Lower --lr-d/--lr-g, or pass --allow-nonfinite to go on regardless");
}

// RUN/checkpoint last: a run killed before it resumes from the one before and
// makes this epoch's pictures and kept copy again (the same bytes), so none
// of them can go missing.
void TrainingRun::end_epoch(uint64_t done) {
  const uint64_t epoch = done / per_epoch_;
  if (opt_.sample_every > 0 && epoch % uint64_t(opt_.sample_every) == 0) save_samples(done);
  if (opt_.checkpoint_every > 0 && epoch % uint64_t(opt_.checkpoint_every) == 0) {
    char name[32];
    std::snprintf(name, sizeof name, "epoch_%04llu", (unsigned long long)epoch);
    save_checkpoint(run_.kept_checkpoints() / name, done);
  }
  save_checkpoint(run_.checkpoint(), done);
  saved_step_ = done;
}

// One unit (checkpoint_unit.h): the train state names the step and the
// checksums of the generator and discriminator it belongs with.
void TrainingRun::save_checkpoint(const fs::path& dir, uint64_t at_step) {
  run_.check_still_ours();
  log_->sync();  // the log holds every line up to the checkpoint's step
  Session& s = *session_;
  try {
    publish_checkpoint(dir, [&](const fs::path& staging) {
      const CheckpointPaths p = CheckpointPaths::in(staging);
      const Metadata step_meta{{"step", std::to_string(at_step)}};
      const uint32_t g_crc = write_network(p.generator, s, sg_.g_params, "G.", step_meta);
      const uint32_t d_crc = write_network(p.discriminator, s, sg_.d_params, "D.", step_meta);
      const uint32_t ema_crc =
          sc_.ema ? write_network(p.generator_ema, s, sg_.g_params, "G_ema.", step_meta) : 0;
      write_train_state(p.train_state, s, sg_.g_params, sg_.d_params,
                        checkpoint_metadata(dir, at_step, g_crc, d_crc, ema_crc));
      run_.check_still_ours();  // again just before the publish's renames (a move while writing)
    });
  } catch (const std::runtime_error&) {
    // A folder moved away between that check and the renames fails the
    // publish (its paths are gone): report that cause, not the rename's errno.
    run_.check_still_ours();
    throw;
  }
}

Metadata TrainingRun::checkpoint_metadata(const fs::path& dir, uint64_t at_step, uint32_t g_crc,
                                          uint32_t d_crc, uint32_t ema_crc) const {
  Metadata m = run_metadata(opt_, ds_, data_crc_, at_step, at_step / per_epoch_);
  drop_default_metadata(m);
  m["backend"] = be_.name;
  m["math"] = be_.math;
  m["arithmetic"] = arithmetic_;  // --resume refuses other arithmetic unless --allow-inexact-resume
  if (!inexact_resumes_.empty()) m["inexact_resumes"] = inexact_resumes_;
  m["generator_crc32"] = crc32_text(g_crc);
  m["discriminator_crc32"] = crc32_text(d_crc);
  if (sc_.ema) m["generator_ema_crc32"] = crc32_text(ema_crc);
  if (dir == run_.best())
    m["best_metric"] = best_metric_, m["best_value"] = metadata_number(*best_value_);
  return m;
}

// Images 0 .. n-1 of the generation stream from the sampled generator (G_ema
// when there is one), as `generate` makes them.
std::vector<std::vector<uint8_t>> TrainingRun::sample_images(int n) {
  if (!gen_plan_) {
    gen_plan_ = compile(gen_.graph, *be_.backend);
    gen_session_ = make_session(*gen_plan_, "the sample grid");
  }
  copy_network(*session_, *gen_session_, sg_.g_params, sc_.ema ? "G_ema." : "G.", "G.");
  const size_t per = size_t(3) * opt_.size * opt_.size;
  auto images = std::vector<std::vector<uint8_t>>(size_t(n), std::vector<uint8_t>(per));
  std::vector<float> z_run(size_t(kGridBatch) * opt_.nz);
  for (int first = 0; first < n; first += kGridBatch) {
    for (int i = 0; i < kGridBatch; ++i)
      latent_vector(opt_.seed, streams::kGeneration, uint64_t(first + i),
                    std::span<float>(&z_run[size_t(i) * opt_.nz], size_t(opt_.nz)));
    gen_session_->set_input("z", std::span<const float>(z_run));
    gen_session_->run();
    const std::vector<float> img = gen_session_->value_f32(gen_.images);
    for (int i = 0; i < kGridBatch && first + i < n; ++i)
      quantize_image(&img[size_t(i) * per], opt_.size, images[size_t(first + i)].data());
  }
  return images;
}

void TrainingRun::save_samples(uint64_t at_step) {
  const std::vector<std::vector<uint8_t>> tiles = sample_images(kGridImages);
  int w, h;
  const auto grid = make_grid(tiles, opt_.size, 8, w, h);
  char name[64];
  std::snprintf(name, sizeof name, "grid_step_%08llu.png", (unsigned long long)at_step);
  const auto png = encode_png(grid.data(), w, h);
  const fs::path samples = run_.samples();
  io::write_file_atomic(samples / name, png);
  io::write_file_atomic(samples / "latest.png", png);
  const Canvas plot = plot_losses(log_->records());
  io::write_file_atomic(samples / "losses.png",
                        encode_png(plot.rgb().data(), plot.width(), plot.height()));
  sampled_step_ = at_step;
}

}  // namespace

std::pair<fs::path, std::shared_ptr<const CheckpointUnit>> resume_checkpoint(const RunFolder& run) {
  const fs::path from = resume_source(run);
  return {from, std::make_shared<const CheckpointUnit>(read_checkpoint(from))};
}

TrainResult train(const TrainOptions& opt, const data::Dataset& ds, RunFolder& run) {
  return TrainingRun(opt, ds, run).train();
}

}  // namespace rg::app
