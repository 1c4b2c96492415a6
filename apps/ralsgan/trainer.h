// `ralsgan train`: the whole RaLSGAN step (docs/contracts.md §3) as one compiled graph,
// replayed over epochs of the data set, with checkpoints, sample grids, a loss
// plot and log.jsonl under the run folder (docs/contracts.md §1).
#pragma once

#include <cstdint>
#include <memory>
#include <filesystem>
#include <string>

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
