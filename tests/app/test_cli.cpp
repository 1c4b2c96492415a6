// SPDX-License-Identifier: Apache-2.0
// The ralsgan command line end to end (docs/contracts.md §1, §4, §5): exit codes and
// messages, checkpoints, resume exactness and byte-identical generation.
#include <gtest/gtest.h>

#include "apps/data/decode.h"
#include "rg/config.h"
#if RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#include "apps/ralsgan/checkpoint_unit.h"
#include "apps/ralsgan/train_log.h"
#include "rg/safetensors.h"
#include "tests/app/cli_harness.h"
#include "tests/app/json_check.h"
#include "tests/app/zip_reader.h"

namespace rg {
namespace {

using testing_cli::make_image_folder;
using testing_cli::ralsgan;
using testing_cli::read_bytes;
using testing_cli::TempDir;
namespace fs = std::filesystem;

// A tiny model and data set every test can train in a second on the ref backend.
const std::string kTiny = " --size 32 --width 0.125 --nz 16 --batch 4 --no-augment --backend ref --log-every 1";

// --version: the version of CMake's project(), the commit when built from a
// checkout, and each backend with the library versions it runs.
TEST(Cli, VersionNamesTheBuildAndItsBackends) {
  TempDir t;
  ASSERT_EQ(ralsgan("--version", t.path).code, 0);
  const std::string out = testing_cli::read_text(t.path / "stdout.txt");
  EXPECT_EQ(out.rfind(std::string("ralsgan ") + RG_VERSION, 0), 0u) << out;
  EXPECT_NE(out.find("\nbackend ref: "), std::string::npos) << out;
#if RALSGAN_HAVE_ONEDNN
  EXPECT_NE(out.find("\nbackend cpu: oneDNN " + rg::onednn_version()), std::string::npos) << out;
#endif
  EXPECT_NE(out.find("\nbackend cuda: "), std::string::npos) << out;
}

TEST(Cli, UsageErrorsExitTwoWithOneClearLine) {
  TempDir t;
  auto r = ralsgan("train --data x --out y --bogus", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown flag --bogus"), std::string::npos) << r.err;
  r = ralsgan("generate --checkpoint c --out o --count many", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--count must be a non-negative integer, got 'many'"), std::string::npos) << r.err;
  r = ralsgan("train --data x --out y --size 100", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--size must be 32, 64, 128 or 256"), std::string::npos) << r.err;
  r = ralsgan("train --out y", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--data is required"), std::string::npos) << r.err;
  r = ralsgan("frobnicate", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = ralsgan("generate --checkpoint c --out o --backend tpu", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--backend must be auto, cuda, cpu or ref"), std::string::npos) << r.err;
  r = ralsgan("generate --checkpoint c --out o --cuda-math fp16", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--cuda-math must be f32, tf32 or bf16, got 'fp16'"), std::string::npos) << r.err;
  r = ralsgan("train --data x --out y --diffaugment color,zoom", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--diffaugment: 'zoom' is not one of color, translation, cutout"),
            std::string::npos)
      << r.err;
  r = ralsgan("train --data x --out y --recipe fancy", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--recipe must be seed or improved, got 'fancy'"), std::string::npos)
      << r.err;
  r = ralsgan("train --data x --out y --metrics-every 10 --metrics swd,fid", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--metrics fid or kid needs --inception FILE"), std::string::npos) << r.err;
  r = ralsgan("generate --checkpoint c --out o --weights best", t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--weights must be ema or raw, got 'best'"), std::string::npos) << r.err;
  EXPECT_EQ(ralsgan("", t.path).code, 2);
  for (const char* cmd : {"preprocess", "train", "generate", "eval", "inspect", "demo"}) {
    r = ralsgan(std::string(cmd) + " --help", t.path);
    EXPECT_EQ(r.code, 0) << cmd;
  }
  // --help says which CUDA arithmetic matches PyTorch's defaults.
  r = ralsgan("train --help", t.path);
  ASSERT_EQ(r.code, 0);
  const std::vector<uint8_t> out = read_bytes(t.path / "stdout.txt");
  const std::string help(out.begin(), out.end());
  EXPECT_NE(help.find("--cuda-math"), std::string::npos) << help;
  EXPECT_NE(help.find("PyTorch's default for cuDNN convolutions"), std::string::npos) << help;
}

// --cuda-math on a CPU backend: a note, and the run is the plain f32 run (the
// checkpoint says which backend and arithmetic trained it).
TEST(Cli, CudaMathOnACpuBackendIsANoteAndChangesNothing) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 1);
  const std::string data = " --data " + (t.path / "imgs").string();
  ASSERT_EQ(ralsgan("train" + data + " --out " + (t.path / "a").string() + kTiny + " --steps 2", t.path).code, 0);
  const auto r = ralsgan("train" + data + " --out " + (t.path / "b").string() + kTiny + " --steps 2 --cuda-math bf16", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("note: --cuda-math bf16 applies to the cuda backend only"), std::string::npos) << r.err;
  for (const char* f : {"generator.safetensors", "discriminator.safetensors"})
    EXPECT_EQ(read_bytes(t.path / "a" / "checkpoint" / f), read_bytes(t.path / "b" / "checkpoint" / f)) << f;
  const auto state = io::read_safetensors((t.path / "b" / "checkpoint" / "train_state.safetensors").string());
  EXPECT_EQ(state.metadata.at("backend"), "ref");
  EXPECT_EQ(state.metadata.at("math"), "f32");
}

TEST(Cli, MissingAndCorruptCheckpointsExitOneNamingTheFile) {
  TempDir t;
  auto r = ralsgan("generate --checkpoint " + (t.path / "nope").string() + " --out " + (t.path / "o").string() + " --backend ref", t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find((t.path / "nope").string()), std::string::npos) << r.err;
  const fs::path bad = t.path / "bad.safetensors";
  std::ofstream(bad) << "this is not a safetensors file at all";
  r = ralsgan("generate --checkpoint " + bad.string() + " --out " + (t.path / "o").string() + " --backend ref", t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(bad.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t.path / "o" / "image_00000.png"));
}

TEST(Cli, TensorOfTheWrongShapeIsNamedWithExpectedAndFound) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 1);
  const fs::path run = t.path / "run";
  ASSERT_EQ(ralsgan("train --data " + (t.path / "imgs").string() + " --out " + run.string() + kTiny + " --steps 1", t.path).code, 0);
  io::SafetensorsContents g = io::read_safetensors((run / "checkpoint" / "generator.safetensors").string());
  io::TensorData& w = g.tensors.at("model.3.weight");
  w.shape = {w.shape[1], w.shape[0], w.shape[2], w.shape[3]};  // swap in and out channels
  g.metadata.erase("crc32");  // as a file from elsewhere (PyTorch) has none: the shapes are what is checked
  const fs::path broken = t.path / "broken.safetensors";
  io::write_safetensors(broken.string(), g);
  auto r = ralsgan("generate --checkpoint " + broken.string() + " --out " + (t.path / "o").string() + " --backend ref", t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("tensor 'model.3.weight' has shape"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected"), std::string::npos) << r.err;
  // --init-g of another model's weights: the same message.
  r = ralsgan("train --data " + (t.path / "imgs").string() + " --out " + (t.path / "run2").string() + kTiny +
                  " --steps 1 --init-g " + broken.string(), t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.3.weight"), std::string::npos) << r.err;
}

TEST(Cli, EmptyDatasetExitsOne) {
  TempDir t;
  fs::create_directories(t.path / "empty");
  auto r = ralsgan("train --data " + (t.path / "empty").string() + " --out " + (t.path / "run").string() + kTiny, t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find((t.path / "empty").string()), std::string::npos) << r.err;
  r = ralsgan("train --data " + (t.path / "missing").string() + " --out " + (t.path / "run").string() + kTiny, t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such file or folder"), std::string::npos) << r.err;
}

// Without relying on permissions (CI runs as root, who ignores them): a file
// where a folder is expected, and a file size limit for a disk that fills.
TEST(Cli, UnwritableOutputExitsOneAndKeepsTheCheckpoint) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 2);
  const std::string data = " --data " + (t.path / "imgs").string();
  const fs::path run = t.path / "run";
  ASSERT_EQ(ralsgan("train" + data + " --out " + run.string() + kTiny + " --steps 2", t.path).code, 0);
  const fs::path ckpt = run / "checkpoint";
  std::vector<std::vector<uint8_t>> before;
  for (const char* f : {"generator.safetensors", "discriminator.safetensors", "train_state.safetensors"})
    before.push_back(read_bytes(ckpt / f));

  // The run folder under a regular file.
  std::ofstream(t.path / "a_file") << "x";
  auto r = ralsgan("train" + data + " --out " + (t.path / "a_file" / "run").string() + kTiny + " --steps 1", t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot use " + (t.path / "a_file" / "run").string() + " as a run folder"), std::string::npos)
      << r.err;

  // The next checkpoint cannot be written (no file may grow past half the
  // generator's size; no sample grid comes first): exit 1 naming it, and the
  // one in place stays whole.
  const std::string limit = "prlimit --fsize=" + std::to_string(before[0].size() / 2);
  r = ralsgan("train" + data + " --out " + run.string() + kTiny + " --steps 2 --resume --sample-every 0", t.path, limit);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write the checkpoint " + ckpt.string() + ": "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  int k = 0;
  for (const char* f : {"generator.safetensors", "discriminator.safetensors", "train_state.safetensors"})
    EXPECT_EQ(read_bytes(ckpt / f), before[size_t(k++)]) << f;
  EXPECT_EQ(app::read_checkpoint(ckpt).step, 2u);
  EXPECT_TRUE(testing_cli::temporaries_under(run).empty());
  r = ralsgan("train" + data + " --out " + run.string() + kTiny + " --steps 2 --resume", t.path);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(app::read_checkpoint(ckpt).step, 4u);

  // generate from that run into a folder under a regular file: the output is what fails.
  r = ralsgan("generate --checkpoint " + run.string() + " --backend ref --count 1 --out " +
                  (t.path / "a_file" / "o").string(),
              t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot create the output folder " + (t.path / "a_file" / "o").string()), std::string::npos)
      << r.err;
}

// Five steps in one run and 2 + 3 with a resume give the same bytes: weights,
// BN statistics, Adam moments, counters, the data order and augmentation.
void check_resume_is_bit_identical(const std::string& backend, const std::string& recipe = "") {
  TempDir t;
  make_image_folder(t.path / "imgs", 12, 32, 3);
  const std::string data = " --data " + (t.path / "imgs").string();
  // augment + shuffle on
  const std::string opts =
      " --size 32 --width 0.125 --nz 16 --batch 4 --backend " + backend + " --seed 5" + recipe;
  ASSERT_EQ(ralsgan("train" + data + " --out " + (t.path / "one").string() + opts + " --steps 5", t.path).code, 0);
  ASSERT_EQ(ralsgan("train" + data + " --out " + (t.path / "two").string() + opts + " --steps 2", t.path).code, 0);
  auto r = ralsgan("train" + data + " --out " + (t.path / "two").string() + opts + " --steps 3 --resume", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"generator.safetensors", "discriminator.safetensors", "train_state.safetensors"})
    EXPECT_EQ(read_bytes(t.path / "one" / "checkpoint" / f), read_bytes(t.path / "two" / "checkpoint" / f)) << f;
  const fs::path ema = t.path / "one" / "checkpoint" / "generator_ema.safetensors";
  EXPECT_EQ(fs::exists(ema), !recipe.empty());
  // The seed's recipe writes the train state of the runs before EMA and
  // DiffAugment existed: their options appear only when used.
  const auto state = io::read_safetensors((t.path / "one" / "checkpoint" / "train_state.safetensors").string());
  EXPECT_EQ(state.metadata.count("ema_kimg"), recipe.empty() ? 0u : 1u);
  if (!recipe.empty()) {
    EXPECT_EQ(read_bytes(ema),
              read_bytes(t.path / "two" / "checkpoint" / "generator_ema.safetensors"));
    // generate uses the moving average unless told --weights raw: other images.
    for (const char* w : {"ema", "raw"})
      ASSERT_EQ(
          ralsgan("generate --checkpoint " + (t.path / "one").string() +
                      " --backend ref --count 2 --out " + (t.path / w).string() + " --weights " + w,
                  t.path)
              .code,
          0);
    ASSERT_EQ(ralsgan("generate --checkpoint " + (t.path / "one").string() +
                          " --backend ref --count 2 --out " + (t.path / "auto").string(),
                      t.path)
                  .code,
              0);
    EXPECT_EQ(read_bytes(t.path / "auto" / "image_00000.png"),
              read_bytes(t.path / "ema" / "image_00000.png"));
    EXPECT_NE(read_bytes(t.path / "raw" / "image_00000.png"),
              read_bytes(t.path / "ema" / "image_00000.png"));
    // Resuming without the recipe is refused, naming what differs.
    r = ralsgan("train" + data + " --out " + (t.path / "two").string() +
                    " --size 32 --width 0.125 --nz 16 --batch 4 --seed 5 --backend " + backend +
                    " --steps 1 --resume",
                t.path);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("ema_kimg"), std::string::npos) << r.err;
  }
  // A resume with other options is refused, naming the option.
  r = ralsgan("train" + data + " --out " + (t.path / "two").string() + opts + " --steps 1 --resume --lr-g 1e-3", t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("lr_g"), std::string::npos) << r.err;
}

// --metrics-every: SWD of the moving-average generator's images in log.jsonl
// at the steps asked for and at the end, the best step's unit in RUN/best
// (naming its value), and a resume that keeps the logged values.
TEST(Cli, MetricsDuringTrainingAreLoggedAndTheBestUnitKept) {
  TempDir t;
  make_image_folder(t.path / "imgs", 12, 32, 3);
  const fs::path run = t.path / "run";
  const std::string args =
      "train --data " + (t.path / "imgs").string() + " --out " + run.string() +
      " --size 32 --width 0.125 --nz 16 --batch 4 --backend ref --seed 5 --recipe improved"
      " --metrics-every 2 --metrics-count 16 --sample-every 0";
  auto r = ralsgan(args + " --steps 3", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::pair<uint64_t, double>> swd;
  std::istringstream lines(testing_cli::read_text(run / "log.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    app::LogRecord rec;
    ASSERT_TRUE(app::parse_log_line(line, rec)) << line;
    if (!rec.metrics.empty()) {
      ASSERT_EQ(rec.metrics[0].first, "swd");
      swd.emplace_back(rec.step, rec.metrics[0].second);
    }
  }
  ASSERT_EQ(swd.size(), 2u);  // step 2, and the end (3)
  EXPECT_EQ(swd[0].first, 2u);
  EXPECT_EQ(swd[1].first, 3u);
  const auto best = std::min_element(swd.begin(), swd.end(),
                                     [](auto& a, auto& b) { return a.second < b.second; });
  const app::CheckpointUnit unit = app::read_checkpoint(run / "best");
  EXPECT_EQ(unit.step, best->first);
  EXPECT_EQ(unit.train_state.metadata.at("best_metric"), "swd");
  EXPECT_NEAR(std::stod(unit.train_state.metadata.at("best_value")), best->second,
              1e-6 * best->second);
  ASSERT_TRUE(unit.generator_ema.has_value());
  // Resumed to step 4: the lines up to step 3 stay as they were, with their values.
  const std::string before = testing_cli::read_text(run / "log.jsonl");
  r = ralsgan(args + " --steps 1 --resume", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(testing_cli::read_text(run / "log.jsonl").substr(0, before.size()), before);
}

TEST(Cli, ResumeContinuesBitIdentically) { check_resume_is_bit_identical("ref"); }
// With the moving-average generator (its own checkpoint file) and DiffAugment's draws.
TEST(Cli, ResumeWithEmaAndDiffAugmentContinuesBitIdentically) {
  check_resume_is_bit_identical("ref", " --recipe improved --ema-kimg 0.01");
}
#if RALSGAN_HAVE_ONEDNN
TEST(Cli, ResumeContinuesBitIdenticallyOnTheCpuBackend) { check_resume_is_bit_identical("cpu"); }
TEST(Cli, ResumeWithEmaAndDiffAugmentContinuesBitIdenticallyOnTheCpuBackend) {
  check_resume_is_bit_identical("cpu", " --recipe improved --ema-kimg 0.01");
}
#endif

#if RALSGAN_HAVE_ONEDNN
// The cpu step's values depend on the thread count and oneDNN's instruction
// set (its weight-gradient and batch-norm reductions split work by thread), so
// a resume on others is refused before training, naming both, unless
// --allow-inexact-resume, which the first log line after it records.
TEST(Cli, ResumeOnOtherThreadsOrInstructionSetIsRefusedOrNoted) {
  TempDir t;
  make_image_folder(t.path / "imgs", 12, 32, 3);
  const fs::path run = t.path / "run";
  const std::string train = "train --data " + (t.path / "imgs").string() + " --out " + run.string() +
                            " --size 32 --width 0.125 --nz 16 --batch 4 --backend cpu --seed 5";
  ASSERT_EQ(ralsgan(train + " --steps 2 --threads 1", t.path).code, 0);
  const auto state = read_bytes(run / "checkpoint" / "train_state.safetensors");
  auto r = ralsgan(train + " --steps 2 --threads 2 --resume", t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 thread(s), continued with cpu f32, "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 thread(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-inexact-resume"), std::string::npos) << r.err;
  EXPECT_EQ(read_bytes(run / "checkpoint" / "train_state.safetensors"), state) << "refused before training";
  // The same thread count resumes (bit-identity itself: ResumeContinuesBitIdenticallyOnTheCpuBackend).
  ASSERT_EQ(ralsgan(train + " --steps 1 --threads 1 --resume", t.path).code, 0);
  // Capped to AVX2 (where the CPU has more), the instruction set differs.
  r = ralsgan(train + " --steps 1 --threads 1 --resume", t.path, "DNNL_MAX_CPU_ISA=AVX2");
  if (r.code == 0) {
    std::cout << "[   NOTE   ] oneDNN runs AVX2 natively here: no other instruction set to resume on\n";
  } else {
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("continued with cpu f32, avx2, 1 thread(s)"), std::string::npos) << r.err;
  }
  r = ralsgan(train + " --steps 1 --threads 2 --resume --allow-inexact-resume", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("note: resumed at step"), std::string::npos) << r.err;
  const std::string log = testing_cli::read_text(run / "log.jsonl");
  const size_t note = log.find(",\"note\":\"resumed at step");
  ASSERT_NE(note, std::string::npos) << log;
  const size_t begin = log.rfind('\n', note) + 1, end = log.find('\n', note);
  EXPECT_TRUE(testing_json::valid_json(log.substr(begin, end - begin))) << log.substr(begin, end - begin);
  // From now on the run is on 2 threads: that resumes without a word, and the note stays in the log.
  ASSERT_EQ(ralsgan(train + " --steps 1 --threads 2 --resume", t.path).code, 0);
  EXPECT_NE(testing_cli::read_text(run / "log.jsonl").find("\"note\":\"resumed at step"), std::string::npos);
}
#endif

TEST(Cli, GeneratedPngsAreByteIdenticalAcrossBatchesThreadsAndShards) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 4);
  const fs::path run = t.path / "run";
  ASSERT_EQ(ralsgan("train --data " + (t.path / "imgs").string() + " --out " + run.string() + kTiny + " --steps 2", t.path).code, 0);
  const std::string ck = " --checkpoint " + run.string() + " --backend ref --seed 3";
  ASSERT_EQ(ralsgan("generate" + ck + " --count 10 --batch 4 --out " + (t.path / "a").string(), t.path).code, 0);
  ASSERT_EQ(ralsgan("generate" + ck + " --count 10 --batch 7 --threads 1 --out " + (t.path / "b").string(), t.path).code, 0);
  ASSERT_EQ(ralsgan("generate" + ck + " --count 6 --batch 4 --out " + (t.path / "c").string(), t.path).code, 0);
  ASSERT_EQ(ralsgan("generate" + ck + " --count 4 --start-index 6 --batch 3 --out " + (t.path / "c").string() + " --zip " +
                        (t.path / "c.zip").string(), t.path).code, 0);
  for (int i = 0; i < 10; ++i) {
    const std::string name = app::image_file_name(uint64_t(i));
    const auto a = read_bytes(t.path / "a" / name);
    ASSERT_GT(a.size(), 100u) << name;
    EXPECT_EQ(a, read_bytes(t.path / "b" / name)) << name;
    EXPECT_EQ(a, read_bytes(t.path / "c" / name)) << name;
  }
  // No temporary files are left behind; the archive holds the shard's PNGs.
  for (const auto& e : fs::directory_iterator(t.path / "a"))
    EXPECT_EQ(e.path().extension(), ".png") << e.path();
  // The archive, read as an unzip tool reads it (central directory, local
  // headers, CRCs): exactly the shard's four PNGs, in order, byte for byte.
  std::vector<std::string> order;
  std::map<std::string, std::vector<uint8_t>> entries;
  try {
    entries = testing_zip::read_zip(read_bytes(t.path / "c.zip"), &order);
  } catch (const std::exception& e) {
    FAIL() << "c.zip: " << e.what();
  }
  EXPECT_EQ(order, (std::vector<std::string>{"image_00006.png", "image_00007.png", "image_00008.png", "image_00009.png"}));
  for (const auto& [name, bytes] : entries) EXPECT_EQ(bytes, read_bytes(t.path / "c" / name)) << name;
  // Another seed gives other images.
  ASSERT_EQ(ralsgan("generate --checkpoint " + run.string() + " --backend ref --seed 4 --count 1 --out " + (t.path / "d").string(), t.path).code, 0);
  EXPECT_NE(read_bytes(t.path / "a" / "image_00000.png"), read_bytes(t.path / "d" / "image_00000.png"));
}

TEST(Cli, TrainWritesTheRunLayout) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 5);
  const fs::path run = t.path / "run";
  auto r = ralsgan("train --data " + (t.path / "imgs").string() + " --out " + run.string() + kTiny +
                       " --epochs 2 --checkpoint-every 1", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* p : {"checkpoint/generator.safetensors", "checkpoint/discriminator.safetensors",
                        "checkpoint/train_state.safetensors", "checkpoints/epoch_0001/generator.safetensors",
                        "checkpoints/epoch_0002/train_state.safetensors", "samples/latest.png", "samples/losses.png",
                        "log.jsonl"})
    EXPECT_TRUE(fs::exists(run / p)) << p;
  std::ifstream log(run / "log.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(log, line)) {
    ++lines;
    for (const char* k : {"\"step\":", "\"epoch\":", "\"loss_d\":", "\"loss_g\":", "\"c_real\":", "\"c_fake\":", "\"images_per_s\":"})
      EXPECT_NE(line.find(k), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 4);  // 2 epochs of 2 steps, one line per step
  const auto state = io::read_safetensors((run / "checkpoint" / "train_state.safetensors").string());
  EXPECT_EQ(state.metadata.at("step"), "4");
  EXPECT_EQ(io::to_f64(state.tensors.at("adam.G.step"))[0], 4.0);
  // PyTorch's state_dict names and counters: D's BN saw three batches per step.
  const auto d = io::read_safetensors((run / "checkpoint" / "discriminator.safetensors").string());
  EXPECT_EQ(io::to_f64(d.tensors.at("model.5.num_batches_tracked"))[0], 12.0);
}

}  // namespace
}  // namespace rg

namespace rg {
namespace {
#if RALSGAN_HAVE_ONEDNN
// The oneDNN backend too: the same bytes whatever the compiled batch, the
// thread count or the shard (docs/contracts.md §5).
TEST(Cli, CpuBackendPngsAreByteIdenticalAcrossBatchesThreadsAndShards) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 6);
  const fs::path run = t.path / "run";
  ASSERT_EQ(ralsgan("train --data " + (t.path / "imgs").string() + " --out " + run.string() +
                        " --size 32 --width 0.5 --nz 16 --batch 4 --no-augment --backend cpu --steps 2", t.path).code, 0);
  const std::string ck = " --checkpoint " + run.string() + " --backend cpu --seed 8";
  ASSERT_EQ(ralsgan("generate" + ck + " --count 12 --batch 8 --threads 2 --out " + (t.path / "a").string(), t.path).code, 0);
  ASSERT_EQ(ralsgan("generate" + ck + " --count 12 --batch 5 --threads 1 --out " + (t.path / "b").string(), t.path).code, 0);
  ASSERT_EQ(ralsgan("generate" + ck + " --count 7 --start-index 5 --batch 64 --out " + (t.path / "c").string(), t.path).code, 0);
  for (int i = 0; i < 12; ++i) {
    const std::string name = app::image_file_name(uint64_t(i));
    const auto a = read_bytes(t.path / "a" / name);
    ASSERT_GT(a.size(), 100u) << name;
    EXPECT_EQ(a, read_bytes(t.path / "b" / name)) << name;
    if (i >= 5) {
      EXPECT_EQ(a, read_bytes(t.path / "c" / name)) << name;
    }
  }
}
#endif
}  // namespace
}  // namespace rg

namespace rg {
namespace {
#if RALSGAN_HAVE_ONEDNN
// --cpu-math bf16 on a CPU without bf16 instructions: exit 2 before any work,
// naming what is missing and what oneDNN found. (.ci/run also runs this with
// DNNL_MAX_CPU_ISA=AVX2, where no CPU has them.)
TEST(Cli, CpuMathBf16NeedsBf16InstructionsOrSaysWhichAreMissing) {
  TempDir t;
  const fs::path gen = fs::path(RG_SOURCE_DIR) / "tests/data/golden/gen_G.safetensors";
  const std::string cmd = "generate --checkpoint " + gen.string() + " --count 4 --backend cpu --cpu-math bf16 --out ";
  const auto r = ralsgan(cmd + (t.path / "out").string(), t.path, "RG_ONEDNN_EMULATE_BF16=0");
  if (r.code == 0) {  // a CPU with bf16 instructions: the run works
    EXPECT_TRUE(fs::exists(t.path / "out" / "image_00003.png"));
    return;
  }
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--cpu-math bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX-BF16)"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("oneDNN's best instruction set here"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t.path / "out" / "image_00000.png"));
  EXPECT_EQ(ralsgan("generate --checkpoint " + gen.string() + " --cpu-math f16 --out x", t.path).code, 2);
}

// bf16 generation (emulated by oneDNN where the CPU lacks the instructions:
// same rounding of the operands) stays close to f32: 8-bit pixels within a
// few levels, most of them equal, and not all equal (bf16 really ran).
TEST(Cli, CpuMathBf16PngsStayCloseToF32) {
  TempDir t;
  const fs::path gen = fs::path(RG_SOURCE_DIR) / "tests/data/golden/gen_G.safetensors";
  const std::string cmd = "generate --checkpoint " + gen.string() + " --count 16 --backend cpu --seed 2 --out ";
  ASSERT_EQ(ralsgan(cmd + (t.path / "f32").string(), t.path).code, 0);
  const auto r = ralsgan(cmd + (t.path / "bf16").string() + " --cpu-math bf16", t.path, "RG_ONEDNN_EMULATE_BF16=1");
  if (r.code == 2) GTEST_SKIP() << "no bf16 on this CPU, not even oneDNN's AVX-512 emulation: " << r.err;
  ASSERT_EQ(r.code, 0) << r.err;
  int worst = 0;
  size_t differ = 0, total = 0;
  for (int i = 0; i < 16; ++i) {
    const auto a = data::decode_image_file(t.path / "f32" / app::image_file_name(uint64_t(i)));
    const auto b = data::decode_image_file(t.path / "bf16" / app::image_file_name(uint64_t(i)));
    ASSERT_TRUE(a.ok && b.ok);
    for (size_t k = 0; k < a.image.pixels.size(); ++k) {
      const int d = std::abs(int(a.image.pixels[k]) - int(b.image.pixels[k]));
      worst = std::max(worst, d);
      differ += d != 0;
      ++total;
    }
  }
  std::cout << "bf16 vs f32 PNGs: max difference " << worst << " levels, " << differ << " of " << total
            << " values differ\n";
  EXPECT_GT(differ, size_t(0));
  EXPECT_LE(worst, 8);
  EXPECT_LT(differ, total / 2);
}
#endif
}  // namespace
}  // namespace rg
