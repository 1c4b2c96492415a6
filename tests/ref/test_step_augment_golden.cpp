// SPDX-License-Identifier: Apache-2.0
// A training step with DiffAugment and the moving-average generator
// (docs/contracts.md §3) against PyTorch's: the reference implementation's
// DiffAugment arithmetic fed our Philox draws, and StyleGAN2-ADA's G_ema
// update (tools/golden/make_step_aug_golden.py). f64 on the reference
// backend to rounding level; f32 the forward values (what the draws and the
// augmentation ops decide; tests/onednn and tests/cuda run the same on theirs).
#include <gtest/gtest.h>

#include <iostream>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "tests/common/golden_augment_step.h"

namespace rg {
namespace {

using testing_golden::augmented_golden;
using testing_golden::golden_path;
using testing_golden::rel_distance;
using testing_golden::run_augmented_step;

TEST(GoldenAugmentedStep, F64MatchesPyTorchWithDiffAugmentAndEma) {
  auto be = make_ref_backend();
  const auto ours = run_augmented_step(*be, DType::f64);
  int compared = 0, ema = 0;
  double worst = 0;
  for (const auto& [name, v] : ours) {
    const double d = rel_distance(v, io::to_f64(augmented_golden().tensors.at(name)));
    EXPECT_LT(d, 1e-9) << name;
    worst = std::max(worst, d);
    ++compared;
    ema += name.rfind("new.G_ema.", 0) == 0;
  }
  size_t expected = 5;
  for (const auto& [name, t] : augmented_golden().tensors) expected += name.rfind("new.", 0) == 0;
  EXPECT_EQ(size_t(compared), expected);
  EXPECT_GT(ema, 10);  // every G_ema tensor, buffers included
  std::cout << "f64: " << compared << " tensors, worst relative distance " << worst << "\n";
  // The moving average is not G: beta 0.75 keeps three quarters of the start.
  EXPECT_GT(rel_distance(ours.at("new.G_ema.model.0.weight"), ours.at("new.G.model.0.weight")),
            1e-6);
}

void expect_forward_close(Backend& be, const char* label) {
  const auto ours = run_augmented_step(be, DType::f32);
  for (const char* name : {"C_r", "C_f", "loss_d"})
    EXPECT_LT(rel_distance(ours.at(name), io::to_f64(augmented_golden().tensors.at(name))), 1e-4)
        << label << " " << name;
}

TEST(GoldenAugmentedStep, F32ForwardValuesMatchPyTorch) {
  auto ref = make_ref_backend();
  expect_forward_close(*ref, "ref");
}

}  // namespace
}  // namespace rg
