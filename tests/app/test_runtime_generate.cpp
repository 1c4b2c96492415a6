// `ralsgan export` and the C runtime (runtime/, docs/embedded.md) against
// `ralsgan generate --backend ref`: for 256 image indices the runtime's pixels,
// on x86 in this process and on AArch64 under qemu-user, are byte-identical to
// the PNGs; and the exported plan is the engine's compiled plan.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "apps/data/decode.h"
#include "apps/model/ralsgan_step.h"
#include "apps/ralsgan/checkpoint.h"
#include "apps/ralsgan/export_plan.h"
#include "backends/ref/ref_backend.h"
#include "runtime/rg_generate.h"
#include "runtime/rg_runtime.h"
#include "tests/app/cli_harness.h"

namespace rg {
namespace {

using testing_cli::ralsgan;
using testing_cli::RunResult;
using testing_cli::TempDir;
namespace fs = std::filesystem;

const fs::path kCheckpoint =
    fs::path(RG_SOURCE_DIR) / "tests" / "data" / "golden" / "gen_G.safetensors";
constexpr uint64_t kSeed = 3, kImages = 256;
constexpr size_t kPixels = 32 * 32 * 3;

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The golden 32-px generator (width 1/4) exported with batch 8 and its 256
// images written by `ralsgan generate --backend ref`, once for all tests.
class RuntimeGenerate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const RunResult e = ralsgan("export --checkpoint " + kCheckpoint.string() +
                                    " --batch 8 --out " + (dir_->path / "plan").string(),
                                dir_->path);
    ASSERT_EQ(e.code, 0) << e.err;
    const RunResult g =
        ralsgan("generate --backend ref --seed 3 --count 256 --checkpoint " + kCheckpoint.string() +
                    " --out " + (dir_->path / "png").string(),
                dir_->path);
    ASSERT_EQ(g.code, 0) << g.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  // Compares raw RGB images (index order) with the PNGs; returns how many bytes differ.
  static size_t differing_bytes(const std::vector<uint8_t>& rgb) {
    EXPECT_EQ(rgb.size(), kImages * kPixels);
    if (rgb.size() != kImages * kPixels) return rgb.size();
    size_t differ = 0;
    for (uint64_t i = 0; i < kImages; ++i) {
      const data::DecodeResult d =
          data::decode_image_file(dir_->path / "png" / app::image_file_name(i));
      EXPECT_TRUE(d.ok) << d.reason;
      EXPECT_EQ(d.image.pixels.size(), kPixels);
      if (!d.ok || d.image.pixels.size() != kPixels) return rgb.size();
      for (size_t k = 0; k < kPixels; ++k) differ += d.image.pixels[k] != rgb[i * kPixels + k];
    }
    return differ;
  }

  static TempDir* dir_;
};
TempDir* RuntimeGenerate::dir_ = nullptr;

TEST_F(RuntimeGenerate, X86PixelsAreByteIdenticalToGenerate) {
  std::vector<uint8_t> file = read_bytes(dir_->path / "plan" / "model.rgplan");
  rg_plan plan;
  ASSERT_EQ(rg_plan_validate(file.data(), file.size(), &plan), RG_OK);
  ASSERT_EQ(plan.header.batch, 8u);
  std::vector<float> arena(plan.header.arena_bytes / 4), latents(plan.header.latents_bytes / 4),
      images(plan.header.images_bytes / 4);
  std::vector<uint8_t> rgb(kImages * kPixels);
  for (uint64_t first = 0; first < kImages; first += 8) {
    for (uint64_t j = 0; j < 8; ++j)
      ASSERT_EQ(rg_latent_vector(kSeed, RG_STREAM_GENERATION, first + j, &latents[j * 128], 128),
                0);
    ASSERT_EQ(rg_run(&plan, rg_plan_weights(&plan), arena.data(), latents.data(), images.data()),
              RG_OK);
    for (uint64_t j = 0; j < 8; ++j)
      rg_quantize_image(&images[j * 32 * 32 * 3], 32, &rgb[(first + j) * kPixels]);
  }
  EXPECT_EQ(differing_bytes(rgb), 0u);
}

TEST_F(RuntimeGenerate, Aarch64PixelsUnderQemuAreByteIdenticalToGenerate) {
  const fs::path program = RG_AARCH64_EXAMPLE;
  if (std::string(RG_QEMU_AARCH64).empty() || !fs::exists(program))
    GTEST_SKIP() << "no AArch64 build of the runtime or no qemu-aarch64 (install "
                    "gcc-aarch64-linux-gnu, qemu-user)";
  const fs::path out = dir_->path / "aarch64.rgb";
  const std::string cmd = std::string(RG_QEMU_AARCH64) + " -L /usr/aarch64-linux-gnu " +
                          program.string() + " " + (dir_->path / "plan" / "model.rgplan").string() +
                          " 3 0 256 " + out.string() + " 2> " + (dir_->path / "qemu.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << testing_cli::read_text(dir_->path / "qemu.txt");
  EXPECT_EQ(differing_bytes(read_bytes(out)), 0u);
}

// The plan file holds the engine's compiled plan: one kernel per fusion
// group, its arena size and each activation at the engine's arena offset.
TEST_F(RuntimeGenerate, ThePlanFileIsTheEnginesPlan) {
  const std::vector<uint8_t> file = read_bytes(dir_->path / "plan" / "model.rgplan");
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(file.data(), file.size(), &p), RG_OK);
  const model::ModelConfig cfg{32, 0.25, 128};
  const model::GenerateGraph gg = model::build_generate_graph(cfg, 8, DType::f32);
  auto backend = make_ref_backend();
  auto plan = compile(gg.graph, *backend);
  EXPECT_EQ(p.header.arena_bytes, plan->arena_bytes);
  ASSERT_EQ(p.header.kernel_count, plan->groups.size());
  for (size_t k = 0; k < plan->groups.size(); ++k) {
    rg_kernel_record r;
    std::memcpy(&r, file.data() + sizeof(rg_plan_header) + k * sizeof r, sizeof r);
    const FusionGroup& grp = plan->groups[k];
    const ValueId x = gg.graph->node(grp.nodes[0]).inputs[0];
    EXPECT_EQ(r.op, grp.nodes.size() && gg.graph->node(grp.nodes[0]).op == OpKind::kConvTranspose2d
                        ? uint32_t(RG_OP_CONV_TRANSPOSE2D)
                        : uint32_t(RG_OP_BATCH_NORM));
    EXPECT_EQ(r.epilogue_count, grp.nodes.size() - 1) << "group " << k;
    if (r.slot[RG_SLOT_X].region == RG_REGION_ARENA)
      EXPECT_EQ(r.slot[RG_SLOT_X].offset, uint64_t(plan->arena_offset(x)));
    else
      EXPECT_EQ(k, 0u);  // only the first kernel reads the latents
    if (r.slot[RG_SLOT_Y].region == RG_REGION_ARENA)
      EXPECT_EQ(r.slot[RG_SLOT_Y].offset, uint64_t(plan->arena_offset(grp.outputs[0])));
    else
      EXPECT_EQ(k + 1, plan->groups.size());  // only the last one writes the images
  }
}

// Stronger than the pixels: the f32 images themselves are bit-identical to
// the reference backend's, as both do the same operations in the same order.
TEST_F(RuntimeGenerate, FloatImagesAreBitIdenticalToTheReferenceBackend) {
  std::vector<uint8_t> file = read_bytes(dir_->path / "plan" / "model.rgplan");
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(file.data(), file.size(), &p), RG_OK);
  const model::GenerateGraph gg = model::build_generate_graph({32, 0.25, 128}, 8, DType::f32);
  auto backend = make_ref_backend();
  auto plan = compile(gg.graph, *backend);
  Session s(*plan);
  app::import_network(s, io::read_safetensors(kCheckpoint.string()), "golden", gg.g_params, "G.");
  std::vector<float> arena(p.header.arena_bytes / 4), latents(8 * 128), images(8 * 3 * 32 * 32);
  for (uint64_t first : {uint64_t(0), uint64_t(1000)}) {
    for (uint64_t j = 0; j < 8; ++j)
      ASSERT_EQ(rg_latent_vector(kSeed, RG_STREAM_GENERATION, first + j, &latents[j * 128], 128),
                0);
    ASSERT_EQ(rg_run(&p, rg_plan_weights(&p), arena.data(), latents.data(), images.data()), RG_OK);
    s.set_input("z", std::span<const float>(latents));
    s.run();
    const std::vector<float> ref = s.value_f32(gg.images);
    ASSERT_EQ(ref.size(), images.size());
    size_t differ = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      differ += std::memcmp(&ref[i], &images[i], sizeof(float)) != 0;
    EXPECT_EQ(differ, 0u) << "of " << ref.size() << " floats, images " << first << "..";
  }
}

TEST(ExportCommand, ErrorsNameTheFileOrValue) {
  TempDir t;
  RunResult r = ralsgan("export --checkpoint " + (t.path / "nope.safetensors").string() +
                            " --out " + (t.path / "o").string(),
                        t.path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nope.safetensors"), std::string::npos) << r.err;
  r = ralsgan(
      "export --checkpoint " + kCheckpoint.string() + " --batch 0 --out " + (t.path / "o").string(),
      t.path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--batch"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t.path / "o"));
}

// A graph with an op the runtime has no kernel for is refused by name, not exported wrong.
TEST(ExportCommand, UnsupportedOpsAreRefusedByName) {
  auto g = std::make_shared<Graph>(DType::f32);
  const ValueId z = g->input("z", {1, 4});
  const ValueId w = g->variable("w", {4, 3, 4, 4});
  const ValueId y = g->leaky_relu(g->conv_transpose2d(g->reshape(z, {1, 4, 1, 1}), w, 1, 0), 0.2);
  g->mark_output(y, "images");
  auto backend = make_ref_backend();
  auto plan = compile(g, *backend);
  Session s(*plan);
  try {
    app::encode_plan(*plan, s, z, y);
    FAIL() << "exported a plan with leaky_relu";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("leaky_relu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rg
