/* SPDX-License-Identifier: Apache-2.0 */
/* Plan validation (docs/embedded.md, "Validation"): every check that keeps
 * rg_run inside the caller's regions happens here, before anything runs. Sizes
 * are multiplied with overflow checks, so an absurd field is an error code. */
#include <string.h>

#include "rg_kernels.h"
#include "rg_plan_internal.h"
#include "rg_runtime.h"

/* Bounds that no model reaches and that keep every product far from
 * overflow (the products are checked too; the region bounds keep every
 * index inside size_t on 32-bit targets). */
#define RG_MAX_DIM (1u << 24)
#define RG_MAX_REGION_BYTES ((uint64_t)1 << 40)

const char* rg_status_text(rg_status s) {
  switch (s) {
    case RG_OK:
      return "ok";
    case RG_ERR_NULL:
      return "a required pointer is null";
    case RG_ERR_TRUNCATED:
      return "truncated plan: shorter than its header says";
    case RG_ERR_MAGIC:
      return "not a plan file (wrong magic)";
    case RG_ERR_VERSION:
      return "unsupported plan format version (version 1 plans: export again with this version)";
    case RG_ERR_CHECKSUM:
      return "checksum mismatch: the plan file is corrupted";
    case RG_ERR_HEADER:
      return "inconsistent or out-of-range header field";
    case RG_ERR_KERNEL:
      return "unknown kernel or chain instruction, or impossible geometry";
    case RG_ERR_REGION:
      return "tensor outside its region or in the wrong region";
    case RG_ERR_MISALIGNED:
      return "offset or pointer not aligned for f32";
    case RG_ERR_OVERLAP:
      return "overlapping regions or kernel operands";
  }
  return "unknown status";
}

/* CRC-32 (the polynomial of zlib and PNG), four bits at a time: a 64-byte
 * table instead of 1 KiB, fast enough for a check done once per load. */
uint32_t rg_crc32(uint32_t crc, const void* data, size_t n) {
  static const uint32_t kNibble[16] = {0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
                                       0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
                                       0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
                                       0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
  const uint8_t* p = (const uint8_t*)data;
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    crc = (crc >> 4) ^ kNibble[crc & 15u];
    crc = (crc >> 4) ^ kNibble[crc & 15u];
  }
  return ~crc;
}

/* *out = a * b; 0 on overflow. */
static int mul_u64(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* *out = the product of n words; 0 on overflow. */
static int product(const uint32_t* v, size_t n, uint64_t* out) {
  uint64_t r = 1;
  for (size_t i = 0; i < n; ++i)
    if (!mul_u64(r, v[i], &r)) return 0;
  *out = r;
  return 1;
}

static int all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return 0;
  return 1;
}

static uint64_t tables_end(const rg_plan_header* h) {
  return sizeof(rg_plan_header) + (uint64_t)h->io_count * sizeof(rg_io_record) +
         (uint64_t)h->kernel_count * sizeof(rg_kernel_record) +
         (uint64_t)h->chain_count * sizeof(rg_chain_record);
}

static rg_status check_header(const rg_plan_header* h, size_t file_bytes) {
  if (h->file_bytes > file_bytes) return RG_ERR_TRUNCATED;
  if (h->file_bytes < file_bytes)
    return RG_ERR_HEADER; /* bytes past the end: not what was exported */
  if (h->alignment != RG_PLAN_ALIGNMENT || h->dtype > RG_WEIGHTS_INT8 ||
      h->io_record_bytes != sizeof(rg_io_record) ||
      h->kernel_record_bytes != sizeof(rg_kernel_record) ||
      h->chain_record_bytes != sizeof(rg_chain_record) || !all_zero(h->reserved, sizeof h->reserved))
    return RG_ERR_HEADER;
  /* No kernels is a model whose outputs are views of its inputs (a reshape). */
  if (h->io_count == 0 || h->io_count > RG_PLAN_MAX_IO || h->kernel_count > RG_PLAN_MAX_KERNELS ||
      h->chain_count > h->kernel_count)
    return RG_ERR_HEADER;
  if (h->arena_bytes > RG_MAX_REGION_BYTES || h->arena_bytes > SIZE_MAX) return RG_ERR_HEADER;
  if (h->weights_offset % RG_PLAN_ALIGNMENT != 0 || h->weights_offset < tables_end(h) ||
      h->weights_offset > h->file_bytes || h->weights_bytes != h->file_bytes - h->weights_offset ||
      h->weights_bytes % rg_element_bytes(h, RG_REGION_WEIGHTS) != 0)
    return RG_ERR_HEADER;
  return RG_OK;
}

uint64_t rg_element_bytes(const rg_plan_header* h, uint32_t region) {
  return region == RG_REGION_WEIGHTS && h->dtype == RG_WEIGHTS_BF16 ? 2 : sizeof(float);
}

/* A convolution weight's bytes: 4, 2 (bf16) or 1 (int8). */
static uint64_t conv_weight_bytes(const rg_plan_header* h) {
  return h->dtype == RG_WEIGHTS_INT8 ? 1 : rg_element_bytes(h, RG_REGION_WEIGHTS);
}

static uint64_t region_bytes(const rg_plan_header* h, uint32_t region) {
  return region == RG_REGION_ARENA ? h->arena_bytes : region == RG_REGION_WEIGHTS ? h->weights_bytes : 0;
}

/* A tensor of `elements` in one of the `allowed` regions (bit per enum
 * rg_region), inside it and aligned; `elements` 0 means the slot is unused.
 * `align`, where not 0, is the offset's alignment instead of the element size. */
static rg_status check_ref(const rg_plan_header* h, const rg_tensor_ref* t, uint32_t allowed,
                           uint64_t elements, uint64_t align, uint64_t elt_override) {
  if (elements == 0)
    return t->region == RG_REGION_NONE && t->offset == 0 && t->bytes == 0 && t->reserved == 0
               ? RG_OK
               : RG_ERR_KERNEL;
  if (t->reserved != 0 || t->region == RG_REGION_NONE) return RG_ERR_KERNEL;
  if (t->region > RG_REGION_WEIGHTS || !(allowed >> t->region & 1u)) return RG_ERR_REGION;
  const uint64_t elt = elt_override ? elt_override : rg_element_bytes(h, t->region);
  uint64_t bytes;
  if (!mul_u64(elements, elt, &bytes) || t->bytes != bytes) return RG_ERR_KERNEL;
  if (t->offset % (align ? align : elt) != 0) return RG_ERR_MISALIGNED;
  const uint64_t size = region_bytes(h, t->region);
  if (t->bytes > size || t->offset > size - t->bytes) return RG_ERR_REGION;
  return RG_OK;
}

#define ARENA (1u << RG_REGION_ARENA)
#define TYPED (1u << RG_REGION_ARENA | 1u << RG_REGION_WEIGHTS)

static int same_range(const rg_tensor_ref* a, const rg_tensor_ref* b) {
  return a->region == b->region && a->offset == b->offset && a->bytes == b->bytes;
}

static int overlap(const rg_tensor_ref* a, const rg_tensor_ref* b) {
  return a->region == b->region && a->region != RG_REGION_NONE &&
         a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
}

/* Words [0, n) in [lo, RG_MAX_DIM], words [n, RG_PLAN_PARAMS) zero. */
static int params_ok(const uint32_t* p, size_t n, uint32_t lo) {
  for (size_t i = 0; i < RG_PLAN_PARAMS; ++i)
    if (i < n ? p[i] < lo || p[i] > RG_MAX_DIM : p[i] != 0) return 0;
  return 1;
}

static int flag(uint32_t v) {
  return v <= 1;
}

/* 1 + the largest offset sum (dims[d] - 1) * strides[d]; 0 on overflow. */
static uint64_t extent(const uint32_t* dims, const uint32_t* strides, uint32_t rank) {
  uint64_t e = 0, t;
  for (uint32_t d = 0; d < rank; ++d) {
    if (!mul_u64(dims[d] - 1u, strides[d], &t) || e + t < e) return 0;
    e += t;
  }
  return e + 1;
}

/* dims[0, rank) >= 1 and the rest of the 8 zero; rank in [1, 8]. */
static int shape_ok(const uint32_t* dims, uint32_t rank) {
  if (rank == 0 || rank > RG_PLAN_MAX_RANK) return 0;
  for (uint32_t d = 0; d < RG_PLAN_MAX_RANK; ++d)
    if (d < rank ? dims[d] == 0 : dims[d] != 0) return 0;
  return 1;
}

/* Expected elements per slot (0: unused) and each slot's regions. */
typedef struct slot_spec {
  uint64_t elements[RG_SLOT_COUNT];
  uint32_t allowed[RG_SLOT_COUNT];
} slot_spec;

static rg_status check_conv(const rg_kernel_record* r, slot_spec* s) {
  const uint32_t* p = r->p;
  if (!params_ok(p, RG_P_CONV_COUNT, 0)) return RG_ERR_KERNEL;
  const uint32_t positive[] = {RG_P_CONV_N,  RG_P_CONV_CIN, RG_P_CONV_H,      RG_P_CONV_W,
                               RG_P_CONV_COUT, RG_P_CONV_HO, RG_P_CONV_WO,   RG_P_CONV_KH,
                               RG_P_CONV_KW, RG_P_CONV_GROUPS, RG_P_CONV_SH, RG_P_CONV_SW,
                               RG_P_CONV_DH, RG_P_CONV_DW, RG_P_CONV_SLAB};
  for (size_t i = 0; i < sizeof positive / sizeof positive[0]; ++i)
    if (p[positive[i]] == 0) return RG_ERR_KERNEL;
  const uint32_t g = p[RG_P_CONV_GROUPS];
  if (p[RG_P_CONV_CIN] % g != 0 || p[RG_P_CONV_COUT] % g != 0 || r->f != 0.0) return RG_ERR_KERNEL;
  const uint32_t x[] = {p[RG_P_CONV_N], p[RG_P_CONV_CIN], p[RG_P_CONV_H], p[RG_P_CONV_W]};
  const uint32_t y[] = {p[RG_P_CONV_N], p[RG_P_CONV_COUT], p[RG_P_CONV_HO], p[RG_P_CONV_WO]};
  const uint32_t rows[] = {p[RG_P_CONV_CIN] / g, p[RG_P_CONV_KH], p[RG_P_CONV_KW]};
  const uint32_t cols[] = {p[RG_P_CONV_HO], p[RG_P_CONV_WO]};
  uint64_t xe, ye, we, re, cole, ce;
  if (!product(x, 4, &xe) || !product(y, 4, &ye) || !product(rows, 3, &re) || !product(cols, 2, &cole))
    return RG_ERR_KERNEL;
  /* The weights in panels: per group, A [M, K] with M rounded up to whole panels. */
  const int forward = r->op == RG_OP_CONV2D;
  const uint64_t gout = p[RG_P_CONV_COUT] / g, M = forward ? gout : re, K = forward ? re : gout;
  if (!mul_u64((M + RG_PLAN_PANEL - 1) / RG_PLAN_PANEL * RG_PLAN_PANEL, K, &we) || !mul_u64(we, g, &we))
    return RG_ERR_KERNEL;
  /* The scratch holds one slab: columns of all rows (conv2d) or rows of all columns. */
  const uint32_t slab = p[RG_P_CONV_SLAB];
  if (slab > (forward ? cole : re) || !mul_u64(forward ? re : cole, slab, &ce))
    return RG_ERR_KERNEL;
  s->elements[RG_SLOT_X] = forward ? xe : ye, s->allowed[RG_SLOT_X] = ARENA;
  s->elements[RG_SLOT_Y] = forward ? ye : xe, s->allowed[RG_SLOT_Y] = ARENA;
  s->elements[RG_SLOT_W] = we, s->allowed[RG_SLOT_W] = TYPED; /* in panels: packed at export, or by copies */
  s->elements[RG_SLOT_SCRATCH] = ce, s->allowed[RG_SLOT_SCRATCH] = ARENA;
  return RG_OK;
}

/* int8 plans: a scale per output channel (conv2d: c_out; transposed: c_in)
 * for weights in the weights section (computed ones are f32 in the arena). */
static void conv_scales(const rg_plan_header* h, const rg_kernel_record* r, slot_spec* s) {
  if (h->dtype != RG_WEIGHTS_INT8 || r->slot[RG_SLOT_W].region != RG_REGION_WEIGHTS) return;
  s->elements[RG_SLOT_AUX] = r->op == RG_OP_CONV2D ? r->p[RG_P_CONV_COUT] : r->p[RG_P_CONV_CIN];
  s->allowed[RG_SLOT_AUX] = 1u << RG_REGION_WEIGHTS;
}

static rg_status check_op(const rg_plan* plan, const rg_kernel_record* r, slot_spec* s) {
  const uint32_t* p = r->p;
  uint64_t e, e2;
  switch (r->op) {
    case RG_OP_CONV2D:
    case RG_OP_CONV_TRANSPOSE2D: {
      const rg_status st = check_conv(r, s);
      conv_scales(&plan->header, r, s);
      return st;
    }
    case RG_OP_BATCH_NORM:
      if (!params_ok(p, RG_P_BN_COUNT, 1) || !product(p, 4, &e)) return RG_ERR_KERNEL;
      if (!(r->f >= 0.0 && r->f < 1.0)) return RG_ERR_KERNEL; /* also refuses NaN */
      s->elements[RG_SLOT_X] = s->elements[RG_SLOT_Y] = e;
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA;
      for (uint32_t k = RG_SLOT_W; k <= RG_SLOT_VAR; ++k)
        s->elements[k] = p[RG_P_BN_C], s->allowed[k] = TYPED;
      return RG_OK;
    case RG_OP_POOL: {
      if (!params_ok(p, RG_P_POOL_COUNT, 0) || !flag(p[RG_P_POOL_MAX]) ||
          !flag(p[RG_P_POOL_COUNT_INCLUDE_PAD]) || r->f != 0.0)
        return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_POOL_PLANES; k <= RG_P_POOL_DW; ++k)
        if (p[k] == 0 && k != RG_P_POOL_PH && k != RG_P_POOL_PW && k != RG_P_POOL_PH_END &&
            k != RG_P_POOL_PW_END)
          return RG_ERR_KERNEL;
      const uint32_t x[] = {p[RG_P_POOL_PLANES], p[RG_P_POOL_H], p[RG_P_POOL_W]};
      const uint32_t y[] = {p[RG_P_POOL_PLANES], p[RG_P_POOL_HO], p[RG_P_POOL_WO]};
      if (!product(x, 3, &e) || !product(y, 3, &e2)) return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = e, s->elements[RG_SLOT_Y] = e2;
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA;
      return RG_OK;
    }
    case RG_OP_MATMUL: {
      if (!params_ok(p, RG_P_MM_COUNT, 0) || !flag(p[RG_P_MM_TA]) || !flag(p[RG_P_MM_TB]) ||
          r->f != 0.0)
        return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_MM_BATCH; k <= RG_P_MM_N; ++k)
        if (p[k] == 0) return RG_ERR_KERNEL;
      const uint32_t a[] = {p[RG_P_MM_M], p[RG_P_MM_K]}, b[] = {p[RG_P_MM_K], p[RG_P_MM_N]};
      const uint32_t y[] = {p[RG_P_MM_BATCH], p[RG_P_MM_M], p[RG_P_MM_N]};
      uint64_t ae, be, ye;
      if (!product(a, 2, &ae) || !product(b, 2, &be) || !product(y, 3, &ye)) return RG_ERR_KERNEL;
      /* Each operand is one matrix (stride 0: broadcast) or one per batch entry. */
      if ((p[RG_P_MM_A_STRIDE] != 0 && p[RG_P_MM_A_STRIDE] != ae) ||
          (p[RG_P_MM_B_STRIDE] != 0 && p[RG_P_MM_B_STRIDE] != be))
        return RG_ERR_KERNEL;
      if ((p[RG_P_MM_A_STRIDE] && !mul_u64(ae, p[RG_P_MM_BATCH], &ae)) ||
          (p[RG_P_MM_B_STRIDE] && !mul_u64(be, p[RG_P_MM_BATCH], &be)))
        return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = ae, s->allowed[RG_SLOT_X] = TYPED;
      s->elements[RG_SLOT_W] = be, s->allowed[RG_SLOT_W] = TYPED;
      s->elements[RG_SLOT_Y] = ye, s->allowed[RG_SLOT_Y] = ARENA;
      return RG_OK;
    }
    case RG_OP_REDUCE: {
      const uint32_t rank = p[RG_P_RED_RANK];
      if (!flag(p[RG_P_RED_MEAN]) || !shape_ok(p + RG_P_RED_DIMS, rank) || r->f != 0.0)
        return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_RED_STRIDES + rank; k < RG_PLAN_PARAMS; ++k)
        if (p[k] != 0) return RG_ERR_KERNEL;
      if (!product(p + RG_P_RED_DIMS, rank, &e) || e != p[RG_P_RED_IN] || p[RG_P_RED_OUT] == 0 ||
          p[RG_P_RED_OUT] > RG_MAX_DIM || p[RG_P_RED_IN] > RG_MAX_DIM ||
          extent(p + RG_P_RED_DIMS, p + RG_P_RED_STRIDES, rank) != p[RG_P_RED_OUT])
        return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = e, s->elements[RG_SLOT_Y] = p[RG_P_RED_OUT];
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA;
      /* Double accumulators: two f32 elements each, 8-aligned (checked by the caller). */
      if (p[RG_P_RED_OUT] > 1)
        s->elements[RG_SLOT_SCRATCH] = 2 * (uint64_t)p[RG_P_RED_OUT], s->allowed[RG_SLOT_SCRATCH] = ARENA;
      return RG_OK;
    }
    case RG_OP_SOFTMAX:
      if (!params_ok(p, RG_P_SM_COUNT, 0) || !flag(p[RG_P_SM_SOFTMAX]) || p[RG_P_SM_ROWS] == 0 ||
          p[RG_P_SM_LENGTH] == 0 || p[RG_P_SM_INNER] == 0 ||
          p[RG_P_SM_ROWS] % p[RG_P_SM_INNER] != 0 || !product(p, 2, &e) || r->f != 0.0)
        return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = s->elements[RG_SLOT_Y] = e;
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA;
      return RG_OK;
    case RG_OP_COPY: {
      const uint32_t rank = p[RG_P_COPY_RANK];
      if (!shape_ok(p + RG_P_COPY_DIMS, rank) || r->f != 0.0) return RG_ERR_KERNEL;
      for (uint32_t d = rank; d < RG_PLAN_MAX_RANK; ++d)
        if (p[RG_P_COPY_SRC + d] || p[RG_P_COPY_DST + d]) return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_COPY_COUNT; k < RG_PLAN_PARAMS; ++k)
        if (p[k] != 0) return RG_ERR_KERNEL;
      /* The strides address exactly the ranges given: no more, no less. */
      e = extent(p + RG_P_COPY_DIMS, p + RG_P_COPY_SRC, rank);
      e2 = extent(p + RG_P_COPY_DIMS, p + RG_P_COPY_DST, rank);
      if (e == 0 || e2 == 0) return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = e, s->allowed[RG_SLOT_X] = TYPED;
      s->elements[RG_SLOT_Y] = e2, s->allowed[RG_SLOT_Y] = ARENA;
      return RG_OK;
    }
    case RG_OP_FILL:
      if (!params_ok(p, RG_P_FILL_COUNT, 1)) return RG_ERR_KERNEL;
      s->elements[RG_SLOT_Y] = p[RG_P_FILL_COUNT_ELEMENTS], s->allowed[RG_SLOT_Y] = ARENA;
      return RG_OK;
    case RG_OP_LRN: {
      for (uint32_t k = RG_P_LRN_COUNT; k < RG_PLAN_PARAMS; ++k)
        if (p[k] != 0) return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_LRN_N; k <= RG_P_LRN_SIZE; ++k)
        if (p[k] > RG_MAX_DIM || (p[k] == 0 && k != RG_P_LRN_BEFORE && k != RG_P_LRN_AFTER))
          return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_LRN_ALPHA; k < RG_P_LRN_COUNT; k += 2) {
        const double d = rg_param_double(p + k);
        if (!(d > -1e300 && d < 1e300)) return RG_ERR_KERNEL; /* finite, not NaN */
      }
      if (!product(p, 3, &e) || r->f != 0.0) return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = s->elements[RG_SLOT_Y] = e;
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA;
      return RG_OK;
    }
    case RG_OP_GATHER: {
      const uint32_t rank = p[RG_P_GATHER_RANK];
      if (!shape_ok(p + RG_P_GATHER_OUT, rank) || !shape_ok(p + RG_P_GATHER_IN, rank)) return RG_ERR_KERNEL;
      for (uint32_t k = RG_P_GATHER_COUNT; k < RG_PLAN_PARAMS; ++k)
        if (p[k] != 0) return RG_ERR_KERNEL;
      uint64_t maps = 0;
      for (uint32_t d = 0; d < rank; ++d) maps += p[RG_P_GATHER_OUT + d];
      if (!product(p + RG_P_GATHER_IN, rank, &e) || !product(p + RG_P_GATHER_OUT, rank, &e2)) return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = e, s->elements[RG_SLOT_Y] = e2, s->elements[RG_SLOT_AUX] = maps;
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA, s->allowed[RG_SLOT_AUX] = 1u << RG_REGION_WEIGHTS;
      return RG_OK;
    }
    case RG_OP_RESIZE_BILINEAR: {
      if (!params_ok(p, RG_P_BL_COUNT, 1) || r->f != 0.0) return RG_ERR_KERNEL;
      const uint32_t x[] = {p[RG_P_BL_PLANES], p[RG_P_BL_H], p[RG_P_BL_W]};
      const uint32_t y[] = {p[RG_P_BL_PLANES], p[RG_P_BL_HO], p[RG_P_BL_WO]};
      if (!product(x, 3, &e) || !product(y, 3, &e2)) return RG_ERR_KERNEL;
      s->elements[RG_SLOT_X] = e, s->elements[RG_SLOT_Y] = e2;
      s->elements[RG_SLOT_AUX] = (uint64_t)p[RG_P_BL_HO] + p[RG_P_BL_WO];
      s->allowed[RG_SLOT_X] = s->allowed[RG_SLOT_Y] = ARENA, s->allowed[RG_SLOT_AUX] = 1u << RG_REGION_WEIGHTS;
      return RG_OK;
    }
    case RG_OP_CHAIN: {
      if (!params_ok(p, RG_P_CHAIN_COUNT, 0) || p[RG_P_CHAIN_INDEX] >= plan->header.chain_count ||
          r->f != 0.0)
        return RG_ERR_KERNEL;
      rg_chain_record c;
      rg_plan_chain(plan, p[RG_P_CHAIN_INDEX], &c);
      return rg_check_chain(&plan->header, &c);
    }
    default:
      return RG_ERR_KERNEL;
  }
}

rg_status rg_check_kernel(const rg_plan* plan, const rg_kernel_record* r) {
  if (r->reserved0 != 0) return RG_ERR_KERNEL;
  slot_spec spec;
  memset(&spec, 0, sizeof spec);
  rg_status s = check_op(plan, r, &spec);
  if (s != RG_OK) return s;
  const int conv = r->op == RG_OP_CONV2D || r->op == RG_OP_CONV_TRANSPOSE2D;
  for (uint32_t i = 0; i < RG_SLOT_COUNT; ++i) {
    const uint64_t align = (r->op == RG_OP_REDUCE && i == RG_SLOT_SCRATCH) ||
                                   (r->op == RG_OP_RESIZE_BILINEAR && i == RG_SLOT_AUX)
                               ? 8
                               : 0;
    uint64_t elt = conv && i == RG_SLOT_W && r->slot[i].region == RG_REGION_WEIGHTS ? conv_weight_bytes(&plan->header) : 0;
    if (i == RG_SLOT_AUX && r->op == RG_OP_GATHER) elt = 4;  /* u32 maps */
    if (i == RG_SLOT_AUX && r->op == RG_OP_RESIZE_BILINEAR) elt = sizeof(rg_bilinear_tap);
    if ((s = check_ref(&plan->header, &r->slot[i], spec.allowed[i], spec.elements[i], align, elt)) != RG_OK)
      return s;
  }
  /* What a kernel writes (y, scratch) overlaps nothing else it touches;
   * batch norm may write over its input, exactly (element by element). */
  const rg_tensor_ref* y = &r->slot[RG_SLOT_Y];
  const rg_tensor_ref* scratch = &r->slot[RG_SLOT_SCRATCH];
  for (uint32_t i = 0; i < RG_SLOT_COUNT; ++i) {
    const int in_place = r->op == RG_OP_BATCH_NORM && i == RG_SLOT_X && same_range(y, &r->slot[i]);
    if (i != RG_SLOT_Y && !in_place && overlap(y, &r->slot[i])) return RG_ERR_OVERLAP;
    if (i != RG_SLOT_SCRATCH && overlap(scratch, &r->slot[i])) return RG_ERR_OVERLAP;
  }
  return RG_OK;
}

rg_status rg_check_chain(const rg_plan_header* h, const rg_chain_record* c) {
  if (!shape_ok(c->dims, c->rank) || c->n_loads > RG_CHAIN_MAX_LOADS || c->n_stores == 0 ||
      c->n_stores > RG_CHAIN_MAX_STORES || c->n_code > RG_CHAIN_MAX_CODE ||
      c->n_consts > RG_CHAIN_MAX_CONSTS || c->n_regs == 0 || c->n_regs > RG_CHAIN_MAX_REGS)
    return RG_ERR_KERNEL;
  /* Unused entries are zero: one meaning per byte. */
  if (!all_zero((const uint8_t*)(c->loads + c->n_loads), (RG_CHAIN_MAX_LOADS - c->n_loads) * sizeof c->loads[0]) ||
      !all_zero((const uint8_t*)(c->stores + c->n_stores), (RG_CHAIN_MAX_STORES - c->n_stores) * sizeof c->stores[0]) ||
      !all_zero((const uint8_t*)(c->code + c->n_code), (RG_CHAIN_MAX_CODE - c->n_code) * sizeof c->code[0]) ||
      !all_zero((const uint8_t*)(c->consts + c->n_consts), (RG_CHAIN_MAX_CONSTS - c->n_consts) * sizeof c->consts[0]))
    return RG_ERR_KERNEL;
  uint64_t total;
  if (!product(c->dims, c->rank, &total)) return RG_ERR_KERNEL;
  rg_status s;
  for (uint32_t k = 0; k < c->n_loads; ++k) {
    const rg_chain_load* l = &c->loads[k];
    if (l->reg >= c->n_regs || !flag(l->full)) return RG_ERR_KERNEL;
    for (uint32_t d = l->full ? 0 : c->rank; d < RG_PLAN_MAX_RANK; ++d)
      if (l->strides[d] != 0) return RG_ERR_KERNEL;
    const uint64_t e = l->full ? total : extent(c->dims, l->strides, c->rank);
    if (e == 0) return RG_ERR_KERNEL;
    if ((s = check_ref(h, &l->t, TYPED, e, 0, 0)) != RG_OK) return s;
  }
  for (uint32_t k = 0; k < c->n_stores; ++k) {
    const rg_chain_store* st = &c->stores[k];
    if (st->reg >= c->n_regs || st->reserved != 0) return RG_ERR_KERNEL;
    if ((s = check_ref(h, &st->t, ARENA, total, 0, 0)) != RG_OK) return s;
    for (uint32_t j = 0; j < k; ++j)
      if (overlap(&st->t, &c->stores[j].t)) return RG_ERR_OVERLAP;
    /* In place only over a whole load of the same range: each element is
     * read before it is written. */
    for (uint32_t j = 0; j < c->n_loads; ++j)
      if (overlap(&st->t, &c->loads[j].t) && !(c->loads[j].full && same_range(&st->t, &c->loads[j].t)))
        return RG_ERR_OVERLAP;
  }
  for (uint32_t k = 0; k < c->n_code; ++k) {
    const rg_chain_instr* in = &c->code[k];
    if (in->op > RG_CHAIN_SELECT_POSITIVE || in->x >= c->n_regs || in->out >= c->n_regs ||
        !all_zero(in->reserved, sizeof in->reserved))
      return RG_ERR_KERNEL;
    const int unary = in->op == RG_CHAIN_TANH || in->op == RG_CHAIN_EXP;
    const int select = in->op == RG_CHAIN_SELECT_POSITIVE;
    if (unary ? in->y != RG_CHAIN_NO_REG : in->y >= c->n_regs) return RG_ERR_KERNEL;
    if (select ? in->z >= c->n_regs : in->z != RG_CHAIN_NO_REG) return RG_ERR_KERNEL;
  }
  for (uint32_t k = 0; k < c->n_consts; ++k)
    if (c->consts[k].reg >= c->n_regs) return RG_ERR_KERNEL;
  return RG_OK;
}

static rg_status check_io(const rg_plan_header* h, const rg_io_record* io) {
  size_t len = 0;
  while (len < RG_PLAN_NAME_BYTES && io->name[len]) ++len;
  if (len == 0 || len == RG_PLAN_NAME_BYTES ||
      !all_zero((const uint8_t*)io->name + len, RG_PLAN_NAME_BYTES - len))
    return RG_ERR_HEADER;
  if ((io->role != RG_IO_INPUT && io->role != RG_IO_OUTPUT) || io->rank > RG_PLAN_MAX_RANK)
    return RG_ERR_HEADER;
  uint64_t e = 1;
  for (uint32_t d = 0; d < RG_PLAN_MAX_RANK; ++d) {
    if (d < io->rank ? io->dims[d] == 0 || io->dims[d] > RG_MAX_DIM : io->dims[d] != 0)
      return RG_ERR_HEADER;
    if (d < io->rank && !mul_u64(e, io->dims[d], &e)) return RG_ERR_HEADER;
  }
  const rg_status s = check_ref(h, &io->t, ARENA, e, 0, 0);
  return s == RG_ERR_KERNEL ? RG_ERR_HEADER : s;
}

rg_status rg_plan_validate(const void* file, size_t file_bytes, rg_plan* plan) {
  if (!file || !plan) return RG_ERR_NULL;
  const uint8_t* bytes = (const uint8_t*)file;
  if (file_bytes < sizeof(rg_plan_header)) {
    /* Too short for a header: say "not a plan" when even the magic is wrong. */
    const size_t n = file_bytes < 8 ? file_bytes : 8;
    return memcmp(bytes, RG_PLAN_MAGIC, n) != 0 ? RG_ERR_MAGIC : RG_ERR_TRUNCATED;
  }
  rg_plan_header h;
  memcpy(&h, bytes, sizeof h);
  if (memcmp(h.magic, RG_PLAN_MAGIC, 8) != 0) return RG_ERR_MAGIC;
  if (h.version != RG_PLAN_VERSION) return RG_ERR_VERSION;
  if (h.file_bytes > file_bytes) return RG_ERR_TRUNCATED;
  if (h.file_bytes >= 16 && rg_crc32(0, bytes + 16, (size_t)h.file_bytes - 16) != h.crc32)
    return RG_ERR_CHECKSUM;
  rg_status s = check_header(&h, file_bytes);
  if (s != RG_OK) return s;
  rg_plan p = {bytes, file_bytes, h};
  for (uint32_t i = 0; i < h.io_count && s == RG_OK; ++i) {
    rg_io_record io;
    rg_plan_io(&p, i, &io);
    s = check_io(&h, &io);
    for (uint32_t j = 0; j < i && s == RG_OK; ++j) {
      rg_io_record other;
      rg_plan_io(&p, j, &other);
      if (strncmp(io.name, other.name, RG_PLAN_NAME_BYTES) == 0) s = RG_ERR_HEADER;
    }
  }
  for (uint32_t k = 0; k < h.chain_count && s == RG_OK; ++k) {
    rg_chain_record c;
    rg_plan_chain(&p, k, &c);
    s = rg_check_chain(&h, &c);
  }
  for (uint32_t k = 0; k < h.kernel_count && s == RG_OK; ++k) {
    rg_kernel_record r;
    rg_plan_kernel(&p, k, &r);
    s = rg_check_kernel(&p, &r);
  }
  if (s != RG_OK) {
    memset(plan, 0, sizeof *plan);
    return s;
  }
  *plan = p;
  return RG_OK;
}

static size_t io_table(void) {
  return sizeof(rg_plan_header);
}

void rg_plan_kernel(const rg_plan* plan, uint32_t k, rg_kernel_record* out) {
  memcpy(out,
         plan->bytes + io_table() + (size_t)plan->header.io_count * sizeof(rg_io_record) +
             (size_t)k * sizeof(rg_kernel_record),
         sizeof *out);
}

void rg_plan_chain(const rg_plan* plan, uint32_t k, rg_chain_record* out) {
  memcpy(out,
         plan->bytes + io_table() + (size_t)plan->header.io_count * sizeof(rg_io_record) +
             (size_t)plan->header.kernel_count * sizeof(rg_kernel_record) +
             (size_t)k * sizeof(rg_chain_record),
         sizeof *out);
}

uint64_t rg_plan_arena_bytes(const rg_plan* plan) {
  return plan ? plan->header.arena_bytes : 0;
}

const void* rg_plan_weights(const rg_plan* plan) {
  if (!plan || !plan->bytes) return NULL;
  return plan->bytes + plan->header.weights_offset;
}

uint32_t rg_plan_io_count(const rg_plan* plan) {
  return plan && plan->bytes ? plan->header.io_count : 0;
}

rg_status rg_plan_io(const rg_plan* plan, uint32_t i, rg_io_record* out) {
  if (!plan || !plan->bytes || !out) return RG_ERR_NULL;
  if (i >= plan->header.io_count) return RG_ERR_HEADER;
  memcpy(out, plan->bytes + io_table() + (size_t)i * sizeof(rg_io_record), sizeof *out);
  return RG_OK;
}

int32_t rg_plan_find_io(const rg_plan* plan, const char* name) {
  if (!name) return -1;
  for (uint32_t i = 0; i < rg_plan_io_count(plan); ++i) {
    rg_io_record io;
    if (rg_plan_io(plan, i, &io) == RG_OK && strncmp(io.name, name, RG_PLAN_NAME_BYTES) == 0 &&
        strlen(name) < RG_PLAN_NAME_BYTES)
      return (int32_t)i;
  }
  return -1;
}

float* rg_io_data(const rg_plan* plan, void* arena, uint32_t i) {
  rg_io_record io;
  if (!arena || rg_plan_io(plan, i, &io) != RG_OK) return NULL;
  /* Checked at validation; checked again, as rg_run does, against changed bytes. */
  if (io.t.region != RG_REGION_ARENA || io.t.offset % sizeof(float) != 0 ||
      io.t.bytes > plan->header.arena_bytes || io.t.offset > plan->header.arena_bytes - io.t.bytes)
    return NULL;
  return (float*)(void*)((uint8_t*)arena + (size_t)io.t.offset);
}
