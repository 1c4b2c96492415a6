// SPDX-License-Identifier: Apache-2.0
// preprocess, eval, inspect and demo doing their jobs (not only --help):
// what each writes or prints, checked against an independent computation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>

#include <cstdlib>
#include <regex>
#include <sstream>

#include "apps/data/dataset.h"
#include "apps/data/decode.h"
#include "apps/data/idx.h"
#include "apps/data/letterbox.h"
#include "apps/ralsgan/checkpoint_unit.h"
#include "tests/app/cli_harness.h"
#include "tests/app/json_check.h"

namespace rg {
namespace {

using namespace testing_cli;
namespace fs = std::filesystem;

TEST(Commands, PreprocessWritesALetterboxedCacheAndReportsWhatItSkipped) {
  TempDir t;
  const fs::path imgs = t.path / "imgs";
  make_image_folder(imgs, 5, 48, 7);  // 48 px: shrunk to 32
  write_bytes(imgs / "broken.png", std::vector<uint8_t>(300, 0x5a));
  std::ofstream(imgs / "notes.txt") << "not an image\n";
  const fs::path cache = t.path / "out" / "c.rgcache";
  const auto r = ralsgan(
      "preprocess --size 32 --input " + imgs.string() + " --output " + cache.string(), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("wrote " + cache.string() + ": 5 images of 32 px"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("skipped broken.png: not a PNG file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped notes.txt: not an image"), std::string::npos) << r.err;

  const data::Dataset ds = data::open_cache(cache);
  ASSERT_EQ(ds.size(), 5u);
  EXPECT_EQ(ds.image_size(), 32);
  for (size_t i = 0; i < ds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "img_%03zu.png", i);
    EXPECT_EQ(ds.source(i), name);
    const data::DecodeResult d = data::decode_image_file(imgs / name);
    ASSERT_TRUE(d.ok) << name;
    const data::Image fitted = data::fit_image(d.image, 32, data::Fit::kPad);
    EXPECT_TRUE(std::equal(fitted.pixels.begin(), fitted.pixels.end(), ds.image(i))) << name;
  }
  const std::string report = read_text(cache.string() + ".report.json");
  EXPECT_TRUE(testing_json::valid_json(report)) << report;
  const nlohmann::json j = nlohmann::json::parse(report);
  EXPECT_EQ(j["files_seen"], 7) << report;
  EXPECT_EQ(j["decoded"], 5) << report;
  EXPECT_EQ(j["skipped_count"], 2) << report;
  ASSERT_EQ(j["skipped"].size(), 2u) << report;
  EXPECT_EQ(j["skipped"][0]["path"], "broken.png") << report;
  EXPECT_EQ(j["skipped"][0]["reason"].get<std::string>().rfind("not a PNG file", 0), 0u) << report;
  EXPECT_EQ(j["skipped"][1]["path"], "notes.txt") << report;
  // One skipped file per line, so that a large report reads and diffs by file.
  EXPECT_NE(report.find("\n    {\"path\":\"broken.png\",\"reason\":"), std::string::npos) << report;
}

// File names that are not UTF-8, or hold control characters, leave the report
// valid JSON in UTF-8 and never reach the terminal raw.
TEST(Commands, PreprocessReportStaysValidJsonWithAnyFileNames) {
  TempDir t;
  const fs::path imgs = t.path / "imgs";
  make_image_folder(imgs, 2, 32, 3);
  fs::copy_file(imgs / "img_000.png", imgs / "caf\xe9.png");               // Latin-1
  std::ofstream(imgs / "bad\xff\x1b[31m.png") << "not a png";             // not UTF-8, an escape sequence
  std::ofstream(imgs / "\xe6\x97\xa5\xe6\x9c\xac.png") << "not a png";  // UTF-8 (Japanese), broken
  const fs::path cache = t.path / "c.rgcache";
  const auto r = ralsgan("preprocess --size 32 --input " + imgs.string() + " --output " + cache.string(), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string report = read_text(cache.string() + ".report.json");
  EXPECT_TRUE(testing_json::valid_json(report)) << report;
  EXPECT_NE(report.find("bad\\\\xff\\u001b[31m.png"), std::string::npos) << report;
  EXPECT_NE(report.find("\xe6\x97\xa5\xe6\x9c\xac.png"), std::string::npos) << report;
  EXPECT_EQ(report.find('\xff'), std::string::npos) << "a raw non-UTF-8 byte in the report";
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "an escape sequence reached the terminal: " << r.err;
  EXPECT_NE(r.err.find("bad\xff\\x1b[31m.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 images decoded"), std::string::npos) << r.err;
}

double swd_mean(const std::string& json) {
  const size_t at = json.find("\"mean_x1e3\":");
  return at == std::string::npos ? -1 : std::strtod(json.c_str() + at + 12, nullptr);
}

TEST(Commands, EvalScoresASetAgainstItselfZeroAndAnotherAboveZero) {
  TempDir t;
  make_image_folder(t.path / "a", 12, 32, 1);
  make_image_folder(t.path / "b", 12, 32, 2);
  const fs::path same = t.path / "same.json", other = t.path / "other.json";
  auto r = ralsgan("eval --metrics swd --real " + (t.path / "a").string() + " --fake " +
                       (t.path / "a").string() + " --json " + same.string(),
                   t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string table = read_text(t.path / "stdout.txt");
  EXPECT_NE(table.find("swd mean (x1e3)"), std::string::npos) << table;
  r = ralsgan("eval --metrics swd --real " + (t.path / "a").string() + " --fake " +
                  (t.path / "b").string() + " --json " + other.string(),
              t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string a = read_text(same), b = read_text(other);
  EXPECT_TRUE(testing_json::valid_json(a)) << a;
  EXPECT_TRUE(testing_json::valid_json(b)) << b;
  EXPECT_NE(a.find("\"real_count\":12,\"fake_count\":12,\"real_size\":32"), std::string::npos) << a;
  EXPECT_EQ(swd_mean(a), 0.0) << a;
  EXPECT_GT(swd_mean(b), 1.0) << b;
  // FID without Inception weights: a usage error before any work.
  r = ralsgan(
      "eval --metrics fid --real " + (t.path / "a").string() + " --fake " + (t.path / "b").string(),
      t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--inception FILE"), std::string::npos) << r.err;
}

// "arena: 446.0 KiB for 161 buffers totalling 2.48 MiB (...)": arena and buffer bytes.
bool arena_line(const std::string& text, double& arena, double& total, int& buffers) {
  const std::regex re(
      R"(arena: ([0-9.]+) (B|KiB|MiB|GiB) for ([0-9]+) buffers totalling ([0-9.]+) (B|KiB|MiB|GiB))");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return false;
  auto bytes = [](const std::string& v, const std::string& unit) {
    const double scale = unit == "GiB"   ? 1 << 30
                         : unit == "MiB" ? 1 << 20
                         : unit == "KiB" ? 1 << 10
                                         : 1;
    return std::stod(v) * scale;
  };
  arena = bytes(m[1], m[2]);
  buffers = std::stoi(m[3]);
  total = bytes(m[4], m[5]);
  return true;
}

TEST(Commands, InspectPrintsTheGroupsAndAnArenaSmallerThanItsBuffers) {
  TempDir t;
  const std::string common = "inspect --size 32 --width 0.125 --batch 4 --backend ref";
  ASSERT_EQ(ralsgan(common, t.path).code, 0);
  const std::string train = read_text(t.path / "stdout.txt");
  double arena = 0, total = 0;
  int buffers = 0;
  ASSERT_TRUE(arena_line(train, arena, total, buffers)) << train;
  EXPECT_GT(buffers, 100);
  EXPECT_GT(arena, 0);
  EXPECT_LT(arena, total)
      << "liveness-based reuse makes the arena smaller than the sum of its buffers";
  EXPECT_NE(train.find("adam_update"), std::string::npos);
  EXPECT_NE(train.find("ref/f32:"), std::string::npos);
  // Offered: G's four BatchNorm activations at size 32 and D's one in each of
  // its three differentiated applications. The compiler keeps some of G's
  // (those that lower this tiny plan's peak) and none of D's.
  const size_t at = train.find("recomputed in the backward pass: ");
  ASSERT_NE(at, std::string::npos) << train;
  int kept = -1, offered = -1;
  ASSERT_EQ(std::sscanf(train.c_str() + at, "recomputed in the backward pass: %d of %d", &kept, &offered), 2);
  EXPECT_EQ(offered, 7);
  EXPECT_GE(kept, 1);
  EXPECT_LE(kept, 4);

  ASSERT_EQ(ralsgan(common + " --graph generate --nodes", t.path).code, 0);
  const std::string gen = read_text(t.path / "stdout.txt");
  double garena = 0, gtotal = 0;
  int gbuffers = 0;
  ASSERT_TRUE(arena_line(gen, garena, gtotal, gbuffers)) << gen;
  EXPECT_LT(gbuffers, buffers) << "generation is G's forward pass only";
  EXPECT_EQ(gen.find("adam_update"), std::string::npos);
  EXPECT_NE(gen.find("tanh"), std::string::npos) << "--nodes lists the nodes";

  EXPECT_EQ(ralsgan("inspect --graph both", t.path).code, 2);
}

// --profile: the per-op lines add up to the total, and every group is timed
// (the heaviest list is as long as asked, here all groups of the plan).
TEST(Commands, InspectProfileSaysWhereTheTimeGoes) {
  TempDir t;
  ASSERT_EQ(ralsgan("inspect --size 32 --width 0.125 --batch 4 --backend ref --graph generate --profile 2", t.path).code, 0);
  const std::string out = read_text(t.path / "stdout.txt");
  const size_t at = out.find("profile (ref backend): ");
  ASSERT_NE(at, std::string::npos) << out;
  double total = -1;
  size_t groups = 0;
  int runs = 0;
  ASSERT_EQ(std::sscanf(out.c_str() + at, "profile (ref backend): %lf ms per run, %zu groups, mean of %d run(s)", &total, &groups, &runs), 3)
      << out.substr(at, 200);
  EXPECT_GT(total, 0);
  EXPECT_EQ(runs, 2);
  std::istringstream lines(out.substr(out.find("by the op a group starts with", at)));
  std::string line;
  std::getline(lines, line);
  std::getline(lines, line);  // the header's second line
  double sum = 0;
  while (std::getline(lines, line) && line.rfind("heaviest groups", 0) != 0 && line.rfind("every group", 0) != 0) {
    double ms = 0, pct = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), " %lf ms %lf %%", &ms, &pct), 2) << line;
    sum += ms;
  }
  EXPECT_NEAR(sum, total, 0.002 * 20) << "per-op times (printed to 3 decimals) add up to the total";
  EXPECT_EQ(line.rfind(groups <= 20 ? "every group" : "heaviest groups", 0), 0u) << line;
  size_t listed = 0;
  while (std::getline(lines, line))
    if (line.find(" ms ") != std::string::npos && line.find("group ") != std::string::npos) {
      ++listed;
      // The bytes it moves and their rate: "  <MB> MB, <GB/s> GB/s".
      const size_t mb = line.find(" MB, ");
      ASSERT_NE(mb, std::string::npos) << line;
      EXPECT_NE(line.find(" GB/s", mb), std::string::npos) << line;
      EXPECT_GT(std::atof(line.c_str() + line.rfind(' ', mb - 1) + 1), 0.0) << line;
    }
  EXPECT_EQ(listed, std::min<size_t>(groups, 20));
  // --profile-top K lists the K heaviest.
  ASSERT_EQ(ralsgan("inspect --size 32 --width 0.125 --batch 4 --backend ref --graph generate --profile 1 --profile-top 3",
                    t.path)
                .code,
            0);
  const std::string top = read_text(t.path / "stdout.txt");
  ASSERT_NE(top.find("heaviest groups"), std::string::npos) << top;
  std::istringstream rest(top.substr(top.find("heaviest groups")));
  listed = 0;
  while (std::getline(rest, line)) listed += line.find(" ms ") != std::string::npos && line.find("group ") != std::string::npos;
  EXPECT_EQ(listed, 3u);
}

TEST(Commands, DemoTrainsGeneratesAndScoresOnFashionMnist) {
  ASSERT_TRUE(fs::exists(fs::path(data::kFashionMnistDir) / "train-images-idx3-ubyte.gz") ||
              fs::exists(fs::path(data::kFashionMnistDir) / "train-images-idx3-ubyte"))
      << "the demo needs Debian's dataset-fashion-mnist (tools/setup.sh installs it)";
  TempDir t;
  const fs::path out = t.path / "demo";
  const std::string demo =
      "demo --steps 2 --count 16 --width 0.0625 --backend ref --out " + out.string();
  auto r = ralsgan(demo, t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(app::read_checkpoint(out / "checkpoint").step, 2u);
  EXPECT_EQ(read_lines(out / "log.jsonl").size(), 1u);  // every 20th step and the last: step 2
  for (int i = 0; i < 16; ++i) {
    const data::DecodeResult d =
        data::decode_image_file(out / "generated" / app::image_file_name(uint64_t(i)));
    ASSERT_TRUE(d.ok) << i;
    EXPECT_EQ(d.image.width, 32);
    EXPECT_EQ(d.image.height, 32);
  }
  EXPECT_FALSE(fs::exists(out / "generated" / app::image_file_name(16)));
  EXPECT_TRUE(data::decode_image_file(out / "samples" / "latest.png").ok);
  const std::string metrics = read_text(out / "metrics.json");
  EXPECT_TRUE(testing_json::valid_json(metrics)) << metrics;
  EXPECT_NE(metrics.find("\"real_count\":16,\"fake_count\":16"), std::string::npos) << metrics;
  EXPECT_GT(swd_mean(metrics), 0.0) << metrics;
  EXPECT_NE(read_text(t.path / "stdout.txt").find("swd mean (x1e3)"), std::string::npos);
  // A second demo into the same folder: refused, unless told to start over.
  r = ralsgan(demo, t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("holds a checkpoint"), std::string::npos) << r.err;
  EXPECT_EQ(ralsgan(demo + " --start-over", t.path).code, 0);
}

// --quiet: no progress and no summary on stderr from train and generate
// (a note or an error would still appear); --device out of range is a usage
// error naming the flag, before any work.
TEST(Commands, QuietRunsSayNothingAndABadDeviceIsAUsageError) {
  TempDir t;
  make_image_folder(t.path / "imgs", 8, 32, 3);
  RunResult r = ralsgan("train --data " + (t.path / "imgs").string() + " --out " + (t.path / "run").string() +
                            " --size 32 --width 0.125 --batch 4 --epochs 1 --backend ref --quiet",
                        t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("loss_d"), std::string::npos) << r.err;
  r = ralsgan("generate --checkpoint " + (t.path / "run").string() + " --count 3 --backend ref --quiet --out " +
                  (t.path / "png").string(),
              t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(fs::exists(t.path / "png" / "image_00002.png"));
  r = ralsgan("generate --checkpoint " + (t.path / "run").string() + " --count 3 --device 5000 --out " +
                  (t.path / "png2").string(),
              t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--device"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t.path / "png2"));
}

// --json: eval (--json -), generate, export and inspect print one JSON value
// on stdout that a program can read, with the numbers the text says.
TEST(Commands, JsonOnStdoutIsValidAndSaysWhatHappened) {
  TempDir t;
  make_image_folder(t.path / "a", 8, 32, 1);
  auto stdout_json = [&] { return nlohmann::json::parse(read_text(t.path / "stdout.txt")); };
  auto r = ralsgan("eval --metrics swd --real " + (t.path / "a").string() + " --fake " + (t.path / "a").string() +
                       " --json -",
                   t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = stdout_json();
  EXPECT_EQ(j["real_count"], 8);
  EXPECT_FALSE(fs::exists(t.path / "a" / "metrics.json"));  // stdout instead of the file
  const std::string ckpt = (fs::path(RG_SOURCE_DIR) / "tests" / "data" / "golden" / "gen_G.safetensors").string();
  r = ralsgan("generate --backend ref --checkpoint " + ckpt + " --count 3 --seed 5 --json --out " +
                  (t.path / "png").string(),
              t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  j = stdout_json();
  EXPECT_EQ(j["images"], 3);
  EXPECT_EQ(j["seed"], 5);
  EXPECT_EQ(j["out"], (t.path / "png").string());
  EXPECT_TRUE(j["zip"].is_null());
  r = ralsgan("export --checkpoint " + ckpt + " --json --out " + (t.path / "plan").string(), t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  j = stdout_json();
  EXPECT_EQ(j["file_bytes"].get<uint64_t>(), fs::file_size(t.path / "plan" / "model.rgplan"));
  EXPECT_EQ(j["weights"], "f32");
  r = ralsgan("inspect --graph generate --size 32 --width 0.25 --batch 2 --backend ref --json", t.path);
  ASSERT_EQ(r.code, 0) << r.err;
  j = stdout_json();
  EXPECT_GT(j["arena_bytes"].get<uint64_t>(), 0u);
  ASSERT_TRUE(j["groups"].is_array());
  EXPECT_EQ(j["groups"][0]["ops"][0], "conv_transpose2d");
}

}  // namespace
}  // namespace rg
