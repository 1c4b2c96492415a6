// SPDX-License-Identifier: Apache-2.0
// Crash tests: the trainer is killed at every step of writing and
// publishing a checkpoint (the RG_FAULT_INJECT hook), at every rename (strace
// fault injection), and at random times; each time `train --resume` must
// either finish bit-identically to a run that was never interrupted, or
// refuse, naming the file. And every writer meets a full disk (a file size
// limit, which binds root too) with an error naming its file and nothing half
// written left behind.
#include <gtest/gtest.h>

#include <random>

#include "apps/ralsgan/checkpoint_unit.h"
#include "tests/app/cli_harness.h"

namespace rg {
namespace {

using namespace testing_cli;
namespace fs = std::filesystem;

// 8 images in batches of 4: 2 steps an epoch. Three epochs: the checkpoint is
// published at steps 2, 4 and 6, and kept under checkpoints/epoch_0002 at
// step 4, so both the first publish and the replacing one are covered.
const std::string kOptions =
    " --size 32 --width 0.125 --nz 16 --batch 4 --backend ref --log-every 1 --seed 7 --epochs 3 "
    "--checkpoint-every 2";

struct Home {
  TempDir t;
  fs::path imgs = t.path / "imgs";
  Home() { make_image_folder(imgs, 8, 32, 21); }
  std::string train(const fs::path& run, const std::string& more = "") const {
    return "train --data " + imgs.string() + " --out " + run.string() + kOptions + more;
  }
};

std::string without_rate(const std::string& line) {
  return line.substr(0, line.find(",\"images_per_s\""));
}

// A run that was interrupted and resumed must end as the reference did, byte
// for byte: checkpoints, kept copies, samples and log (less its timings).
void expect_same_run(const fs::path& run, const fs::path& ref, const std::string& context) {
  for (const char* f :
       {"checkpoint/generator.safetensors", "checkpoint/discriminator.safetensors",
        "checkpoint/train_state.safetensors", "checkpoints/epoch_0002/generator.safetensors",
        "checkpoints/epoch_0002/discriminator.safetensors",
        "checkpoints/epoch_0002/train_state.safetensors", "samples/latest.png",
        "samples/losses.png"})
    EXPECT_EQ(read_bytes(run / f), read_bytes(ref / f)) << context << ": " << f;
  const auto a = read_lines(run / "log.jsonl"), b = read_lines(ref / "log.jsonl");
  EXPECT_EQ(a.size(), b.size()) << context;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    EXPECT_EQ(without_rate(a[i]), without_rate(b[i])) << context << ": log line " << i + 1;
  const auto left = temporaries_under(run);
  EXPECT_TRUE(left.empty()) << context << ": " << left.front();
}

// Whether the killed run left a checkpoint: published, or moved aside by the
// fallback publish (which the next start puts back).
bool left_a_checkpoint(const fs::path& run) {
  if (fs::exists(run / "checkpoint")) return true;
  std::error_code ec;  // killed before it made the folder: none
  for (const auto& e : fs::directory_iterator(run, ec))
    if (e.path().filename().string().rfind("checkpoint.old-", 0) == 0) return true;
  return false;
}

// After a kill: resume. Without a checkpoint, the refusal must name
// RUN/checkpoint, and a fresh start must then be allowed.
void resume_to_the_end(const Home& h, const fs::path& run, const std::string& context) {
  // A published kept copy alone (killed before RUN/checkpoint's first publish) resumes too.
  bool kept = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run / "checkpoints", ec))
    kept |= e.path().filename().string().size() == 10 &&
            e.path().filename().string().rfind("epoch_", 0) == 0;
  const bool had_checkpoint = left_a_checkpoint(run) || kept;
  auto r = ralsgan(h.train(run, " --resume"), h.t.path);
  if (had_checkpoint) {
    ASSERT_EQ(r.code, 0) << context << "\n" << r.err;
    return;
  }
  EXPECT_EQ(r.code, 1) << context;
  EXPECT_NE(r.err.find((run / "checkpoint").string() + ": no checkpoint here"), std::string::npos)
      << context << r.err;
  r = ralsgan(h.train(run), h.t.path);
  ASSERT_EQ(r.code, 0) << context << "\n" << r.err;
}

// Kills the trainer at each fault point of a run publishing with `mode`
// ("" or "no-exchange", RG_FAULT_INJECT); returns the number of points.
size_t kill_at_every_point(const Home& h, const std::string& mode) {
  const fs::path ref = h.t.path / "ref";
  EXPECT_EQ(ralsgan(h.train(ref), h.t.path).code, 0);
  const fs::path list = h.t.path / ("points" + mode + ".txt");
  const std::string extra = mode.empty() ? "" : "," + mode;
  EXPECT_EQ(ralsgan(h.train(h.t.path / ("listed" + mode)), h.t.path,
                    "RG_FAULT_INJECT=list:" + list.string() + extra)
                .code,
            0);
  const auto points = read_lines(list);
  for (size_t k = 1; k <= points.size(); ++k) {
    const fs::path run = h.t.path / ("run" + std::to_string(k));
    const std::string context =
        "killed at " + points[k - 1] + (mode.empty() ? "" : " (" + mode + ")");
    const auto r =
        ralsgan(h.train(run), h.t.path, "RG_FAULT_INJECT=kill:" + std::to_string(k) + extra);
    EXPECT_EQ(r.code, 128 + SIGKILL) << context << "\n" << r.err;
    resume_to_the_end(h, run, context);
    expect_same_run(run, ref, context);
    fs::remove_all(run);
  }
  return points.size();
}

TEST(Crash, KilledAtEveryCheckpointWriteAndPublishStepResumesBitIdentically) {
  Home h;
  // 4 units (steps 2, 4 kept, 4, 6) x (3 files x 3 points + staged + published)
  // + 2 replacements x removed the old.
  EXPECT_EQ(kill_at_every_point(h, ""), 46u);
}

// The window between the first kept copy and the first RUN/checkpoint (kept
// copies every epoch): killed at every point of publishing epoch_0001, the run
// resumes from that kept copy and ends as an uninterrupted one.
TEST(Crash, KilledBeforeTheFirstCheckpointButAfterItsKeptCopyResumesFromTheCopy) {
  Home h;
  auto train = [&](const fs::path& run, const std::string& more) {
    return "train --data " + h.imgs.string() + " --out " + run.string() +
           " --size 32 --width 0.125 --nz 16 --batch 4 --backend ref --log-every 1 --seed 7 "
           "--epochs 2 "
           "--checkpoint-every 1" +
           more;
  };
  const fs::path ref = h.t.path / "ref";
  ASSERT_EQ(ralsgan(train(ref, ""), h.t.path).code, 0);
  // Points 1-11 publish checkpoints/epoch_0001 (3 files x 3 points, staged, published); 12 on is
  // RUN/checkpoint.
  for (int k = 1; k <= 12; ++k) {
    const fs::path run = h.t.path / ("run" + std::to_string(k));
    const std::string context = "killed at point " + std::to_string(k);
    auto r = ralsgan(train(run, ""), h.t.path, "RG_FAULT_INJECT=kill:" + std::to_string(k));
    ASSERT_EQ(r.code, 128 + SIGKILL) << context << "\n" << r.err;
    const bool kept = fs::exists(run / "checkpoints" / "epoch_0001" / "train_state.safetensors");
    r = ralsgan(train(run, kept || fs::exists(run / "checkpoint") ? " --resume" : ""), h.t.path);
    ASSERT_EQ(r.code, 0) << context << "\n" << r.err;
    if (k <= 11) {
      EXPECT_EQ(kept, k == 11) << context << ": the kept copy exists once published";
    }
    for (const char* f : {"checkpoint/generator.safetensors", "checkpoint/train_state.safetensors",
                          "checkpoints/epoch_0001/train_state.safetensors",
                          "checkpoints/epoch_0002/generator.safetensors"})
      EXPECT_EQ(read_bytes(run / f), read_bytes(ref / f)) << context << ": " << f;
    EXPECT_TRUE(temporaries_under(run).empty()) << context;
    fs::remove_all(run);
  }
}

// Where the file system has no RENAME_EXCHANGE: the old unit steps aside
// first, so a replacement has one more point (moved aside).
TEST(Crash, KilledAtEveryStepOfThePublishWithoutExchangeResumesBitIdentically) {
  Home h;
  EXPECT_EQ(kill_at_every_point(h, "no-exchange"), 48u);
}

// The reported crash, at every rename: strace kills the trainer on entering
// the k-th rename (and, separately, the k-th renameat2) system call.
TEST(Crash, KilledAtEveryRenameByStraceResumesBitIdentically) {
  ASSERT_EQ(std::system("strace -V > /dev/null 2>&1"), 0)
      << "strace is needed (tools/setup.sh installs it)";
  Home h;
  const fs::path ref = h.t.path / "ref";
  ASSERT_EQ(ralsgan(h.train(ref), h.t.path).code, 0);
  for (const std::string call : {"rename", "renameat2"}) {
    int k = 1;
    for (;; ++k) {
      const fs::path run = h.t.path / (call + std::to_string(k));
      const std::string context = "killed at " + call + " number " + std::to_string(k);
      const auto r = ralsgan(h.train(run), h.t.path,
                             "strace -f -qq -o /dev/null -e trace=" + call + " -e inject=" + call +
                                 ":signal=KILL:when=" + std::to_string(k));
      if (r.code == 0) break;  // fewer calls than k: all of them are done
      ASSERT_EQ(r.code, 128 + SIGKILL) << context << "\n" << r.err;
      resume_to_the_end(h, run, context);
      expect_same_run(run, ref, context);
      fs::remove_all(run);
    }
    // 3 file renames per unit, 2 first publishes, 3 pictures per epoch, options.json; 2 replacing publishes.
    EXPECT_EQ(k - 1, call == "rename" ? 4 * 3 + 2 + 3 * 3 + 1 : 2) << call;
  }
}

// `kill -9` at random times. RG_RANDOM_KILLS sets how many (the release
// check: 40) and RG_RANDOM_KILL_OPTIONS the run (e.g. the release check's
// "--size 32 --width 0.25 --batch 8 --backend cpu --epochs 25").
TEST(Crash, RandomKillsResumeBitIdentically) {
  Home h;
  const char* n_env = std::getenv("RG_RANDOM_KILLS");
  const char* opt_env = std::getenv("RG_RANDOM_KILL_OPTIONS");
  const int kills = n_env ? std::atoi(n_env) : 8;
  const std::string options =
      opt_env ? opt_env : " --size 32 --width 0.125 --nz 16 --batch 4 --backend ref --epochs 24";
  auto train = [&](const fs::path& run, const std::string& more = "") {
    return "train --data " + h.imgs.string() + " --out " + run.string() +
           " --log-every 1 --checkpoint-every 3 " + options + more;
  };
  const fs::path ref = h.t.path / "ref";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(ralsgan(train(ref), h.t.path).code, 0) << read_text(h.t.path / "stderr.txt");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(12);
  int resumed = 0, refused = 0;
  for (int i = 0; i < kills; ++i) {
    const fs::path run = h.t.path / ("run" + std::to_string(i));
    const double at = std::uniform_real_distribution<double>(0.0, seconds)(rng);
    const pid_t pid = spawn(train(run), h.t.path);
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    ::kill(pid, SIGKILL);
    const int code = wait_for(pid, 120);
    const std::string context = "kill " + std::to_string(i) + " after " + std::to_string(at) + " s";
    if (code == 0) continue;  // it finished first
    ASSERT_EQ(code, 128 + SIGKILL) << context;
    const bool had_checkpoint = left_a_checkpoint(run);
    auto r = ralsgan(train(run, " --resume"), h.t.path);
    if (had_checkpoint) {
      ASSERT_EQ(r.code, 0) << context << "\n" << r.err;
      ++resumed;
    } else {
      EXPECT_EQ(r.code, 1) << context;
      EXPECT_NE(r.err.find((run / "checkpoint").string()), std::string::npos) << r.err;
      ASSERT_EQ(ralsgan(train(run), h.t.path).code, 0) << context;
      ++refused;
    }
    for (const auto& e : fs::recursive_directory_iterator(ref)) {
      if (!e.is_regular_file()) continue;
      const fs::path rel = fs::relative(e.path(), ref);
      // options.json records each invocation (its --resume, its folder): not the run's state.
      if (rel == "options.json") continue;
      if (rel == "log.jsonl") {
        const auto a = read_lines(run / rel), b = read_lines(e.path());
        ASSERT_EQ(a.size(), b.size()) << context;
        for (size_t l = 0; l < a.size(); ++l)
          EXPECT_EQ(without_rate(a[l]), without_rate(b[l])) << context;
      } else {
        EXPECT_EQ(read_bytes(run / rel), read_bytes(e.path())) << context << ": " << rel;
      }
    }
    EXPECT_TRUE(temporaries_under(run).empty()) << context;
    // And what a user gets from it: the generated images, byte for byte.
    for (const fs::path& from : {ref, run}) {
      const fs::path images = h.t.path / (from == ref ? "ref_images" : "run_images");
      if (from == ref && fs::exists(images)) continue;  // made once
      ASSERT_EQ(ralsgan("generate --backend ref --count 4 --checkpoint " + from.string() +
                            " --out " + images.string(),
                        h.t.path)
                    .code,
                0)
          << context;
    }
    for (int k = 0; k < 4; ++k) {
      const std::string png = "image_0000" + std::to_string(k) + ".png";
      EXPECT_EQ(read_bytes(h.t.path / "run_images" / png),
                read_bytes(h.t.path / "ref_images" / png))
          << context << png;
    }
    fs::remove_all(h.t.path / "run_images");
    fs::remove_all(run);
  }
  std::printf(
      "%d kills: %d resumed bit-identically, %d before the first checkpoint (refused, then "
      "restarted)\n",
      kills, resumed, refused);
}

// ---- A full disk for every writer ------------------------------------------------

TEST(DiskFull, EveryWriterFailsNamingItsFileAndLeavesNothingHalfWritten) {
  Home h;
  const fs::path run = h.t.path / "run";
  ASSERT_EQ(ralsgan(h.train(run, " --steps 2"), h.t.path).code, 0);
  const fs::path out = h.t.path / "gen", zip = h.t.path / "gen.zip";
  const std::string gen =
      "generate --backend ref --checkpoint " + run.string() + " --out " + out.string();
  ASSERT_EQ(ralsgan(gen + " --count 20", h.t.path).code, 0);
  size_t png_max = 0;
  for (const auto& e : fs::directory_iterator(out))
    png_max = std::max<size_t>(png_max, fs::file_size(e.path()));
  fs::remove_all(out);
  ASSERT_GT(png_max, 600u);

  // generate: the first PNG does not fit. No image, no temporary.
  auto r = ralsgan_piped(gen + " --count 20", h.t.path, "prlimit --fsize=500");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write " + out.string() + "/image_000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(out));
  // generate --zip: the PNGs fit, the archive does not. Whole PNGs, no archive, no temporary.
  r = ralsgan_piped(gen + " --count 20 --zip " + zip.string(), h.t.path,
                    "prlimit --fsize=" + std::to_string(3 * png_max));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write " + zip.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(zip));
  EXPECT_TRUE(temporaries_under(h.t.path).empty()) << temporaries_under(h.t.path).front();
  for (const auto& e : fs::directory_iterator(out)) {
    const auto b = read_bytes(e.path());
    EXPECT_TRUE(b.size() > 12 && b[b.size() - 8] == 'I' && b[b.size() - 5] == 'D')
        << e.path() << " is not whole";
  }

  // preprocess: the cache does not fit. No cache, no temporary.
  const fs::path cache = h.t.path / "c" / "imgs.rgcache";
  r = ralsgan_piped(
      "preprocess --size 32 --input " + h.imgs.string() + " --output " + cache.string(), h.t.path,
      "prlimit --fsize=1000");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(cache.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(cache.parent_path()));

  // eval: its JSON report does not fit.
  const fs::path json = h.t.path / "m" / "metrics.json";
  fs::create_directories(json.parent_path());
  r = ralsgan_piped("eval --metrics swd --real " + h.imgs.string() + " --fake " + h.imgs.string() +
                        " --json " + json.string(),
                    h.t.path, "prlimit --fsize=50");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write " + json.string() + ": File too large"), std::string::npos)
      << r.err;
  EXPECT_TRUE(fs::is_empty(json.parent_path()));

  // train: the sample pictures (larger than any checkpoint file here) do not
  // fit. They come before the epoch's checkpoint, which therefore stays the
  // one before, whole; no picture is half written.
  const std::string wide = "train --data " + h.imgs.string() +
                           " --size 64 --width 0.03125 --nz 16 --batch 4 "
                           "--backend ref --epochs 1 --out ";
  const fs::path big_ref = h.t.path / "big_ref", big = h.t.path / "big";
  ASSERT_EQ(ralsgan(wide + big_ref.string(), h.t.path).code, 0);
  size_t ckpt_max = 0;
  for (const auto& e : fs::directory_iterator(big_ref / "checkpoint"))
    ckpt_max = std::max<size_t>(ckpt_max, fs::file_size(e.path()));
  const size_t grid = fs::file_size(big_ref / "samples" / "grid_step_00000002.png");
  ASSERT_GT(grid, ckpt_max + 16384)
      << "the test needs a sample grid larger than the checkpoint files";
  ASSERT_EQ(ralsgan(wide + big.string() + " --steps 1", h.t.path).code,
            0);  // checkpoint and pictures of step 1
  const auto latest = read_bytes(big / "samples" / "latest.png");
  // Room for any checkpoint file (their sizes do not change with the step), not for the grid.
  r = ralsgan_piped(wide + big.string() + " --resume", h.t.path,
                    "prlimit --fsize=" + std::to_string(ckpt_max + 1024));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot write " + (big / "samples" / "grid_step_00000002.png").string() +
                       ": File too large"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(app::read_checkpoint(big / "checkpoint").step, 1u);
  EXPECT_EQ(read_bytes(big / "samples" / "latest.png"), latest);
  EXPECT_FALSE(fs::exists(big / "samples" / "grid_step_00000002.png"));
  EXPECT_TRUE(temporaries_under(big).empty());
}

}  // namespace
}  // namespace rg
