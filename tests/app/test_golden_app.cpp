// SPDX-License-Identifier: Apache-2.0
// `ralsgan generate` and `ralsgan train` against PyTorch 1.13 doing the same
// job (tools/golden/make_generate_golden.py, make_train_golden.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>

#include "apps/data/decode.h"
#include "rg/safetensors.h"
#include "tests/app/cli_harness.h"

namespace rg {
namespace {

using testing_cli::ralsgan;
using testing_cli::TempDir;
namespace fs = std::filesystem;

const fs::path kGolden = fs::path(RG_SOURCE_DIR) / "tests" / "data" / "golden";

double rel_distance(const std::vector<double>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - ref[i]) * (a[i] - ref[i]), den += ref[i] * ref[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Generation: the seed model at width 1/4, size 32, latents of B4, eval-mode BN.
void check_generation_against_pytorch(const std::string& backend) {
  TempDir t;
  const auto golden = io::read_safetensors((kGolden / "gen_expected.safetensors").string());
  const std::vector<double> indices = io::to_f64(golden.tensors.at("indices"));
  const std::vector<double> pixels = io::to_f64(golden.tensors.at("pixels"));
  const std::string ck = "generate --checkpoint " + (kGolden / "gen_G.safetensors").string() + " --seed 3 --backend " +
                         backend + " --out " + (t.path / "out").string();
  ASSERT_EQ(ralsgan(ck + " --count 8", t.path).code, 0);
  ASSERT_EQ(ralsgan(ck + " --count 4 --start-index 1000", t.path).code, 0);
  ASSERT_EQ(ralsgan(ck + " --count 1 --start-index 70000", t.path).code, 0);
  const size_t per = 32 * 32 * 3;
  int max_diff = 0, differing = 0;
  for (size_t k = 0; k < indices.size(); ++k) {
    const fs::path file = t.path / "out" / app::image_file_name(uint64_t(indices[k]));
    const data::DecodeResult d = data::decode_image_file(file);
    ASSERT_TRUE(d.ok) << file << ": " << d.reason;
    ASSERT_EQ(d.image.width, 32);
    for (size_t i = 0; i < per; ++i) {
      const int diff = std::abs(int(d.image.pixels[i]) - int(pixels[k * per + i]));
      max_diff = std::max(max_diff, diff);
      differing += diff != 0;
    }
  }
  EXPECT_LE(max_diff, 1) << "B5: no pixel may differ by more than 1";
  std::cout << backend << ": " << differing << " of " << indices.size() * per << " pixel values differ by 1 from PyTorch\n";
}

TEST(GoldenApp, GeneratedPngsMatchPyTorchWithinOnePerPixelRef) { check_generation_against_pytorch("ref"); }

// Training from given weights on given images, no augmentation or shuffling,
// latents of B4 stream 1: three steps in f64 on the reference backend.
TEST(GoldenApp, ThreeTrainingStepsInF64MatchPyTorchWithin1e9) {
  TempDir t;
  const auto golden = io::read_safetensors((kGolden / "train_golden.safetensors").string());
  const std::string common = "train --data " + (fs::path(RG_SOURCE_DIR) / "tests/data/train_images").string() +
                             " --size 32 --width 0.25 --batch 4 --seed 9 --no-augment --no-shuffle --backend ref --log-every 1"
                             " --init-g " + (kGolden / "train_init_G.safetensors").string() +
                             " --init-d " + (kGolden / "train_init_D.safetensors").string();
  auto r = ralsgan(common + " --precision f64 --steps 3 --out " + (t.path / "f64").string(), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  int compared = 0;
  for (const char* net : {"G", "D"}) {
    const auto ours = io::read_safetensors(
        (t.path / "f64" / "checkpoint" / (std::string(net) == "G" ? "generator.safetensors" : "discriminator.safetensors")).string());
    for (const auto& [key, t64] : ours.tensors) {
      const std::string name = std::string("f64.after2.") + net + "." + key;
      ASSERT_TRUE(golden.tensors.count(name)) << name;
      EXPECT_LT(rel_distance(io::to_f64(t64), io::to_f64(golden.tensors.at(name))), 1e-9) << name;
      ++compared;
    }
  }
  size_t expected = 0;
  for (const auto& [name, t] : golden.tensors) expected += name.rfind("f64.after2.", 0) == 0;
  EXPECT_EQ(size_t(compared), expected);
  // The logged losses of each step.
  std::ifstream log(t.path / "f64" / "log.jsonl");
  std::string line;
  for (int step = 0; step < 3 && std::getline(log, line); ++step) {
    for (const char* which : {"loss_d", "loss_g"}) {
      const auto p = line.find(std::string("\"") + which + "\":");
      ASSERT_NE(p, std::string::npos);
      const double ours = std::strtod(line.c_str() + p + std::strlen(which) + 3, nullptr);
      const double theirs = io::to_f64(golden.tensors.at(std::string("f64.") + which + ".step" + std::to_string(step)))[0];
      EXPECT_NEAR(ours, theirs, 1e-8 * std::abs(theirs)) << which << " step " << step;  // the log prints 9 digits
    }
  }
}

// In f32: the first step's losses within 1e-4, and the updated weights off
// PyTorch's f64 ones (in sign of the update, which is what Adam's first step
// is made of) no more often than PyTorch's own f32 run is.
void check_first_step_f32(const std::string& backend) {
  TempDir t;
  const auto golden = io::read_safetensors((kGolden / "train_golden.safetensors").string());
  const std::string cmd = "train --data " + (fs::path(RG_SOURCE_DIR) / "tests/data/train_images").string() +
                          " --size 32 --width 0.25 --batch 4 --seed 9 --no-augment --no-shuffle --log-every 1 --backend " +
                          backend + " --init-g " + (kGolden / "train_init_G.safetensors").string() + " --init-d " +
                          (kGolden / "train_init_D.safetensors").string() + " --steps 1 --out " + (t.path / "run").string();
  auto r = ralsgan(cmd, t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream log(t.path / "run" / "log.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  for (const char* which : {"loss_d", "loss_g"}) {
    const auto p = line.find(std::string("\"") + which + "\":");
    const double ours = std::strtod(line.c_str() + p + std::strlen(which) + 3, nullptr);
    const double theirs = io::to_f64(golden.tensors.at(std::string("f32.") + which + ".step0"))[0];
    EXPECT_LT(std::abs(ours - theirs), 1e-4 * std::abs(theirs)) << which;
  }
  const auto init_g = io::read_safetensors((kGolden / "train_init_G.safetensors").string());
  const auto init_d = io::read_safetensors((kGolden / "train_init_D.safetensors").string());
  size_t ours_off = 0, theirs_off = 0, total = 0;
  for (const char* net : {"G", "D"}) {
    const bool is_g = std::string(net) == "G";
    const auto ours = io::read_safetensors(
        (t.path / "run" / "checkpoint" / (is_g ? "generator.safetensors" : "discriminator.safetensors")).string());
    for (const auto& [key, tensor] : ours.tensors) {
      if (key.find("num_batches") != std::string::npos) continue;
      const auto init = io::to_f64((is_g ? init_g : init_d).tensors.at(key));
      const auto mine = io::to_f64(tensor);
      const auto ref = io::to_f64(golden.tensors.at(std::string("f64.after0.") + net + "." + key));
      const auto their32 = io::to_f64(golden.tensors.at(std::string("f32.after0.") + net + "." + key));
      const bool running = key.find("running") != std::string::npos;
      for (size_t i = 0; i < mine.size(); ++i) {
        ++total;
        if (running) {  // running statistics are no Adam update: compare values
          ours_off += std::abs(mine[i] - ref[i]) > 1e-5 * std::max(1.0, std::abs(ref[i]));
          theirs_off += std::abs(their32[i] - ref[i]) > 1e-5 * std::max(1.0, std::abs(ref[i]));
          continue;
        }
        const auto sign = [](double d) { return (d > 0) - (d < 0); };
        ours_off += sign(mine[i] - init[i]) != sign(ref[i] - init[i]) ||
                    std::abs((mine[i] - init[i]) - (ref[i] - init[i])) > 1e-3 * std::abs(ref[i] - init[i]);
        theirs_off += sign(their32[i] - init[i]) != sign(ref[i] - init[i]) ||
                      std::abs((their32[i] - init[i]) - (ref[i] - init[i])) > 1e-3 * std::abs(ref[i] - init[i]);
      }
    }
  }
  std::cout << backend << ": updated weights off PyTorch f64: ours " << ours_off << ", PyTorch f32 " << theirs_off
            << " of " << total << "\n";
  EXPECT_LE(ours_off, theirs_off + total / 10000) << "off by more than 0.1% of the update, or in sign";
}

TEST(GoldenApp, FirstTrainingStepInF32IsAsCloseAsPyTorchsOwnF32Ref) { check_first_step_f32("ref"); }

}  // namespace
}  // namespace rg

namespace rg {
namespace {
// The same jobs on the oneDNN backend (`--backend cpu`), when this build has it.
#if RALSGAN_HAVE_ONEDNN
TEST(GoldenApp, GeneratedPngsMatchPyTorchWithinOnePerPixelCpu) { check_generation_against_pytorch("cpu"); }
TEST(GoldenApp, FirstTrainingStepInF32IsAsCloseAsPyTorchsOwnF32Cpu) { check_first_step_f32("cpu"); }
#endif
}  // namespace
}  // namespace rg
