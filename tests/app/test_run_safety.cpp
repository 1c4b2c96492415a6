// SPDX-License-Identifier: Apache-2.0
// What a user meets when things go wrong: a run folder has one
// owner, every command stops cleanly on SIGINT/SIGTERM, no reader hangs on a
// FIFO, log.jsonl stays true, checkpoints are verified, temporary files are
// cleaned, and library messages come out as ours. Each test drives the real
// executable and checks what is left on disk.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "apps/data/decode.h"
#include "apps/model/dcgan.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/checkpoint_unit.h"
#include "rg/safetensors.h"
#include "tests/app/cli_harness.h"
#include "tests/app/json_check.h"

namespace rg {
namespace {

using namespace testing_cli;
namespace fs = std::filesystem;

// A tiny model every test trains in a fraction of a second on the reference
// backend; 8 images in batches of 4 make 2 steps an epoch.
const std::string kTinyModel =
    " --size 32 --width 0.125 --nz 16 --no-augment --backend ref --log-every 1";
const std::string kTiny = kTinyModel + " --batch 4";

struct Fixture {
  TempDir t;
  fs::path imgs = t.path / "imgs", run = t.path / "run";
  Fixture() { make_image_folder(imgs, 8, 32, 11); }
  std::string train(const std::string& more) const {
    return "train --data " + imgs.string() + " --out " + run.string() + kTiny + " " + more;
  }
  std::vector<uint8_t> ckpt(const char* file) const {
    return read_bytes(run / "checkpoint" / file);
  }
};

size_t line_count(const fs::path& p) {
  return read_lines(p).size();
}

// The reports of what `train` skipped while decoding a folder (beside its data-set cache).
std::vector<fs::path> build_reports(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "xdg-cache" / "ralsgan", ec))
    if (e.path().string().ends_with(".report.json")) files.push_back(e.path());
  return files;
}

// Their text, one after the other (for failure messages and text checks).
std::string build_report(const fs::path& dir) {
  std::string all;
  for (const fs::path& p : build_reports(dir)) all += read_text(p);
  return all;
}

// Why the build reports in `dir` say `file` was skipped ("" when they do not).
std::string skip_reason(const fs::path& dir, const std::string& file) {
  for (const fs::path& p : build_reports(dir)) {
    const nlohmann::json report = nlohmann::json::parse(read_text(p));
    for (const nlohmann::json& s : report["skipped"])
      if (s["path"] == file) return s["reason"];
  }
  return "";
}

uint64_t logged_step(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  return j.is_object() && j.contains("step") ? j["step"].get<uint64_t>() : 0;
}

// ---- A run folder has one owner ---------------------------------------------

TEST(RunFolder, TrainRefusesAFolderHoldingACheckpointUnlessToldToStartOver) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--epochs 2 --checkpoint-every 1"), f.t.path).code, 0);
  ASSERT_EQ(line_count(f.run / "log.jsonl"), 4u);
  const auto g = f.ckpt("generator.safetensors");

  // Without --resume: refused, and nothing of the run is touched.
  auto r = ralsgan(f.train("--epochs 2 --steps 1"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(f.run.string() + ": holds a checkpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--start-over"), std::string::npos) << r.err;
  EXPECT_EQ(line_count(f.run / "log.jsonl"), 4u);
  EXPECT_EQ(f.ckpt("generator.safetensors"), g);
  EXPECT_TRUE(fs::exists(f.run / "checkpoints" / "epoch_0002"));

  // Both flags: a usage error.
  EXPECT_EQ(ralsgan(f.train("--resume --start-over"), f.t.path).code, 2);

  // --start-over: the old run is gone, the new one is all there is.
  r = ralsgan(f.train("--epochs 2 --steps 1 --start-over"), f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(line_count(f.run / "log.jsonl"), 1u);
  EXPECT_FALSE(fs::exists(f.run / "checkpoints" / "epoch_0001"));
  EXPECT_EQ(app::read_checkpoint(f.run / "checkpoint").step, 1u);
}

TEST(RunFolder, ASecondTrainerOnTheSameFolderIsRefused) {
  Fixture f;
  const pid_t first =
      spawn(f.train("--epochs 100000 --sample-every 0 --checkpoint-every 0"), f.t.path);
  ASSERT_TRUE(wait_until([&] { return line_count(f.run / "log.jsonl") >= 2; }, 60))
      << read_text(f.t.path / "stderr.txt");
  TempDir other;  // its own stderr file
  auto r = ralsgan(f.train("--resume --steps 1"), other.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(f.run.string() +
                       ": in use by another ralsgan train (it holds a lock on the folder)"),
            std::string::npos)
      << r.err;
  // The lock is on the folder itself: no file of it to leave behind or to delete under the trainer.
  EXPECT_FALSE(fs::exists(f.run / "train.lock"));
  r = ralsgan(f.train("--resume --steps 1"), other.path);
  EXPECT_EQ(r.code, 1) << "refused every time while the first one runs";
  EXPECT_EQ(::kill(first, 0), 0) << "the first trainer must be untouched";
  ::kill(first, SIGTERM);
  EXPECT_EQ(wait_for(first, 30), 143);
  EXPECT_GE(app::read_checkpoint(f.run / "checkpoint").step, 2u);
}

// The lock is on the folder: a folder moved away under a trainer and made
// again is a new one, and the trainer stops at its next checkpoint instead of
// writing there.
TEST(RunFolder, ATrainerStopsWhenItsFolderIsReplaced) {
  Fixture f;
  const pid_t pid = spawn(f.train("--epochs 100000 --sample-every 0 --checkpoint-every 0"), f.t.path);
  ASSERT_TRUE(wait_until([&] { return line_count(f.run / "log.jsonl") >= 4; }, 60))  // a checkpoint at step 2
      << read_text(f.t.path / "stderr.txt");
  fs::rename(f.run, f.t.path / "moved");
  fs::create_directories(f.run);
  EXPECT_EQ(wait_for(pid, 60), 1);
  // Usually at the next checkpoint's check; a move in the middle of a publish
  // fails that publish instead (then only its temporaries can be left).
  const std::string err = read_text(f.t.path / "stderr.txt");
  EXPECT_TRUE(err.find("is no longer the run folder this trainer locked") != std::string::npos ||
              err.find("cannot write the checkpoint") != std::string::npos)
      << err;
  EXPECT_FALSE(fs::exists(f.run / "checkpoint")) << "no checkpoint published into the new folder";
  EXPECT_FALSE(fs::exists(f.run / "log.jsonl"));
  EXPECT_NO_THROW(app::read_checkpoint(f.t.path / "moved" / "checkpoint"));
}

// ---- Every command stops cleanly ----------------------------------------------

// SIGHUP (a closed terminal or ssh session) stops train like SIGTERM: a
// checkpoint of the last step, exit 129, no temporary left.
TEST(Signals, TrainStopsOnSighupWithACheckpoint) {
  Fixture f;
  const pid_t pid =
      spawn(f.train("--epochs 100000 --sample-every 0 --checkpoint-every 0"), f.t.path);
  ASSERT_TRUE(wait_until([&] { return line_count(f.run / "log.jsonl") >= 3; }, 60))
      << read_text(f.t.path / "stderr.txt");
  ::kill(pid, SIGHUP);
  EXPECT_EQ(wait_for(pid, 30), 129);
  const app::CheckpointUnit ck = app::read_checkpoint(f.run / "checkpoint");
  EXPECT_NE(read_text(f.t.path / "stderr.txt")
                .find("interrupted by SIGHUP after step " + std::to_string(ck.step)),
            std::string::npos)
      << read_text(f.t.path / "stderr.txt");
  EXPECT_TRUE(temporaries_under(f.run).empty());
}

TEST(Signals, TrainStopsOnSigtermWithACheckpointAndSaysWhere) {
  Fixture f;
  const pid_t pid =
      spawn(f.train("--epochs 100000 --sample-every 0 --checkpoint-every 0"), f.t.path);
  ASSERT_TRUE(wait_until([&] { return line_count(f.run / "log.jsonl") >= 3; }, 60))
      << read_text(f.t.path / "stderr.txt");
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  const int code = wait_for(pid, 30);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(code, 143);
  EXPECT_LT(secs, 3.0) << "a tiny step and one checkpoint take well under a second";
  const std::string err = read_text(f.t.path / "stderr.txt");
  const app::CheckpointUnit ck = app::read_checkpoint(f.run / "checkpoint");
  const auto lines = read_lines(f.run / "log.jsonl");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(logged_step(lines.back()), ck.step) << "the last logged step is the checkpoint's";
  EXPECT_NE(err.find("train: stopped at " + std::to_string(ck.step) + "/200000"), std::string::npos)
      << err;
  EXPECT_EQ(err.find("200000/200000"), std::string::npos) << err;
  EXPECT_NE(err.find("interrupted by SIGTERM after step " + std::to_string(ck.step)),
            std::string::npos)
      << err;
  const auto r =
      ralsgan(f.train("--epochs 100000 --sample-every 0 --checkpoint-every 0 --resume --steps 1"),
              f.t.path);
  EXPECT_EQ(r.code, 0) << r.err;
}

// A folder of `n` copies (hard links) of one 256-pixel PNG: decoding them all
// takes many seconds on one thread, so a signal always lands while decoding.
void make_slow_folder(const fs::path& dir, int n) {
  make_image_folder(dir, 1, 256, 3);
  for (int i = 1; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "img_%05d.png", i);
    fs::create_hard_link(dir / "img_000.png", dir / name);
  }
}

TEST(Signals, PreprocessAndTrainStopWhileDecodingAndWriteNothing) {
  TempDir t;
  make_slow_folder(t.path / "many", 20000);
  const fs::path cache = t.path / "out" / "many.rgcache";
  fs::create_directories(cache.parent_path());
  for (auto [cmd, sig] : {std::pair{"preprocess --threads 1 --size 32 --input " +
                                        (t.path / "many").string() + " --output " + cache.string(),
                                    SIGTERM},
                          {"train --threads 1 --data " + (t.path / "many").string() + " --out " +
                               (t.path / "run").string() + kTiny,
                           SIGINT}}) {
    const pid_t pid = spawn(cmd, t.path);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const auto t0 = std::chrono::steady_clock::now();
    ::kill(pid, sig);
    const int code = wait_for(pid, 30);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string err = read_text(t.path / "stderr.txt");
    EXPECT_EQ(code, 128 + sig) << cmd << "\n" << err;
    EXPECT_LT(secs, 1.5) << cmd;
    EXPECT_NE(err.find(sig == SIGINT ? "interrupted by SIGINT" : "interrupted by SIGTERM"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("nothing was written"), std::string::npos) << err;
  }
  // No half cache anywhere: not the asked-for one, not train's own, no temporaries.
  EXPECT_TRUE(fs::is_empty(cache.parent_path()));
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(t.path / "xdg-cache", ec))
    EXPECT_FALSE(e.is_regular_file()) << e.path();
  EXPECT_FALSE(fs::exists(t.path / "run" / "checkpoint"));
}

// A complete PNG ends with its IEND chunk.
bool whole_png(const fs::path& p) {
  const auto b = read_bytes(p);
  static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  return b.size() > 12 && std::equal(iend, iend + 12, b.end() - 12);
}

TEST(Signals, GenerateStopsOnSigintKeepingOnlyWholeImagesAndNoZip) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--steps 1"), f.t.path).code, 0);
  const fs::path out = f.t.path / "gen", zip = f.t.path / "gen.zip";
  const pid_t pid = spawn("generate --checkpoint " + f.run.string() +
                              " --backend ref --batch 16 --count 60000 --out " + out.string() +
                              " --zip " + zip.string(),
                          f.t.path);
  ASSERT_TRUE(wait_until([&] { return fs::exists(out / app::image_file_name(40)); }, 60));
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  const int code = wait_for(pid, 30);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.5);
  EXPECT_EQ(code, 130);
  const std::string err = read_text(f.t.path / "stderr.txt");
  const size_t at = err.find("interrupted by SIGINT: ");
  ASSERT_NE(at, std::string::npos) << err;
  const uint64_t kept = std::stoull(err.substr(at + 23));
  EXPECT_NE(err.find("whole images in " + out.string() + ", no ZIP written"), std::string::npos)
      << err;
  EXPECT_NE(err.find("generate: stopped at " + std::to_string(kept) + "/60000"), std::string::npos)
      << err;
  EXPECT_GT(kept, 40u);
  EXPECT_LT(kept, 60000u);
  // Images 0 .. kept-1 and nothing else, each whole; no ZIP, no temporaries.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    ++files;
    EXPECT_TRUE(whole_png(e.path())) << e.path();
  }
  EXPECT_EQ(files, kept);
  EXPECT_TRUE(fs::exists(out / app::image_file_name(kept - 1)));
  EXPECT_TRUE(data::decode_image_file(out / app::image_file_name(kept - 1)).ok);
  EXPECT_FALSE(fs::exists(zip));
  EXPECT_TRUE(temporaries_under(f.t.path).empty());
}

// ---- No reader blocks on a FIFO -------------------------------------------------

TEST(Readers, NoReaderBlocksOnAFifoOrOtherSpecialFile) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--steps 2"), f.t.path).code, 0);
  const fs::path fifo = f.t.path / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const std::string gen = "generate --backend ref --count 1 --out " + (f.t.path / "o").string();
  // Each reader, named a FIFO: a prompt exit 1 naming it (timeout's 124 would mean it hung).
  struct Case {
    std::string args;
    fs::path named;
  };
  std::vector<Case> cases = {
      {gen + " --checkpoint " + fifo.string(), fifo},
      {gen + " --checkpoint " + f.run.string() + " --latents " + fifo.string(), fifo},
      {"train --data " + fifo.string() + " --out " + (f.t.path / "r2").string() + kTiny, fifo},
      {"train --data " + f.imgs.string() + " --out " + (f.t.path / "r3").string() + kTiny +
           " --init-g " + fifo.string(),
       fifo},
      {"eval --metrics swd --real " + fifo.string() + " --fake " + f.imgs.string(), fifo},
  };
  for (const Case& c : cases) {
    const auto r = ralsgan(c.args, f.t.path, "timeout -k 5 60");
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.named.string()), std::string::npos) << c.args << "\n" << r.err;
  }
  // A FIFO in place of a checkpoint file or of the log: named, refused.
  for (const char* name :
       {"checkpoint/generator.safetensors", "checkpoint/train_state.safetensors", "log.jsonl"}) {
    const fs::path p = f.run / name;
    const fs::path saved = f.t.path / "saved";
    fs::rename(p, saved);
    ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0);
    auto r = ralsgan(f.train("--resume --steps 1"), f.t.path, "timeout -k 5 60");
    EXPECT_EQ(r.code, 1) << name << "\n" << r.err;
    EXPECT_NE(r.err.find(p.string() + ": not a regular file"), std::string::npos) << r.err;
    if (std::string(name) == "checkpoint/generator.safetensors") {
      r = ralsgan(gen + " --checkpoint " + f.run.string(), f.t.path, "timeout -k 5 60");
      EXPECT_EQ(r.code, 1) << r.err;
      EXPECT_NE(r.err.find(p.string() + ": not a regular file"), std::string::npos) << r.err;
    }
    fs::remove(p);
    fs::rename(saved, p);
  }
  // A FIFO among the images of a folder is skipped with its reason; the rest trains.
  ASSERT_EQ(::mkfifo((f.imgs / "zz_fifo.png").c_str(), 0644), 0);
  const auto r = ralsgan("train --data " + f.imgs.string() + " --out " +
                             (f.t.path / "r4").string() + kTiny + " --steps 1",
                         f.t.path, "timeout -k 5 60");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(skip_reason(f.t.path, "zz_fifo.png"), "not a regular file") << build_report(f.t.path);
}

// ---- log.jsonl stays true -------------------------------------------------------

std::string without_rate(const std::string& line) {
  return line.substr(0, line.find(",\"images_per_s\""));
}

// A whole log line that is not ours stops the resume, naming the line, and
// leaves the log as it was; a line of ours in a form that is not JSON (nan) is
// written again as JSON; lines past the checkpoint are dropped with a note.
TEST(Log, ResumeRefusesALineItCannotReadAndRewritesOursAsJson) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--epochs 3 --steps 3"), f.t.path).code,
            0);  // lines 1-3, checkpoint at 3
  auto lines = read_lines(f.run / "log.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  const std::string good = lines[1];
  lines[1] = good.substr(0, good.find(",\"c_real\"")) + ",\"c_real\":nan" +
             good.substr(good.find(",\"c_fake\""));
  {
    std::ofstream log(f.run / "log.jsonl", std::ios::trunc);
    log << lines[0] << "\n"
        << lines[1] << "\n"
        << "my own notes\n"
        << lines[2] << "\n";
  }
  const std::string before = testing_cli::read_text(f.run / "log.jsonl");
  auto r = ralsgan(f.train("--epochs 3 --resume"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(
      r.err.find((f.run / "log.jsonl").string() + ": line 3 is not a log line of ralsgan train"),
      std::string::npos)
      << r.err;
  EXPECT_EQ(testing_cli::read_text(f.run / "log.jsonl"), before);
  {
    std::ofstream log(f.run / "log.jsonl", std::ios::trunc);
    log << lines[0] << "\n"
        << lines[1] << "\n"
        << lines[2] << "\n"
        << lines[2].replace(8, 1, "4") << "\n";
  }
  r = ralsgan(f.train("--epochs 3 --resume"), f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("1 line(s) after the checkpoint's step 3 dropped"), std::string::npos)
      << r.err;
  for (const std::string& l : read_lines(f.run / "log.jsonl"))
    EXPECT_TRUE(testing_json::valid_json(l)) << l;
  EXPECT_EQ(read_lines(f.run / "log.jsonl").size(), 6u);
}

TEST(Log, ResumeCutsTheLogBackToTheCheckpointsStep) {
  Fixture f;
  TempDir ref;
  ASSERT_EQ(ralsgan("train --data " + f.imgs.string() + " --out " + (ref.path / "run").string() +
                        kTiny + " --epochs 3",
                    ref.path)
                .code,
            0);
  ASSERT_EQ(ralsgan(f.train("--epochs 3 --steps 3"), f.t.path).code, 0);  // checkpoint at step 3
  // What a run killed after step 5 leaves: lines past its checkpoint, the last one cut short.
  {
    std::ofstream log(f.run / "log.jsonl", std::ios::app);
    log << "{\"step\":4,\"epoch\":2,\"loss_d\":9,\"loss_g\":9,\"c_real\":0,\"c_fake\":0,\"images_"
           "per_s\":1}\n"
        << "{\"step\":5,\"epoch\":2.5,\"loss_d\":9,\"loss_g\":9,\"c_real\":0,\"c_fake\":0,\"images_"
           "per_s\":1}\n"
        << "{\"step\":6,\"epoch\":3,\"loss_d\":9,\"lo";
  }
  const auto r = ralsgan(f.train("--epochs 3 --resume"), f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto ours = read_lines(f.run / "log.jsonl"),
             theirs = read_lines(ref.path / "run" / "log.jsonl");
  ASSERT_EQ(ours.size(), 6u);
  ASSERT_EQ(theirs.size(), 6u);
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(logged_step(ours[i]), i + 1);
    EXPECT_EQ(without_rate(ours[i]), without_rate(theirs[i]));
    EXPECT_TRUE(testing_json::valid_json(ours[i])) << ours[i];
  }
}

TEST(Log, AFailedWriteIsAnErrorNamingTheLog) {
  Fixture f;
  // (A full disk was once /dev/full behind a symbolic link; the log is no
  // longer written through links, Refusals.SymlinkedLogAndDamagedCheckpointBeforeAnyWork.)
  fs::create_directories(f.run);
  fs::create_symlink("/dev/full", f.run / "log.jsonl");
  auto r = ralsgan(f.train("--steps 2"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find((f.run / "log.jsonl").string() + " is a symbolic link"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(f.run / "checkpoint"));
  // A file size limit (as root too) that the log reaches long before the
  // first epoch ends; every other file (stderr.txt too) stays below it.
  TempDir t2;
  make_image_folder(t2.path / "imgs", 128, 32, 4);
  const fs::path cache = t2.path / "imgs.rgcache", run2 = t2.path / "run";
  ASSERT_EQ(ralsgan("preprocess --size 32 --input " + (t2.path / "imgs").string() + " --output " +
                        cache.string(),
                    t2.path)
                .code,
            0);
  r = ralsgan(
      "train --data " + cache.string() + " --out " + run2.string() + kTinyModel + " --batch 2",
      t2.path, "prlimit --fsize=4096");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write " + (run2 / "log.jsonl").string() + ": File too large"),
            std::string::npos)
      << r.err;
  const auto lines = read_lines(run2 / "log.jsonl");
  EXPECT_GT(lines.size(), 20u);
  EXPECT_LT(lines.size(), 64u) << "the first epoch (64 steps) must not have ended";
  for (const auto& l : lines) EXPECT_TRUE(testing_json::valid_json(l)) << l;
}

// Rewrites a checkpoint file with one tensor changed, its checksum made to
// match: a checkpoint that verifies but holds what we put there.
void rewrite_with_checksum(const fs::path& file,
                           const std::function<void(io::SafetensorsContents&)>& change) {
  io::SafetensorsContents c = io::read_safetensors(file.string());
  change(c);
  c.metadata["crc32"] = app::crc32_text(app::contents_crc32(c));
  io::write_safetensors(file.string(), c);
}

TEST(Log, NonFiniteLossesStopTheRunKeepingTheLastGoodCheckpoint) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--epochs 4 --steps 2"), f.t.path).code, 0);
  // Adam's step counter at -1: the next update divides by 1 - 0.5^0 = 0, D
  // becomes NaN, and so does G's loss through it (docs/contracts.md §3).
  rewrite_with_checksum(f.run / "checkpoint" / "train_state.safetensors",
                        [](io::SafetensorsContents& c) {
                          io::TensorData& step = c.tensors.at("adam.D.step");
                          ASSERT_EQ(step.dtype, "I64");
                          const int64_t v = -1;
                          std::memcpy(step.bytes.data(), &v, 8);
                        });
  const fs::path saved = f.t.path / "saved";
  fs::copy(f.run, saved, fs::copy_options::recursive);
  const auto state = f.ckpt("train_state.safetensors"), gen = f.ckpt("generator.safetensors");

  auto r = ralsgan(f.train("--epochs 4 --resume"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("step 3: the losses are not finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("The last good checkpoint, of step 2, is kept in " +
                       (f.run / "checkpoint").string()),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--allow-nonfinite"), std::string::npos) << r.err;
  EXPECT_EQ(f.ckpt("train_state.safetensors"), state);
  EXPECT_EQ(f.ckpt("generator.safetensors"), gen);
  auto lines = read_lines(f.run / "log.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[2].find("\"loss_g\":null"), std::string::npos) << lines[2];
  for (const auto& l : lines) EXPECT_TRUE(testing_json::valid_json(l)) << l;

  // With --allow-nonfinite the run goes on to its end, every line still valid JSON.
  fs::remove_all(f.run);
  fs::rename(saved, f.run);
  r = ralsgan(f.train("--epochs 4 --resume --allow-nonfinite"), f.t.path);
  EXPECT_EQ(r.code, 0) << r.err;
  lines = read_lines(f.run / "log.jsonl");
  EXPECT_EQ(lines.size(), 8u);
  for (const auto& l : lines) EXPECT_TRUE(testing_json::valid_json(l)) << l;
  EXPECT_NE(lines.back().find("null"), std::string::npos) << lines.back();
}

// ---- Checkpoints are verified ----------------------------------------------------

TEST(Checkpoint, ABitFlipIsRefusedNamingTheFile) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--steps 2"), f.t.path).code, 0);
  for (const char* name :
       {"generator.safetensors", "discriminator.safetensors", "train_state.safetensors"}) {
    const fs::path p = f.run / "checkpoint" / name;
    const auto good = read_bytes(p);
    auto bad = good;
    bad[bad.size() - 7] ^= 0x10;  // one bit of the last tensor's data
    write_bytes(p, bad);
    auto r = ralsgan(f.train("--resume --steps 1"), f.t.path);
    EXPECT_EQ(r.code, 1) << name;
    EXPECT_NE(r.err.find(p.string() + ": checksum mismatch"), std::string::npos) << r.err;
    if (std::string(name) == "generator.safetensors") {
      r = ralsgan("generate --backend ref --count 1 --checkpoint " + f.run.string() + " --out " +
                      (f.t.path / "o").string(),
                  f.t.path);
      EXPECT_EQ(r.code, 1);
      EXPECT_NE(r.err.find(p.string() + ": checksum mismatch"), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(f.t.path / "o" / "image_00000.png"));
    }
    write_bytes(p, good);
  }
  EXPECT_EQ(ralsgan(f.train("--resume --steps 1"), f.t.path).code, 0);
}

TEST(Checkpoint, AMixedSetIsRefusedNamingTheFile) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--epochs 2 --checkpoint-every 1"), f.t.path).code,
            0);  // kept copy of step 2, newest 4
  for (const char* name : {"generator.safetensors", "discriminator.safetensors"}) {
    const fs::path p = f.run / "checkpoint" / name;
    const auto newest = read_bytes(p);
    fs::copy_file(f.run / "checkpoints" / "epoch_0001" / name, p,
                  fs::copy_options::overwrite_existing);
    const auto r = ralsgan(f.train("--epochs 3 --resume"), f.t.path);
    EXPECT_EQ(r.code, 1) << name;
    EXPECT_NE(
        r.err.find(p.string() +
                   ": is from step 2 but train_state.safetensors from step 4: a mixed checkpoint"),
        std::string::npos)
        << r.err;
    write_bytes(p, newest);
  }
  // Same step, other contents (another run's file): caught by the checksums the state keeps.
  Fixture other;
  ASSERT_EQ(ralsgan(other.train("--epochs 2 --seed 9"), other.t.path).code, 0);
  const fs::path p = f.run / "checkpoint" / "generator.safetensors";
  fs::copy_file(other.run / "checkpoint" / "generator.safetensors", p,
                fs::copy_options::overwrite_existing);
  const auto r = ralsgan(f.train("--epochs 3 --resume"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(p.string() + ": is not the file train_state.safetensors was saved with"),
            std::string::npos)
      << r.err;
}

TEST(Resume, ACopiedDataFolderWithTheSamePixelsResumesAndAChangedOneIsRefused) {
  Fixture f;
  TempDir ref;
  ASSERT_EQ(ralsgan("train --data " + f.imgs.string() + " --out " + (ref.path / "run").string() +
                        kTiny + " --steps 4",
                    ref.path)
                .code,
            0);
  ASSERT_EQ(ralsgan(f.train("--steps 2"), f.t.path).code, 0);
  const fs::path copy = f.t.path / "copy";
  fs::copy(f.imgs, copy);
  for (const auto& e : fs::directory_iterator(copy))
    fs::last_write_time(e.path(), fs::last_write_time(e.path()) + std::chrono::hours(5));
  auto r = ralsgan(
      "train --data " + copy.string() + " --out " + f.run.string() + kTiny + " --steps 2 --resume",
      f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* name :
       {"generator.safetensors", "discriminator.safetensors", "train_state.safetensors"})
    EXPECT_EQ(f.ckpt(name), read_bytes(ref.path / "run" / "checkpoint" / name)) << name;
  // One image changed: another data set.
  make_image_folder(f.t.path / "other", 1, 32, 99);
  fs::copy_file(f.t.path / "other" / "img_000.png", copy / "img_003.png",
                fs::copy_options::overwrite_existing);
  r = ralsgan(
      "train --data " + copy.string() + " --out " + f.run.string() + kTiny + " --steps 1 --resume",
      f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the run was started with dataset_crc32 = "), std::string::npos) << r.err;
}

// ---- Temporary files of killed runs ----------------------------------------------

TEST(Temporaries, ThoseOfKilledRunsAreRemovedAtTheNextStart) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--epochs 2 --checkpoint-every 1"), f.t.path).code, 0);
  const std::string dead = "99999999";  // above any pid_max: no such process
  const std::vector<fs::path> planted = {
      f.run / "checkpoint" /
          "generator.safetensors.rgtmp-a1b2c3",  // the safetensors writer's, in place
      f.run / ("log.jsonl.rgtmp-" + dead),
      f.run / "samples" / ("latest.png.rgtmp-" + dead),
      f.run / "checkpoints" / "epoch_0001" / ("train_state.safetensors.rgtmp-" + dead),
  };
  for (const fs::path& p : planted) std::ofstream(p) << "half";
  const std::vector<fs::path> planted_dirs = {f.run / ("checkpoint.rgtmp-" + dead),
                                              f.run / "checkpoints" / ("epoch_0003.rgtmp-" + dead)};
  for (const fs::path& d : planted_dirs) {
    fs::create_directories(d);
    std::ofstream(d / "generator.safetensors") << "half";
  }
  // A user's files with names like ours (no ".rgtmp-<pid>" suffix) stay, byte for byte.
  const std::vector<fs::path> foreign = {f.run / "thesis.tmp-1.docx", f.run / ("notes.tmp-" + dead),
                                         f.run / "samples" / "draft.tmp-old.png",
                                         f.run / "photos.tmp-backup" / "a.txt"};
  for (const fs::path& p : foreign) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "user's " << p.filename().string();
  }
  ASSERT_EQ(ralsgan(f.train("--epochs 3 --checkpoint-every 1 --resume"), f.t.path).code, 0);
  EXPECT_TRUE(temporaries_under(f.run).empty()) << temporaries_under(f.run)[0];
  for (const fs::path& p : foreign) {
    std::ifstream in(p);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "user's " + p.filename().string()) << p;
  }
  // A kept copy holds its three files and verifies, never just a temporary.
  for (const char* kept : {"epoch_0001", "epoch_0002", "epoch_0003"})
    EXPECT_NO_THROW(app::read_checkpoint(f.run / "checkpoints" / kept)) << kept;

  // generate: the temporaries of dead writers go; those of a running shard stay.
  const fs::path out = f.t.path / "gen", zip = f.t.path / "gen.zip";
  fs::create_directories(out);
  const fs::path stale = out / ("image_00007.png.rgtmp-" + dead),
                 live = out / ("image_00900.png.rgtmp-" + std::to_string(::getpid()));
  const fs::path stale_zip = f.t.path / ("gen.zip.rgtmp-" + dead),
                 other_file = f.t.path / ("notes.rgtmp-" + dead);
  for (const fs::path& p : {stale, live, stale_zip, other_file}) std::ofstream(p) << "half";
  const auto r = ralsgan("generate --backend ref --count 2 --checkpoint " + f.run.string() +
                             " --out " + out.string() + " --zip " + zip.string(),
                         f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(stale_zip));
  EXPECT_TRUE(fs::exists(live)) << "a running shard's file";
  EXPECT_TRUE(fs::exists(other_file)) << "not ours";
}

// A reported failure, reproduced: a train that fails at once (no such data) in a
// folder of the user's, with names that look temporary, touches none of them
// and leaves nothing of its own (no lock file).
TEST(Temporaries, AFailedTrainLeavesTheUsersFilesAsTheyWere) {
  Fixture f;
  const fs::path u = f.t.path / "u";
  const std::vector<fs::path> files = {u / "photos.tmp-backup" / "a.txt", u / "thesis.tmp-1.docx",
                                       u / "samples" / "draft.tmp-old.png", u / "keep.tmp-1"};
  for (const fs::path& p : files) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "user's " << p.filename().string();
  }
  const auto r = ralsgan("train --data " + (f.t.path / "nonexistent").string() + " --out " +
                             u.string() + kTiny + " --epochs 1",
                         f.t.path);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("nonexistent"), std::string::npos) << r.err;
  for (const fs::path& p : files) {
    std::ifstream in(p);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "user's " + p.filename().string()) << p;
  }
  EXPECT_FALSE(fs::exists(u / "train.lock"));
}

// More of the reported failures: each refused before any work, and the
// user's files as they were.
TEST(Refusals, UserFilesAndImpossibleOptionsAreRefusedUpFront) {
  Fixture f;
  const std::string data = " --data " + f.imgs.string();
  // A run folder inside the data folder: its samples would become training images.
  auto r = ralsgan("train" + data + " --out " + (f.imgs / "run").string() + kTiny + " --steps 1",
                   f.t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is inside the data folder"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(f.imgs / "run"));
  // Values no run can use.
  r = ralsgan("train" + data + " --out " + f.run.string() + kTiny + " --steps 1 --lr-g 1e-400",
              f.t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--lr-g 1e-400 is too small"), std::string::npos) << r.err;
  r = ralsgan(
      "train" + data + " --out " + f.run.string() +
          " --size 32 --width 0.125 --nz 16 --batch 4 --backend cpu --steps 1 --precision f64",
      f.t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--precision f64 needs --backend ref"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(f.run)) << "refused before the run folder is made";
  // preprocess --output naming one of the user's images.
  const fs::path image = f.imgs / fs::directory_iterator(f.imgs)->path().filename();
  const auto before = read_bytes(image);
  r = ralsgan("preprocess --size 32 --input " + f.imgs.string() + " --output " + image.string(),
              f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("exists and is not a ralsgan dataset cache"), std::string::npos) << r.err;
  EXPECT_EQ(read_bytes(image), before);
  // generate --zip naming the --out folder: refused before any image.
  r = ralsgan("generate --backend ref --count 2 --checkpoint " + (f.t.path / "none").string() +
                  " --out " + (f.t.path / "same").string() + " --zip " +
                  (f.t.path / "same").string(),
              f.t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("names the --out folder"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(f.t.path / "same"));
  // --init-g with a NaN weight.
  ASSERT_EQ(
      ralsgan("train" + data + " --out " + f.run.string() + kTiny + " --steps 1", f.t.path).code,
      0);
  io::SafetensorsContents g =
      io::read_safetensors((f.run / "checkpoint" / "generator.safetensors").string());
  io::TensorData& w = g.tensors.begin()->second;
  ASSERT_EQ(w.dtype, "F32");
  const float nan = std::nanf("");
  std::memcpy(w.bytes.data(), &nan, 4);
  g.metadata.erase("crc32");
  const fs::path bad = f.t.path / "nan_g.safetensors";
  io::write_safetensors(bad.string(), g);
  r = ralsgan("train" + data + " --out " + (f.t.path / "run2").string() + kTiny +
                  " --steps 1 --init-g " + bad.string(),
              f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("tensor '" + g.tensors.begin()->first +
                       "' holds 1 value(s) that are NaN or infinite"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(f.t.path / "run2" / "checkpoint"));
}

// --start-over deletes only what train writes (RUN/checkpoint, epoch_NNNN
// copies, its sample pictures, log.jsonl); a checkpoints/ folder of the
// user's is no checkpoint, and their files beside the run's stay.
TEST(RunFolder, StartOverDeletesOnlyWhatTrainWrote) {
  Fixture f;
  // A folder holding only the user's checkpoints/ trains without --start-over.
  std::ofstream(
      (fs::create_directories(f.run / "checkpoints"), f.run / "checkpoints" / "notes.txt"))
      << "mine";
  auto r = ralsgan(f.train("--epochs 2 --checkpoint-every 1"), f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(f.run / "checkpoints" / "epoch_0001"));
  ASSERT_TRUE(fs::exists(f.run / "samples" / "grid_step_00000004.png"));
  const std::vector<fs::path> mine = {f.run / "checkpoints" / "notes.txt",
                                      f.run / "checkpoints" / "epoch_best" / "g.pt",
                                      f.run / "samples" / "draft.png", f.run / "my.txt"};
  for (const fs::path& p : mine) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "mine";
  }
  r = ralsgan(f.train("--steps 1 --start-over"), f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const fs::path& p : mine) EXPECT_EQ(testing_cli::read_text(p), "mine") << p;
  EXPECT_FALSE(fs::exists(f.run / "checkpoints" / "epoch_0002")) << "the run's kept copies go";
  EXPECT_FALSE(fs::exists(f.run / "samples" / "grid_step_00000004.png")) << "the run's pictures go";
  EXPECT_EQ(app::read_checkpoint(f.run / "checkpoint").step, 1u);
}

// export publishes model.rgplan and model.h as one set: when the header
// cannot be written (here a folder in its place), the old plan is put back.
TEST(Export, AFailedHeaderLeavesTheOldPlanNotANewOne) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--steps 1"), f.t.path).code, 0);
  const fs::path out = f.t.path / "model";
  ASSERT_EQ(
      ralsgan("export --checkpoint " + f.run.string() + " --out " + out.string(), f.t.path).code,
      0);
  const auto plan = read_bytes(out / "model.rgplan");
  ASSERT_EQ(ralsgan(f.train("--steps 1 --resume"), f.t.path).code,
            0);  // new weights, so a new plan
  fs::remove(out / "model.h");
  fs::create_directories(out / "model.h" / "x");
  const auto r =
      ralsgan("export --checkpoint " + f.run.string() + " --out " + out.string(), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write " + (out / "model.h").string()), std::string::npos) << r.err;
  EXPECT_EQ(read_bytes(out / "model.rgplan"), plan) << "the old plan, not the new one";
  EXPECT_TRUE(temporaries_under(out).empty());
  fs::remove_all(out / "model.h");
  ASSERT_EQ(
      ralsgan("export --checkpoint " + f.run.string() + " --out " + out.string(), f.t.path).code,
      0);
  EXPECT_NE(read_bytes(out / "model.rgplan"), plan);
}

// A log.jsonl that is a symbolic link is never written through; a damaged
// checkpoint is refused before the data set is decoded.
TEST(Refusals, SymlinkedLogAndDamagedCheckpointBeforeAnyWork) {
  Fixture f;
  const fs::path target = f.t.path / "precious.txt";
  std::ofstream(target) << "precious";
  fs::create_directories(f.run);
  fs::create_symlink(target, f.run / "log.jsonl");
  auto r = ralsgan(f.train("--steps 1"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("log.jsonl is a symbolic link"), std::string::npos) << r.err;
  EXPECT_EQ(testing_cli::read_text(target), "precious");
  fs::remove(f.run / "log.jsonl");
  ASSERT_EQ(ralsgan(f.train("--steps 1"), f.t.path).code, 0);
  {
    std::fstream g(f.run / "checkpoint" / "generator.safetensors",
                   std::ios::in | std::ios::out | std::ios::binary);
    g.seekp(-3, std::ios::end);
    g.put('\x7f');
  }
  r = ralsgan(f.train("--steps 1 --resume"), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("generator.safetensors"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("decode:"), std::string::npos) << "refused before decoding: " << r.err;
  EXPECT_EQ(r.err.find("data:"), std::string::npos) << "refused before loading the data: " << r.err;
}

// Foreign files in every folder a command writes to, with names like ours
// (temporary-looking, image-like), checked byte for byte after every command,
// on success and on failure: no command deletes, renames or truncates a file
// it did not create.
TEST(Temporaries, NoCommandTouchesAFileItDidNotCreate) {
  Fixture f;
  const fs::path gen = f.t.path / "gen", exp = f.t.path / "exp", caches = f.t.path / "caches";
  const std::vector<std::string> names = {"notes.tmp-1", "a.tmp-99999999",    "b.rgtmp-backups",
                                          "keep.old-1",  "image_x.png.tmp-1", "latest.png.bak",
                                          "epoch_1",     "x.rgtmp-1.txt"};
  std::vector<fs::path> seeded;
  for (const fs::path& d : {f.run, f.run / "samples", f.run / "checkpoints", gen, exp, caches})
    for (const std::string& n : names) {
      fs::create_directories(d);
      seeded.push_back(d / n);
      std::ofstream(d / n) << "user's " << (d / n).string();
    }
  auto check = [&](const std::string& after) {
    for (const fs::path& p : seeded)
      EXPECT_EQ(testing_cli::read_text(p), "user's " + p.string()) << after << ": " << p;
  };
  const std::string ck = " --checkpoint " + f.run.string();
  ASSERT_EQ(ralsgan(f.train("--epochs 2 --checkpoint-every 1"), f.t.path).code, 0);
  check("train");
  EXPECT_EQ(ralsgan(f.train("--epochs 2 --lr-g 2"), f.t.path).code, 2);
  check("train with a bad option");
  EXPECT_EQ(
      ralsgan("train --data " + (f.t.path / "none").string() + " --out " + f.run.string() + kTiny,
              f.t.path)
          .code,
      1);
  check("train with no data");
  ASSERT_EQ(ralsgan(f.train("--epochs 3 --resume"), f.t.path).code, 0);
  check("train --resume");
  ASSERT_EQ(ralsgan(f.train("--steps 1 --start-over"), f.t.path).code, 0);
  check("train --start-over");
  ASSERT_EQ(ralsgan("generate --backend ref --count 3" + ck + " --out " + gen.string() + " --zip " +
                        (gen / "all.zip").string(),
                    f.t.path)
                .code,
            0);
  check("generate");
  EXPECT_EQ(ralsgan("generate --backend ref --count 3 --checkpoint " +
                        (f.t.path / "none").string() + " --out " + gen.string(),
                    f.t.path)
                .code,
            1);
  check("generate without a checkpoint");
  ASSERT_EQ(ralsgan("export" + ck + " --out " + exp.string(), f.t.path).code, 0);
  check("export");
  ASSERT_EQ(ralsgan("preprocess --size 32 --input " + f.imgs.string() + " --output " +
                        (caches / "c.rgcache").string(),
                    f.t.path)
                .code,
            0);
  check("preprocess");
  EXPECT_EQ(ralsgan("preprocess --size 32 --input " + f.imgs.string() + " --output " +
                        (caches / "notes.tmp-1").string(),
                    f.t.path)
                .code,
            1);
  check("preprocess over a user's file");
}

// ---- generate checks what it can before any work ---------------------------------

TEST(Generate, ImpossibleOutputsFailBeforeAnyImage) {
  Fixture f;
  ASSERT_EQ(ralsgan(f.train("--steps 1"), f.t.path).code, 0);
  const fs::path out = f.t.path / "gen";
  const std::string gen =
      "generate --backend ref --checkpoint " + f.run.string() + " --out " + out.string();
  // Indices past 2^64 - 1 would wrap around to image_00000.png.
  auto r = ralsgan(gen + " --start-index 18446744073709551614 --count 3", f.t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(
                "--start-index 18446744073709551614 with --count 3 goes past the last image index"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));
  r = ralsgan(gen + " --start-index 18446744073709551614 --count 2",
              f.t.path);  // the last two indices: fine
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "image_18446744073709551615.png"));
  fs::remove_all(out);
  // A ZIP path that is a folder: refused before the first image, not after the last.
  fs::create_directories(f.t.path / "a.zip");
  r = ralsgan(gen + " --count 50 --zip " + (f.t.path / "a.zip").string(), f.t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write the ZIP " + (f.t.path / "a.zip").string()), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out / "image_00000.png"));
  r = ralsgan(gen + " --count 70000 --zip " + (f.t.path / "b.zip").string(), f.t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--zip holds at most 65535 images"), std::string::npos) << r.err;
}

// ---- Library messages become ours -------------------------------------------------

TEST(Messages, OutOfMemoryNamesTheSizeAskedForNotBadAlloc) {
  TempDir t;
  // A generator of size 128 and width 1/2 (zeros will do): a batch of 4096 needs gigabytes.
  const model::ModelConfig cfg{128, 0.5, 128};
  io::SafetensorsContents c;
  for (const model::ParamSpec& p : model::generator_params(cfg)) {
    const std::vector<int64_t> shape(p.shape.begin(), p.shape.end());
    if (p.dtype == DType::i64)
      c.tensors[p.key] = {"I64", shape, std::vector<std::byte>(size_t(numel(p.shape)) * 8)};
    else
      c.tensors[p.key] = io::from_f32(std::vector<float>(size_t(numel(p.shape)), 0.5f), shape);
  }
  const fs::path g = t.path / "g.safetensors";
  io::write_safetensors(g.string(), c);
  const std::string gen = "generate --backend ref --count 1 --checkpoint " + g.string() +
                          " --out " + (t.path / "o").string();
  const std::string limit = "prlimit --as=1500000000";
  auto r = ralsgan(gen + " --batch 1", t.path, limit);
  ASSERT_EQ(r.code, 0) << "the limit leaves room for a batch of 1: " << r.err;
  r = ralsgan(gen + " --batch 4096", t.path, limit);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("out of memory: generation (--batch 4096) needs "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(" MiB"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << r.err;
}

TEST(Messages, LibpngNeverReachesTheUser) {
  Fixture f;
  auto png = read_bytes(f.imgs / "img_000.png");
  write_bytes(f.imgs / "cut.png",
              std::vector<uint8_t>(png.begin(), png.begin() + long(png.size() / 2)));
  png[45] ^=
      0xff;  // inside the first IDAT (signature 8 + IHDR 25 + length and type 8): a CRC error
  write_bytes(f.imgs / "crc.png", png);
  const auto r = ralsgan(f.train("--steps 1"), f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("libpng"), std::string::npos) << r.err;
  const std::string report = build_report(f.t.path);
  EXPECT_EQ(skip_reason(f.t.path, "cut.png").rfind("PNG decode failed (corrupt or truncated): ", 0), 0u) << report;
  EXPECT_EQ(skip_reason(f.t.path, "crc.png").rfind("PNG decode failed (corrupt or truncated): IDAT: ", 0), 0u)
      << report;
}


// File names that are not UTF-8 (folders of messy photos from other systems)
// leave every JSON file valid: a folder and images named in Latin-1, one of
// them not an image, through preprocess, train into a run folder named in
// Latin-1, and generate --zip; every .json file and .jsonl line
// the run wrote is parsed with nlohmann-json (strict UTF-8 and JSON).
TEST(Json, NonUtf8FileNamesLeaveEveryJsonFileValid) {
  Fixture f;
  const fs::path latin1 = f.t.path / "caf\xe9-photos";  // "café" in Latin-1
  fs::create_directories(latin1);
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(f.imgs))
    fs::copy_file(e.path(), latin1 / ("pr\xeat-" + std::to_string(n++) + ".png"));
  write_bytes(latin1 / "notes-\xff\xfe.png", std::vector<uint8_t>{'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  const fs::path run = f.t.path / "r\xe9sultat";
  RunResult r = ralsgan("preprocess --input " + latin1.string() + " --output " + (f.t.path / "c.rgcache").string() +
                            " --size 32",
                        f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  r = ralsgan("train --data " + latin1.string() + " --out " + run.string() + kTiny + " --epochs 2", f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  r = ralsgan("generate --checkpoint " + run.string() + " --count 4 --out " + (run / "imgs").string() + " --zip " +
                  (run / "imgs.zip").string(),
              f.t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  size_t files = 0, lines = 0;
  for (const fs::path& root : {f.t.path, run})
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      const std::string name = e.path().filename().string();
      const bool jsonl = name.ends_with(".jsonl");
      if (!e.is_regular_file() || !(jsonl || name.ends_with(".json"))) continue;
      ++files;
      const std::string text = read_text(e.path());
      if (!jsonl) {
        EXPECT_TRUE(nlohmann::json::accept(text)) << e.path() << ":\n" << text.substr(0, 400);
        continue;
      }
      std::istringstream in(text);
      for (std::string line; std::getline(in, line); ++lines)
        EXPECT_TRUE(nlohmann::json::accept(line)) << e.path() << ": " << line;
    }
  EXPECT_GE(files, 2u);  // the data-set report and the log at least
  EXPECT_GE(lines, 2u);
  // The report names the file that is not an image, its bytes kept (escaped).
  const std::string report = build_report(f.t.path);
  EXPECT_NE(report.find("notes-\\\\xff\\\\xfe.png"), std::string::npos) << report.substr(0, 600);
}

}  // namespace
}  // namespace rg
