// SPDX-License-Identifier: Apache-2.0
// The runtime's loader against hostile plan files (docs/embedded.md,
// "Validation"): every corruption gets its error code, none crashes (this
// test also runs under ASan/UBSan, label unit). The valid plan is
// tests/runtime/data/model.rgplan (tools/golden/make_tiny_plan.py): batch 2,
// 32 px, nz 4, nine kernels; kernel 1 is a batch norm reading the arena,
// kernel 2 a transposed convolution with arena input, output and scratch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <vector>

#include "runtime/rg_runtime.h"

namespace {

std::vector<uint8_t> tiny_plan() {
  std::ifstream in(RG_SOURCE_DIR "/tests/runtime/data/model.rgplan", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

rg_plan_header header_of(const std::vector<uint8_t>& f) {
  rg_plan_header h;
  std::memcpy(&h, f.data(), sizeof h);
  return h;
}

rg_kernel_record record_of(const std::vector<uint8_t>& f, size_t k) {
  rg_kernel_record r;
  std::memcpy(&r, f.data() + sizeof(rg_plan_header) + k * sizeof r, sizeof r);
  return r;
}

// The tiny plan changed by `edit`, then re-sealed with a correct CRC-32 so
// that the check behind the checksum is the one that must fire.
std::vector<uint8_t> resealed(const std::function<void(rg_plan_header&, rg_kernel_record*)>& edit) {
  std::vector<uint8_t> f = tiny_plan();
  rg_plan_header h = header_of(f);
  std::vector<rg_kernel_record> r;
  for (size_t k = 0; k < 9; ++k) r.push_back(record_of(f, k));
  edit(h, r.data());
  std::memcpy(f.data(), &h, sizeof h);
  for (size_t k = 0; k < 9; ++k)
    std::memcpy(f.data() + sizeof h + k * sizeof(rg_kernel_record), &r[k], sizeof r[k]);
  const uint32_t crc = rg_crc32(0, f.data() + 16, f.size() - 16);
  std::memcpy(f.data() + 12, &crc, 4);
  return f;
}

rg_status validate(const std::vector<uint8_t>& f) {
  rg_plan p;
  return rg_plan_validate(f.data(), f.size(), &p);
}

// Caller-owned, 64-byte aligned regions of a validated plan.
struct Regions {
  explicit Regions(const rg_plan& p)
      : arena(p.header.arena_bytes / 4 + 16),
        latents(p.header.latents_bytes / 4 + 16),
        images(p.header.images_bytes / 4 + 16) {}
  std::vector<float> arena, latents, images;
};

TEST(PlanFile, TheExportedPlanValidatesAndRuns) {
  const std::vector<uint8_t> f = tiny_plan();
  ASSERT_GT(f.size(), sizeof(rg_plan_header));
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(f.data(), f.size(), &p), RG_OK);
  EXPECT_EQ(p.header.batch, 2u);
  EXPECT_EQ(p.header.image_size, 32u);
  EXPECT_EQ(p.header.nz, 4u);
  EXPECT_EQ(p.header.kernel_count, 9u);
  EXPECT_EQ(rg_plan_images_bytes(&p), 2u * 3 * 32 * 32 * 4);
  Regions m(p);
  for (size_t i = 0; i < 8; ++i) m.latents[i] = float(i) * 0.5f - 2.0f;
  // The weights section is read in place (zero copy): std::vector's buffer is aligned enough.
  ASSERT_EQ(rg_run(&p, rg_plan_weights(&p), m.arena.data(), m.latents.data(), m.images.data()),
            RG_OK);
  int distinct = 0;
  for (size_t i = 0; i < 2 * 3 * 32 * 32; ++i) {
    ASSERT_TRUE(m.images[i] >= -1.0f && m.images[i] <= 1.0f) << i;
    distinct += m.images[i] != m.images[0];
  }
  EXPECT_GT(distinct, 1000);  // an image, not a constant
}

TEST(PlanFile, EveryTruncationIsRefused) {
  const std::vector<uint8_t> f = tiny_plan();
  rg_plan p;
  for (size_t n = 0; n < f.size(); ++n)
    ASSERT_EQ(rg_plan_validate(f.data(), n, &p), RG_ERR_TRUNCATED) << n << " bytes";
  EXPECT_EQ(rg_plan_validate(nullptr, f.size(), &p), RG_ERR_NULL);
  EXPECT_EQ(rg_plan_validate(f.data(), f.size(), nullptr), RG_ERR_NULL);
}

TEST(PlanFile, WrongMagicVersionOrChecksum) {
  std::vector<uint8_t> f = tiny_plan();
  f[0] = 'X';
  EXPECT_EQ(validate(f), RG_ERR_MAGIC);
  EXPECT_EQ(rg_plan_validate(f.data(), 3, nullptr), RG_ERR_NULL);
  rg_plan p;
  EXPECT_EQ(rg_plan_validate(f.data(), 3, &p), RG_ERR_MAGIC);  // too short, and not ours either
  f = tiny_plan();
  f[8] = 2;  // version 2
  EXPECT_EQ(validate(f), RG_ERR_VERSION);
  for (size_t at : {size_t(24), sizeof(rg_plan_header) + 30,
                    f.size() - 1}) {  // arena size, a kernel, the last weight
    f = tiny_plan();
    f[at] ^= 0x10;
    EXPECT_EQ(validate(f), RG_ERR_CHECKSUM) << "byte " << at;
  }
  f = tiny_plan();
  f.push_back(0);  // more bytes than the header says
  EXPECT_EQ(validate(f), RG_ERR_HEADER);
}

TEST(PlanFile, AbsurdOrInconsistentHeaderFields) {
  using H = rg_plan_header;
  using R = rg_kernel_record;
  const std::vector<std::pair<const char*, std::function<void(H&, R*)>>> cases = {
      {"arena 2^62 bytes", [](H& h, R*) { h.arena_bytes = uint64_t(1) << 62; }},
      {"batch 0", [](H& h, R*) { h.batch = 0; }},
      {"batch 2^31", [](H& h, R*) { h.batch = 1u << 31; }},
      {"nz 0", [](H& h, R*) { h.nz = 0; }},
      {"latents size not batch * nz", [](H& h, R*) { h.latents_bytes += 4; }},
      {"image size 33", [](H& h, R*) { h.image_size = 33; }},
      {"images size 2^64 - 4", [](H& h, R*) { h.images_bytes = ~uint64_t(3); }},
      {"no kernels", [](H& h, R*) { h.kernel_count = 0; }},
      {"a million kernels", [](H& h, R*) { h.kernel_count = 1000000; }},
      {"kernel table running into the weights", [](H& h, R*) { h.kernel_count = 10; }},
      {"record size 300", [](H& h, R*) { h.kernel_record_bytes = 300; }},
      {"weights offset not aligned", [](H& h, R*) { h.weights_offset += 4, h.weights_bytes -= 4; }},
      {"weights past the end", [](H& h, R*) { h.weights_bytes += 64; }},
      {"weights offset past the end", [](H& h, R*) { h.weights_offset = uint64_t(1) << 63; }},
      {"alignment 16", [](H& h, R*) { h.alignment = 16; }},
      {"weight type 7", [](H& h, R*) { h.dtype = 7; }},
      {"4 channels", [](H& h, R*) { h.channels = 4; }},
      {"reserved bytes set", [](H& h, R*) { h.reserved[47] = 1; }},
  };
  for (const auto& [what, edit] : cases) EXPECT_EQ(validate(resealed(edit)), RG_ERR_HEADER) << what;
}

TEST(PlanFile, BadKernelsAndGeometry) {
  using H = rg_plan_header;
  using R = rg_kernel_record;
  const std::vector<std::pair<const char*, std::function<void(H&, R*)>>> cases = {
      {"unknown op", [](H&, R* r) { r[2].op = 99; }},
      {"five epilogue ops", [](H&, R* r) { r[1].epilogue_count = 5; }},
      {"unknown epilogue op", [](H&, R* r) { r[1].epilogue[0] = 9; }},
      {"epilogue op past the count", [](H&, R* r) { r[1].epilogue[2] = RG_EPI_RELU; }},
      {"two bias adds", [](H&, R* r) { r[8].epilogue[1] = RG_EPI_ADD_CHANNEL; }},
      {"no channels", [](H&, R* r) { r[2].cy = 0; }},
      {"2^30 rows", [](H&, R* r) { r[2].hx = 1u << 30; }},
      {"stride 0", [](H&, R* r) { r[2].stride_h = 0; }},
      {"output side not (hx - 1) * s - 2p + k", [](H&, R* r) { r[2].hy += 1; }},
      {"padding as large as the kernel", [](H&, R* r) { r[2].pad_w = r[2].kw; }},
      {"kernel batch not the plan's", [](H&, R* r) { r[2].n = 1; }},
      {"batch norm with a kernel size", [](H&, R* r) { r[1].kh = 3; }},
      {"batch norm eps NaN", [](H&, R* r) { r[1].eps = std::numeric_limits<double>::quiet_NaN(); }},
      {"tensor bytes not the geometry's", [](H&, R* r) { r[2].slot[RG_SLOT_W].bytes -= 4; }},
      {"a used slot left empty", [](H&, R* r) { r[2].slot[RG_SLOT_SCRATCH] = rg_tensor_ref{}; }},
      {"an unused slot filled", [](H&, R* r) { r[2].slot[RG_SLOT_MEAN] = r[2].slot[RG_SLOT_W]; }},
      {"reserved field set", [](H&, R* r) { r[3].reserved0 = 1; }},
      {"f32-sized weights in a bf16 plan", [](H& h, R*) { h.dtype = RG_WEIGHTS_BF16; }},
  };
  for (const auto& [what, edit] : cases) EXPECT_EQ(validate(resealed(edit)), RG_ERR_KERNEL) << what;
}

TEST(PlanFile, TensorsOutsideOrInTheWrongRegion) {
  using H = rg_plan_header;
  using R = rg_kernel_record;
  const std::vector<std::pair<const char*, std::function<void(H&, R*)>>> region_cases = {
      {"output past the arena",
       [](H& h, R* r) { r[2].slot[RG_SLOT_Y].offset = h.arena_bytes - 4; }},
      {"offset wrapping around 2^64", [](H&, R* r) { r[2].slot[RG_SLOT_Y].offset = ~uint64_t(3); }},
      {"arena too small for the plan", [](H& h, R*) { h.arena_bytes = 1024; }},
      {"weight past the weights",
       [](H& h, R* r) { r[1].slot[RG_SLOT_VAR].offset = h.weights_bytes; }},
      {"output into the weights",
       [](H&, R* r) { r[2].slot[RG_SLOT_Y].region = RG_REGION_WEIGHTS; }},
      {"weights read from the arena",
       [](H&, R* r) { r[2].slot[RG_SLOT_W].region = RG_REGION_ARENA; }},
      {"scratch in the images",
       [](H&, R* r) { r[2].slot[RG_SLOT_SCRATCH].region = RG_REGION_IMAGES; }},
      {"region 9", [](H&, R* r) { r[2].slot[RG_SLOT_X].region = 9; }},
  };
  for (const auto& [what, edit] : region_cases)
    EXPECT_EQ(validate(resealed(edit)), RG_ERR_REGION) << what;
  EXPECT_EQ(validate(resealed([](H&, R* r) { r[2].slot[RG_SLOT_X].offset += 2; })),
            RG_ERR_MISALIGNED);
  EXPECT_EQ(validate(resealed([](H&, R* r) { r[1].slot[RG_SLOT_BETA].offset += 1; })),
            RG_ERR_MISALIGNED);
  // Outputs over inputs or scratch: the transposed convolution would read what it already
  // overwrote.
  EXPECT_EQ(validate(resealed(
                [](H&, R* r) { r[2].slot[RG_SLOT_Y].offset = r[2].slot[RG_SLOT_X].offset; })),
            RG_ERR_OVERLAP);
  EXPECT_EQ(validate(resealed([](H&, R* r) {
              r[2].slot[RG_SLOT_SCRATCH].offset = r[2].slot[RG_SLOT_Y].offset + 4;
            })),
            RG_ERR_OVERLAP);
  EXPECT_EQ(validate(resealed(
                [](H&, R* r) { r[1].slot[RG_SLOT_Y].offset = r[1].slot[RG_SLOT_X].offset + 512; })),
            RG_ERR_OVERLAP);
}

TEST(PlanFile, RunRefusesBadCallerRegions) {
  const std::vector<uint8_t> f = tiny_plan();
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(f.data(), f.size(), &p), RG_OK);
  Regions m(p);
  const void* w = rg_plan_weights(&p);
  EXPECT_EQ(rg_run(nullptr, w, m.arena.data(), m.latents.data(), m.images.data()), RG_ERR_NULL);
  EXPECT_EQ(rg_run(&p, nullptr, m.arena.data(), m.latents.data(), m.images.data()), RG_ERR_NULL);
  EXPECT_EQ(rg_run(&p, w, nullptr, m.latents.data(), m.images.data()), RG_ERR_NULL);
  EXPECT_EQ(
      rg_run(&p, w, reinterpret_cast<char*>(m.arena.data()) + 2, m.latents.data(), m.images.data()),
      RG_ERR_MISALIGNED);
  EXPECT_EQ(rg_run(&p, w, m.arena.data(), m.latents.data(), m.arena.data() + 64),
            RG_ERR_OVERLAP);  // images in the arena
  EXPECT_EQ(rg_run(&p, w, m.arena.data(), m.images.data(), m.images.data()), RG_ERR_OVERLAP);
  EXPECT_EQ(rg_run(&p, reinterpret_cast<const float*>(m.arena.data()), m.arena.data(),
                   m.latents.data(), m.images.data()),
            RG_ERR_OVERLAP);  // weights in the arena
  // A plan whose bytes were changed after validation: rg_run checks each kernel again.
  std::vector<uint8_t> g = f;
  ASSERT_EQ(rg_plan_validate(g.data(), g.size(), &p), RG_OK);
  rg_kernel_record r = record_of(g, 2);
  r.slot[RG_SLOT_Y].offset = ~uint64_t(3);
  std::memcpy(g.data() + sizeof(rg_plan_header) + 2 * sizeof r, &r, sizeof r);
  EXPECT_EQ(rg_run(&p, rg_plan_weights(&p), m.arena.data(), m.latents.data(), m.images.data()),
            RG_ERR_REGION);
}

TEST(PlanFile, EveryStatusHasAMessage) {
  for (int s = RG_OK; s <= RG_ERR_OVERLAP; ++s)
    EXPECT_GT(std::strlen(rg_status_text(rg_status(s))), 1u) << s;
  EXPECT_STREQ(rg_status_text(rg_status(99)), "unknown status");
}

TEST(PlanFile, Crc32IsZlibs) {
  const char* s = "123456789";
  EXPECT_EQ(rg_crc32(0, s, 9), 0xcbf43926u);                      // the CRC-32 check value
  EXPECT_EQ(rg_crc32(rg_crc32(0, s, 4), s + 4, 5), 0xcbf43926u);  // incremental
}

}  // namespace
