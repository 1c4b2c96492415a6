// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the embedded runtime's plan loader (runtime/rg_plan.c)
// and, for whatever it accepts, rg_run itself. Each input is tried twice: as
// it is (magic, version, size and checksum checks), and with its CRC-32
// recomputed, so that mutations reach the header and kernel checks behind the
// checksum. A plan that validates must run without touching memory outside
// its arena (ASan) on an arena of exactly the header's size.
// Built by fuzz/CMakeLists.txt (the `fuzz` preset), run by tools/fuzz.sh.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "runtime/rg_runtime.h"

namespace {

// Regions of exactly the plan's sizes (no slack, so ASan sees any overrun).
struct Buffer {
  explicit Buffer(uint64_t bytes) : p(bytes ? std::malloc(size_t(bytes)) : nullptr) {}
  ~Buffer() { std::free(p); }
  void* p;
};

// Roughly the multiply-adds or elements a kernel touches.
double work_of(const rg_plan& plan, const rg_kernel_record& r) {
  const uint32_t* p = r.p;
  double prod = 1;
  switch (r.op) {
    case RG_OP_CONV2D:
    case RG_OP_CONV_TRANSPOSE2D:
      return double(p[RG_P_CONV_N]) * p[RG_P_CONV_COUT] * p[RG_P_CONV_HO] * p[RG_P_CONV_WO] *
             (double(p[RG_P_CONV_CIN]) / p[RG_P_CONV_GROUPS]) * p[RG_P_CONV_KH] * p[RG_P_CONV_KW] +
             double(p[RG_P_CONV_N]) * p[RG_P_CONV_CIN] * p[RG_P_CONV_H] * p[RG_P_CONV_W];
    case RG_OP_POOL:
      return double(p[RG_P_POOL_PLANES]) * p[RG_P_POOL_HO] * p[RG_P_POOL_WO] * p[RG_P_POOL_KH] * p[RG_P_POOL_KW];
    case RG_OP_MATMUL:
      return double(p[RG_P_MM_BATCH]) * p[RG_P_MM_M] * p[RG_P_MM_K] * p[RG_P_MM_N];
    case RG_OP_CHAIN: {
      rg_chain_record c;
      std::memcpy(&c,
                  plan.bytes + sizeof(rg_plan_header) + plan.header.io_count * sizeof(rg_io_record) +
                      plan.header.kernel_count * sizeof(rg_kernel_record) +
                      p[RG_P_CHAIN_INDEX] * sizeof(rg_chain_record),
                  sizeof c);
      for (uint32_t d = 0; d < c.rank; ++d) prod *= c.dims[d];
      return prod * (1 + c.n_code + c.n_loads);
    }
    default:
      return double(r.slot[RG_SLOT_X].bytes + r.slot[RG_SLOT_Y].bytes) / 4;
  }
}

// Skips plans whose regions or arithmetic would only make the fuzzer slow.
bool cheap_enough(const rg_plan& plan) {
  const rg_plan_header& h = plan.header;
  if (h.arena_bytes > (uint64_t(16) << 20)) return false;
  double work = 0;
  for (uint32_t k = 0; k < h.kernel_count; ++k) {
    rg_kernel_record r;
    std::memcpy(&r,
                plan.bytes + sizeof(rg_plan_header) + h.io_count * sizeof(rg_io_record) +
                    k * sizeof r,
                sizeof r);
    work += work_of(plan, r);
  }
  return work < 2e7;
}

void try_plan(const uint8_t* data, size_t size) {
  rg_plan plan;
  if (rg_plan_validate(data, size, &plan) != RG_OK || !cheap_enough(plan)) return;
  Buffer arena(plan.header.arena_bytes);  // malloc aligns to 16, more than the runtime's 8
  if (arena.p) std::memset(arena.p, 0, size_t(plan.header.arena_bytes));
  const rg_status s = rg_run(&plan, rg_plan_weights(&plan), arena.p);
  if (s != RG_OK) std::abort();  // everything rg_run checks was validated already
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A 64-byte aligned copy, as a device would hold the file (the weights are read as floats).
  std::vector<uint64_t> storage(size / 8 + 9);
  auto* copy =
      reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(storage.data()) + 63) / 64 * 64);
  std::memcpy(copy, data, size);
  try_plan(copy, size);
  if (size >= sizeof(rg_plan_header)) {
    uint64_t file_bytes;
    std::memcpy(&file_bytes, copy + 16, sizeof file_bytes);
    if (file_bytes >= 16 && file_bytes <= size) {
      const uint32_t crc = rg_crc32(0, copy + 16, size_t(file_bytes) - 16);
      std::memcpy(copy + 12, &crc, sizeof crc);
      try_plan(copy, size);
    }
  }
  return 0;
}
