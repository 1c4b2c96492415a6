// SPDX-License-Identifier: Apache-2.0
// `ralsgan train`: the whole RaLSGAN step (docs/contracts.md §3) as one compiled graph,
// replayed over epochs of the data set, with checkpoints, sample grids, a loss
// plot and log.jsonl under the run folder (docs/contracts.md §1).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "apps/data/dataset.h"
#include "apps/ralsgan/backend_select.h"
#include "apps/ralsgan/checkpoint_unit.h"
#include "apps/ralsgan/run_folder.h"

namespace rg::app {

struct TrainOptions {
  std::filesystem::path out;
  int size = 128;
  double width = 1.0;
  int nz = 128;
  int epochs = 750;
  int batch = 64;
  double lr_g = 8e-4, lr_d = 8e-4;
  double real_label = 0.8;
  uint64_t seed = 0;
  BackendRequest backend;
  bool resume = false;
  std::filesystem::path init_g, init_d;
  int64_t steps = -1;  // stop after this many steps in this run (-1: run to the last epoch)
  bool augment = true, shuffle = true;
  // The moving-average generator (StyleGAN2-ADA's G_ema; docs/contracts.md
  // §3): its half-life in thousands of images, 0 for none; during ramp-up the
  // half-life is at most ema_rampup x the images seen so far (0: no ramp-up).
  double ema_kimg = 0, ema_rampup = 0.05;
  std::string diffaugment;       // DiffAugment policy ("color,translation,cutout"; empty: none)
  bool f64 = false;              // --precision f64 (reference backend only; for exactness tests)
  int log_every = 10;            // steps between log.jsonl lines
  int sample_every = 1;          // epochs between sample grids and loss plots
  int checkpoint_every = 10;     // epochs between copies under checkpoints/epoch_NNNN
  bool allow_nonfinite = false;  // go on when the losses are NaN or infinite (else: stop, exit 1)
  // --resume on other arithmetic than the run's (another thread count or
  // instruction set on cpu, another backend or math): go on, noting it in
  // log.jsonl and the train state, instead of refusing (the run then differs
  // from an uninterrupted one).
  bool allow_inexact_resume = false;
  // --resume: the unit to continue from, read and verified before the data is
  // decoded (resume_checkpoint), so a damaged one is refused at once; empty:
  // train() reads it.
  std::shared_ptr<const CheckpointUnit> resume_unit;
  std::filesystem::path resume_dir;
  bool quiet = false;
  std::string command = "train";  // the command that trains (train or demo), for RUN/options.json
  // Image quality during training: every metrics_every steps (0: never) and
  // at the end, metrics_count images from the generator the samples come
  // from (G_ema when there is one), latents i < count of the generation
  // stream, measured by `measure` (the command's: apps/metrics against the
  // data set); the values go to log.jsonl and the loss plot, and the unit of
  // the best step by the first value (lower is better) to RUN/best.
  int64_t metrics_every = 0;
  int metrics_count = 1000;
  std::function<std::vector<std::pair<std::string, double>>(
      const std::vector<std::vector<uint8_t>>& images)>
      measure;
};

struct TrainResult {
  uint64_t first_step = 0, last_step = 0;  // steps run: [first_step, last_step)
  bool interrupted = false;                 // stopped by SIGINT/SIGTERM (stop.h), checkpoint at last_step
};

// Trains in `run` (opened by the caller, before the data set is decoded, so
// that a refused folder fails at once): from scratch, or from its checkpoint
// when opt.resume. Stops between steps when a stop is asked for (stop.h),
// with a checkpoint of the last step done.
// Where --resume continues from (RUN/checkpoint, or the newest kept copy when
// a run was killed before its first RUN/checkpoint), and that unit, verified.
std::pair<std::filesystem::path, std::shared_ptr<const CheckpointUnit>> resume_checkpoint(const RunFolder& run);

TrainResult train(const TrainOptions& opt, const data::Dataset& ds, RunFolder& run);


}  // namespace rg::app
