// SPDX-License-Identifier: Apache-2.0
// The runtime's loader against hostile plan files (docs/embedded.md,
// "Validation"): every corruption gets its error code, none crashes (this
// test also runs under ASan/UBSan, label unit). The valid plan is
// tests/runtime/data/model.rgplan (tools/golden/make_tiny_plan.py): batch 2,
// 32 px, nz 4, inputs "z" and output "images", 14 kernels and 5 chains;
// kernel 1 is a batch norm reading the arena, kernel 2 the ReLU chain after it
// (chain 0, in place), kernel 3 a transposed convolution with arena input,
// output and scratch.
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

constexpr size_t kIo = 2, kKernels = 14, kChains = 5;
constexpr size_t kKernelsAt = sizeof(rg_plan_header) + kIo * sizeof(rg_io_record);
constexpr size_t kChainsAt = kKernelsAt + kKernels * sizeof(rg_kernel_record);

template <typename T>
T read_at(const std::vector<uint8_t>& f, size_t at) {
  T v;
  std::memcpy(&v, f.data() + at, sizeof v);
  return v;
}

rg_kernel_record record_of(const std::vector<uint8_t>& f, size_t k) {
  return read_at<rg_kernel_record>(f, kKernelsAt + k * sizeof(rg_kernel_record));
}

// The plan's tables, to edit.
struct Tables {
  rg_plan_header h;
  rg_io_record io[kIo];
  rg_kernel_record r[kKernels];
  rg_chain_record c[kChains];
};

// The tiny plan changed by `edit`, then re-sealed with a correct CRC-32 so
// that the check behind the checksum is the one that must fire.
std::vector<uint8_t> resealed(const std::function<void(Tables&)>& edit) {
  std::vector<uint8_t> f = tiny_plan();
  Tables t;
  t.h = header_of(f);
  for (size_t i = 0; i < kIo; ++i)
    t.io[i] = read_at<rg_io_record>(f, sizeof(rg_plan_header) + i * sizeof(rg_io_record));
  for (size_t k = 0; k < kKernels; ++k) t.r[k] = record_of(f, k);
  for (size_t k = 0; k < kChains; ++k) t.c[k] = read_at<rg_chain_record>(f, kChainsAt + k * sizeof(rg_chain_record));
  edit(t);
  std::memcpy(f.data(), &t.h, sizeof t.h);
  std::memcpy(f.data() + sizeof(rg_plan_header), t.io, sizeof t.io);
  std::memcpy(f.data() + kKernelsAt, t.r, sizeof t.r);
  std::memcpy(f.data() + kChainsAt, t.c, sizeof t.c);
  const uint32_t crc = rg_crc32(0, f.data() + 16, f.size() - 16);
  std::memcpy(f.data() + 12, &crc, 4);
  return f;
}

rg_status validate(const std::vector<uint8_t>& f) {
  rg_plan p;
  return rg_plan_validate(f.data(), f.size(), &p);
}

// A caller-owned, 8-byte aligned arena for a validated plan.
struct Regions {
  explicit Regions(const rg_plan& p) : storage(p.header.arena_bytes / 8 + 16) {}
  float* arena() { return reinterpret_cast<float*>(storage.data()); }
  std::vector<double> storage;
};

TEST(PlanFile, TheExportedPlanValidatesAndRuns) {
  const std::vector<uint8_t> f = tiny_plan();
  ASSERT_GT(f.size(), sizeof(rg_plan_header));
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(f.data(), f.size(), &p), RG_OK);
  EXPECT_EQ(p.header.kernel_count, kKernels);
  EXPECT_EQ(p.header.chain_count, kChains);
  ASSERT_EQ(rg_plan_io_count(&p), kIo);
  rg_io_record z, images;
  ASSERT_EQ(rg_plan_io(&p, 0, &z), RG_OK);
  ASSERT_EQ(rg_plan_io(&p, 1, &images), RG_OK);
  EXPECT_STREQ(z.name, "z");
  EXPECT_EQ(z.role, uint32_t(RG_IO_INPUT));
  EXPECT_EQ(z.rank, 2u);
  EXPECT_EQ(z.dims[0], 2u);
  EXPECT_EQ(z.dims[1], 4u);
  EXPECT_STREQ(images.name, "images");
  EXPECT_EQ(images.role, uint32_t(RG_IO_OUTPUT));
  EXPECT_EQ(images.t.bytes, 2u * 3 * 32 * 32 * 4);
  EXPECT_EQ(rg_plan_find_io(&p, "images"), 1);
  EXPECT_EQ(rg_plan_find_io(&p, "image"), -1);
  EXPECT_EQ(rg_plan_io(&p, 2, &z), RG_ERR_HEADER);
  Regions m(p);
  float* latents = rg_io_data(&p, m.arena(), 0);
  ASSERT_NE(latents, nullptr);
  for (size_t i = 0; i < 8; ++i) latents[i] = float(i) * 0.5f - 2.0f;
  // The weights section is read in place (zero copy): std::vector's buffer is aligned enough.
  ASSERT_EQ(rg_run(&p, rg_plan_weights(&p), m.arena()), RG_OK);
  const float* out = rg_io_data(&p, m.arena(), 1);
  int distinct = 0;
  for (size_t i = 0; i < 2 * 3 * 32 * 32; ++i) {
    ASSERT_TRUE(out[i] >= -1.0f && out[i] <= 1.0f) << i;
    distinct += out[i] != out[0];
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
  f[8] = 1;  // a version 1 plan: refused, and the message says to export again
  EXPECT_EQ(validate(f), RG_ERR_VERSION);
  EXPECT_NE(std::string(rg_status_text(RG_ERR_VERSION)).find("export again"), std::string::npos);
  for (size_t at : {size_t(24), kKernelsAt + 30, kChainsAt + 100, f.size() - 1}) {
    f = tiny_plan();
    f[at] ^= 0x10;
    EXPECT_EQ(validate(f), RG_ERR_CHECKSUM) << "byte " << at;
  }
  f = tiny_plan();
  f.push_back(0);  // more bytes than the header says
  EXPECT_EQ(validate(f), RG_ERR_HEADER);
}

using Edit = std::function<void(Tables&)>;

TEST(PlanFile, AbsurdOrInconsistentHeaderFieldsAndIoTable) {
  const std::vector<std::pair<const char*, Edit>> cases = {
      {"arena 2^62 bytes", [](Tables& t) { t.h.arena_bytes = uint64_t(1) << 62; }},
      {"no kernels", [](Tables& t) { t.h.kernel_count = 0; }},
      {"a million kernels", [](Tables& t) { t.h.kernel_count = 1000000; }},
      {"kernel table running into the weights", [](Tables& t) { t.h.kernel_count = 40; }},
      {"more chains than kernels", [](Tables& t) { t.h.chain_count = 15; }},
      {"no inputs or outputs", [](Tables& t) { t.h.io_count = 0; }},
      {"65 inputs and outputs", [](Tables& t) { t.h.io_count = 65; }},
      {"record size 300", [](Tables& t) { t.h.kernel_record_bytes = 300; }},
      {"chain record size 1000", [](Tables& t) { t.h.chain_record_bytes = 1000; }},
      {"io record size 100", [](Tables& t) { t.h.io_record_bytes = 100; }},
      {"weights offset not aligned", [](Tables& t) { t.h.weights_offset += 4, t.h.weights_bytes -= 4; }},
      {"weights past the end", [](Tables& t) { t.h.weights_bytes += 64; }},
      {"weights offset past the end", [](Tables& t) { t.h.weights_offset = uint64_t(1) << 63; }},
      {"alignment 16", [](Tables& t) { t.h.alignment = 16; }},
      {"weight type 7", [](Tables& t) { t.h.dtype = 7; }},
      {"weight type 3", [](Tables& t) { t.h.dtype = 3; }},
      {"reserved bytes set", [](Tables& t) { t.h.reserved[63] = 1; }},
      {"an empty name", [](Tables& t) { t.io[0].name[0] = 0; }},
      {"a name without its NUL", [](Tables& t) { std::memset(t.io[0].name, 'a', RG_PLAN_NAME_BYTES); }},
      {"bytes after the name's NUL", [](Tables& t) { t.io[0].name[40] = 'x'; }},
      {"two entries of one name", [](Tables& t) { std::memcpy(t.io[1].name, "z\0\0\0\0\0", 7); }},
      {"role 3", [](Tables& t) { t.io[0].role = 3; }},
      {"rank 9", [](Tables& t) { t.io[0].rank = 9; }},
      {"a dimension 0", [](Tables& t) { t.io[0].dims[1] = 0; }},
      {"a dimension past the rank", [](Tables& t) { t.io[0].dims[2] = 1; }},
      {"bytes not the shape's", [](Tables& t) { t.io[1].dims[0] = 3; }},
  };
  for (const auto& [what, edit] : cases) EXPECT_EQ(validate(resealed(edit)), RG_ERR_HEADER) << what;
  EXPECT_EQ(validate(resealed([](Tables& t) { t.io[1].t.region = RG_REGION_WEIGHTS; })), RG_ERR_REGION);
  EXPECT_EQ(validate(resealed([](Tables& t) { t.io[1].t.offset = t.h.arena_bytes; })), RG_ERR_REGION);
  EXPECT_EQ(validate(resealed([](Tables& t) { t.io[0].t.offset += 2; })), RG_ERR_MISALIGNED);
}

TEST(PlanFile, BadKernelsAndGeometry) {
  const std::vector<std::pair<const char*, Edit>> cases = {
      {"unknown op", [](Tables& t) { t.r[3].op = 99; }},
      {"no channels", [](Tables& t) { t.r[3].p[RG_P_CONV_COUT] = 0; }},
      {"2^30 rows", [](Tables& t) { t.r[3].p[RG_P_CONV_H] = 1u << 30; }},
      {"stride 0", [](Tables& t) { t.r[3].p[RG_P_CONV_SH] = 0; }},
      {"groups not dividing the channels", [](Tables& t) { t.r[3].p[RG_P_CONV_GROUPS] = 3; }},
      {"a geometry word past the op's", [](Tables& t) { t.r[3].p[RG_P_CONV_COUNT] = 1; }},
      {"batch norm with a fifth word", [](Tables& t) { t.r[1].p[RG_P_BN_COUNT] = 3; }},
      {"batch norm eps NaN", [](Tables& t) { t.r[1].f = std::numeric_limits<double>::quiet_NaN(); }},
      {"a convolution with f set", [](Tables& t) { t.r[3].f = 1.0; }},
      {"tensor bytes not the geometry's", [](Tables& t) { t.r[3].slot[RG_SLOT_W].bytes -= 4; }},
      {"a used slot left empty", [](Tables& t) { t.r[3].slot[RG_SLOT_SCRATCH] = rg_tensor_ref{}; }},
      {"an unused slot filled", [](Tables& t) { t.r[3].slot[RG_SLOT_MEAN] = t.r[3].slot[RG_SLOT_W]; }},
      {"reserved field set", [](Tables& t) { t.r[3].reserved0 = 1; }},
      {"f32-sized weights in a bf16 plan", [](Tables& t) { t.h.dtype = RG_WEIGHTS_BF16; }},
      {"an int8 plan without its scales", [](Tables& t) { t.h.dtype = RG_WEIGHTS_INT8; }},
      {"a scale slot in an f32 plan", [](Tables& t) { t.r[3].slot[RG_SLOT_AUX] = t.r[1].slot[RG_SLOT_MEAN]; }},
      {"a chain index past the table", [](Tables& t) { t.r[2].p[RG_P_CHAIN_INDEX] = kChains; }},
      {"a chain kernel with a slot", [](Tables& t) { t.r[2].slot[RG_SLOT_X] = t.r[1].slot[RG_SLOT_Y]; }},
      {"chain rank 0", [](Tables& t) { t.c[0].rank = 0; }},
      {"chain rank 9", [](Tables& t) { t.c[0].rank = 9; }},
      {"chain without stores", [](Tables& t) { t.c[0].n_stores = 0; }},
      {"chain of 65 registers", [](Tables& t) { t.c[0].n_regs = 65; }},
      {"chain register past n_regs", [](Tables& t) { t.c[0].code[0].out = uint8_t(t.c[0].n_regs); }},
      {"chain op 7", [](Tables& t) { t.c[0].code[0].op = 7; }},
      {"chain instruction past the count", [](Tables& t) { t.c[0].code[t.c[0].n_code].op = 1; }},
      {"a unary op reading y", [](Tables& t) { t.c[4].code[1].y = 0; }},
      {"chain load of the wrong size", [](Tables& t) { t.c[0].loads[0].t.bytes -= 4; }},
      {"full load with strides", [](Tables& t) { t.c[0].loads[0].strides[0] = 1; }},
      {"chain dims past the rank", [](Tables& t) { t.c[0].dims[t.c[0].rank] = 1; }},
  };
  for (const auto& [what, edit] : cases) EXPECT_EQ(validate(resealed(edit)), RG_ERR_KERNEL) << what;
}

TEST(PlanFile, TensorsOutsideOrInTheWrongRegion) {
  const std::vector<std::pair<const char*, Edit>> region_cases = {
      {"output past the arena", [](Tables& t) { t.r[3].slot[RG_SLOT_Y].offset = t.h.arena_bytes - 4; }},
      {"offset wrapping around 2^64", [](Tables& t) { t.r[3].slot[RG_SLOT_Y].offset = ~uint64_t(3); }},
      {"arena too small for the plan", [](Tables& t) { t.h.arena_bytes = 1024; }},
      {"weight past the weights", [](Tables& t) { t.r[1].slot[RG_SLOT_VAR].offset = t.h.weights_bytes; }},
      {"output into the weights", [](Tables& t) { t.r[3].slot[RG_SLOT_Y].region = RG_REGION_WEIGHTS; }},
      {"activations read from the weights", [](Tables& t) { t.r[3].slot[RG_SLOT_X].region = RG_REGION_WEIGHTS; }},
      {"region 9", [](Tables& t) { t.r[3].slot[RG_SLOT_X].region = 9; }},
      {"a chain storing into the weights", [](Tables& t) { t.c[0].stores[0].t.region = RG_REGION_WEIGHTS; }},
      {"a chain load past the arena", [](Tables& t) { t.c[0].loads[0].t.offset = t.h.arena_bytes; }},
  };
  for (const auto& [what, edit] : region_cases) EXPECT_EQ(validate(resealed(edit)), RG_ERR_REGION) << what;
  EXPECT_EQ(validate(resealed([](Tables& t) { t.r[3].slot[RG_SLOT_X].offset += 2; })), RG_ERR_MISALIGNED);
  EXPECT_EQ(validate(resealed([](Tables& t) { t.r[1].slot[RG_SLOT_BETA].offset += 1; })), RG_ERR_MISALIGNED);
  // Outputs over inputs or scratch: the transposed convolution would read what it already
  // overwrote.
  EXPECT_EQ(validate(resealed([](Tables& t) { t.r[3].slot[RG_SLOT_Y].offset = t.r[3].slot[RG_SLOT_X].offset; })),
            RG_ERR_OVERLAP);
  EXPECT_EQ(validate(resealed([](Tables& t) {
              t.r[3].slot[RG_SLOT_SCRATCH].offset = t.r[3].slot[RG_SLOT_Y].offset + 4;
            })),
            RG_ERR_OVERLAP);
  EXPECT_EQ(validate(resealed([](Tables& t) { t.r[1].slot[RG_SLOT_Y].offset = t.r[1].slot[RG_SLOT_X].offset + 512; })),
            RG_ERR_OVERLAP);
  // A chain may store over a whole load of the same range (chain 0 does), not partly.
  EXPECT_EQ(validate(resealed([](Tables& t) { t.c[0].stores[0].t.offset += 64; })), RG_ERR_OVERLAP);
}

TEST(PlanFile, RunRefusesBadCallerRegions) {
  const std::vector<uint8_t> f = tiny_plan();
  rg_plan p;
  ASSERT_EQ(rg_plan_validate(f.data(), f.size(), &p), RG_OK);
  Regions m(p);
  const void* w = rg_plan_weights(&p);
  EXPECT_EQ(rg_run(nullptr, w, m.arena()), RG_ERR_NULL);
  EXPECT_EQ(rg_run(&p, nullptr, m.arena()), RG_ERR_NULL);
  EXPECT_EQ(rg_run(&p, w, nullptr), RG_ERR_NULL);
  EXPECT_EQ(rg_run(&p, w, reinterpret_cast<char*>(m.arena()) + 4), RG_ERR_MISALIGNED);
  EXPECT_EQ(rg_run(&p, m.arena() + 64, m.arena()), RG_ERR_OVERLAP);  // weights in the arena
  EXPECT_EQ(rg_io_data(&p, m.arena(), 2), nullptr);
  EXPECT_EQ(rg_io_data(&p, nullptr, 0), nullptr);
  // A plan whose bytes were changed after validation: rg_run checks each kernel (and chain) again.
  std::vector<uint8_t> g = f;
  ASSERT_EQ(rg_plan_validate(g.data(), g.size(), &p), RG_OK);
  rg_kernel_record r = record_of(g, 3);
  r.slot[RG_SLOT_Y].offset = ~uint64_t(3);
  std::memcpy(g.data() + kKernelsAt + 3 * sizeof r, &r, sizeof r);
  EXPECT_EQ(rg_run(&p, rg_plan_weights(&p), m.arena()), RG_ERR_REGION);
  g = f;
  ASSERT_EQ(rg_plan_validate(g.data(), g.size(), &p), RG_OK);
  rg_chain_record c = read_at<rg_chain_record>(g, kChainsAt);
  c.stores[0].t.offset = p.header.arena_bytes;
  std::memcpy(g.data() + kChainsAt, &c, sizeof c);
  EXPECT_EQ(rg_run(&p, rg_plan_weights(&p), m.arena()), RG_ERR_REGION);
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
