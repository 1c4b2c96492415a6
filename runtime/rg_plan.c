/* SPDX-License-Identifier: Apache-2.0 */
/* Plan validation (docs/embedded.md, "Validation"): every check that keeps
 * rg_run inside the caller's regions happens here, before anything runs. Sizes
 * are multiplied with overflow checks, so an absurd field is an error code. */
#include <string.h>

#include "rg_plan_internal.h"
#include "rg_runtime.h"

/* Bounds that no generator reaches and that keep every product far from
 * overflow on 32-bit targets too (the size_t checks below do the rest). */
#define RG_MAX_DIM 65536u
#define RG_MAX_KERNEL_SIDE 64u
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
      return "unsupported plan format version";
    case RG_ERR_CHECKSUM:
      return "checksum mismatch: the plan file is corrupted";
    case RG_ERR_HEADER:
      return "inconsistent or out-of-range header field";
    case RG_ERR_KERNEL:
      return "unknown kernel, epilogue or impossible geometry";
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

static int product4(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t* out) {
  uint64_t ab, abc;
  return mul_u64(a, b, &ab) && mul_u64(ab, c, &abc) && mul_u64(abc, d, out);
}

static int all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return 0;
  return 1;
}

static rg_status check_header(const rg_plan_header* h, size_t file_bytes) {
  if (h->file_bytes > file_bytes) return RG_ERR_TRUNCATED;
  if (h->file_bytes < file_bytes)
    return RG_ERR_HEADER; /* bytes past the end: not what was exported */
  if (h->alignment != RG_PLAN_ALIGNMENT || h->dtype > RG_WEIGHTS_BF16 || h->channels != 3 ||
      h->kernel_record_bytes != sizeof(rg_kernel_record) ||
      !all_zero(h->reserved, sizeof h->reserved))
    return RG_ERR_HEADER;
  if (h->kernel_count == 0 || h->kernel_count > RG_PLAN_MAX_KERNELS) return RG_ERR_HEADER;
  if (h->batch == 0 || h->batch > RG_MAX_DIM || h->nz == 0 || h->nz > RG_MAX_DIM ||
      h->image_size == 0 || h->image_size > RG_MAX_DIM)
    return RG_ERR_HEADER;
  uint64_t latents, images;
  if (!product4(h->batch, h->nz, 1, sizeof(float), &latents) || latents != h->latents_bytes)
    return RG_ERR_HEADER;
  if (!product4(h->batch, h->channels, h->image_size, h->image_size, &images) ||
      !mul_u64(images, sizeof(float), &images) || images != h->images_bytes)
    return RG_ERR_HEADER;
  if (h->arena_bytes > RG_MAX_REGION_BYTES || h->arena_bytes > SIZE_MAX ||
      images > RG_MAX_REGION_BYTES || images > SIZE_MAX || latents > SIZE_MAX)
    return RG_ERR_HEADER;
  const uint64_t table_end =
      sizeof(rg_plan_header) + (uint64_t)h->kernel_count * sizeof(rg_kernel_record);
  if (h->weights_offset % RG_PLAN_ALIGNMENT != 0 || h->weights_offset < table_end ||
      h->weights_offset > h->file_bytes || h->weights_bytes != h->file_bytes - h->weights_offset ||
      h->weights_bytes % rg_weight_bytes(h) != 0)
    return RG_ERR_HEADER;
  return RG_OK;
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
  plan->bytes = bytes;
  plan->size = file_bytes;
  plan->header = h;
  for (uint32_t k = 0; k < h.kernel_count; ++k) {
    rg_kernel_record r;
    rg_plan_kernel(plan, k, &r);
    s = rg_check_kernel(&h, &r);
    if (s != RG_OK) {
      memset(plan, 0, sizeof *plan);
      return s;
    }
  }
  return RG_OK;
}

void rg_plan_kernel(const rg_plan* plan, uint32_t k, rg_kernel_record* out) {
  memcpy(out, plan->bytes + sizeof(rg_plan_header) + (size_t)k * sizeof(rg_kernel_record),
         sizeof *out);
}

uint64_t rg_weight_bytes(const rg_plan_header* h) {
  return h->dtype == RG_WEIGHTS_BF16 ? 2 : sizeof(float);
}

uint64_t rg_region_bytes(const rg_plan_header* h, uint32_t region) {
  switch (region) {
    case RG_REGION_ARENA:
      return h->arena_bytes;
    case RG_REGION_WEIGHTS:
      return h->weights_bytes;
    case RG_REGION_LATENTS:
      return h->latents_bytes;
    case RG_REGION_IMAGES:
      return h->images_bytes;
    default:
      return 0;
  }
}

/* The regions each slot may point into (bit per enum rg_region). */
static uint32_t allowed_regions(uint32_t slot) {
  switch (slot) {
    case RG_SLOT_X:
      return 1u << RG_REGION_ARENA | 1u << RG_REGION_LATENTS;
    case RG_SLOT_Y:
      return 1u << RG_REGION_ARENA | 1u << RG_REGION_IMAGES;
    case RG_SLOT_SCRATCH:
      return 1u << RG_REGION_ARENA;
    default:
      return 1u << RG_REGION_WEIGHTS;
  }
}

static rg_status check_ref(const rg_plan_header* h, uint32_t slot, const rg_tensor_ref* t,
                           uint64_t expected_bytes) {
  if (expected_bytes == 0)
    return t->region == RG_REGION_NONE && t->offset == 0 && t->bytes == 0 && t->reserved == 0
               ? RG_OK
               : RG_ERR_KERNEL;
  if (t->reserved != 0 || t->bytes != expected_bytes) return RG_ERR_KERNEL;
  if (t->region > RG_REGION_IMAGES || !(allowed_regions(slot) >> t->region & 1u))
    return RG_ERR_REGION;
  if (t->offset % (t->region == RG_REGION_WEIGHTS ? rg_weight_bytes(h) : sizeof(float)) != 0)
    return RG_ERR_MISALIGNED;
  const uint64_t size = rg_region_bytes(h, t->region);
  if (t->bytes > size || t->offset > size - t->bytes) return RG_ERR_REGION;
  return RG_OK;
}

static int overlap(const rg_tensor_ref* a, const rg_tensor_ref* b) {
  return a->region == b->region && a->region != RG_REGION_NONE &&
         a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
}

static int dims_ok(const rg_kernel_record* r) {
  const uint32_t d[] = {r->n, r->cx, r->hx, r->wx};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; ++i)
    if (d[i] == 0 || d[i] > RG_MAX_DIM) return 0;
  return 1;
}

/* The transposed convolution's output side: (in - 1) * stride - 2 * pad + k, or 0 when not
 * positive. */
static uint64_t conv_transpose_side(uint32_t in, uint32_t stride, uint32_t pad, uint32_t k) {
  const int64_t out = ((int64_t)in - 1) * stride - 2 * (int64_t)pad + k;
  return out > 0 ? (uint64_t)out : 0;
}

static rg_status check_geometry(const rg_plan_header* h, const rg_kernel_record* r,
                                uint64_t expected[RG_SLOT_COUNT]) {
  if (!dims_ok(r) || r->n != h->batch) return RG_ERR_KERNEL;
  uint64_t x_bytes, y_channels;
  if (!product4(r->n, r->cx, r->hx, r->wx, &x_bytes) || !mul_u64(x_bytes, sizeof(float), &x_bytes))
    return RG_ERR_KERNEL;
  expected[RG_SLOT_X] = x_bytes;
  if (r->op == RG_OP_CONV_TRANSPOSE2D) {
    if (r->cy == 0 || r->cy > RG_MAX_DIM || r->kh == 0 || r->kh > RG_MAX_KERNEL_SIDE ||
        r->kw == 0 || r->kw > RG_MAX_KERNEL_SIDE || r->stride_h == 0 ||
        r->stride_h > RG_MAX_KERNEL_SIDE || r->stride_w == 0 || r->stride_w > RG_MAX_KERNEL_SIDE ||
        r->pad_h >= r->kh || r->pad_w >= r->kw)
      return RG_ERR_KERNEL;
    if (r->hy == 0 || r->hy != conv_transpose_side(r->hx, r->stride_h, r->pad_h, r->kh) ||
        r->wy == 0 || r->wy != conv_transpose_side(r->wx, r->stride_w, r->pad_w, r->kw) ||
        r->hy > RG_MAX_DIM || r->wy > RG_MAX_DIM)
      return RG_ERR_KERNEL;
    uint64_t w, y, col;
    if (!product4(r->cx, r->cy, r->kh, r->kw, &w) || !mul_u64(w, rg_weight_bytes(h), &w) ||
        !product4(r->n, r->cy, r->hy, r->wy, &y) || !mul_u64(y, sizeof(float), &y) ||
        !product4(r->cy, r->kh, r->kw, r->hx, &col) ||
        !mul_u64(col, (uint64_t)r->wx * sizeof(float), &col))
      return RG_ERR_KERNEL;
    expected[RG_SLOT_W] = w;
    expected[RG_SLOT_Y] = y;
    expected[RG_SLOT_SCRATCH] = col;
    y_channels = r->cy;
  } else if (r->op == RG_OP_BATCH_NORM) {
    /* Unused geometry must be zero: one meaning per field. */
    if (r->cy || r->hy || r->wy || r->kh || r->kw || r->stride_h || r->stride_w || r->pad_h ||
        r->pad_w)
      return RG_ERR_KERNEL;
    if (!(r->eps > 0.0 && r->eps < 1.0)) return RG_ERR_KERNEL; /* also refuses NaN */
    expected[RG_SLOT_W] = expected[RG_SLOT_BETA] = expected[RG_SLOT_MEAN] = expected[RG_SLOT_VAR] =
        (uint64_t)r->cx * rg_weight_bytes(h);
    expected[RG_SLOT_Y] = x_bytes;
    y_channels = r->cx;
  } else {
    return RG_ERR_KERNEL;
  }
  if (r->epilogue_count > RG_PLAN_MAX_EPILOGUE) return RG_ERR_KERNEL;
  int adds = 0;
  for (uint32_t i = 0; i < RG_PLAN_MAX_EPILOGUE; ++i) {
    const uint32_t e = r->epilogue[i];
    if (i >= r->epilogue_count) {
      if (e != 0) return RG_ERR_KERNEL;
    } else if (e == RG_EPI_ADD_CHANNEL) {
      ++adds;
    } else if (e != RG_EPI_RELU && e != RG_EPI_TANH) {
      return RG_ERR_KERNEL;
    }
  }
  if (adds > 1) return RG_ERR_KERNEL; /* one bias operand */
  if (adds) expected[RG_SLOT_BIAS] = y_channels * rg_weight_bytes(h);
  return RG_OK;
}

rg_status rg_check_kernel(const rg_plan_header* h, const rg_kernel_record* r) {
  if (r->reserved0 != 0) return RG_ERR_KERNEL;
  uint64_t expected[RG_SLOT_COUNT] = {0};
  rg_status s = check_geometry(h, r, expected);
  if (s != RG_OK) return s;
  for (uint32_t i = 0; i < RG_SLOT_COUNT; ++i)
    if ((s = check_ref(h, i, &r->slot[i], expected[i])) != RG_OK) return s;
  const rg_tensor_ref* y = &r->slot[RG_SLOT_Y];
  const rg_tensor_ref* scratch = &r->slot[RG_SLOT_SCRATCH];
  if (overlap(y, &r->slot[RG_SLOT_X]) || overlap(scratch, &r->slot[RG_SLOT_X]) ||
      overlap(scratch, y))
    return RG_ERR_OVERLAP;
  return RG_OK;
}

uint64_t rg_plan_arena_bytes(const rg_plan* plan) {
  return plan ? plan->header.arena_bytes : 0;
}
uint64_t rg_plan_latents_bytes(const rg_plan* plan) {
  return plan ? plan->header.latents_bytes : 0;
}
uint64_t rg_plan_images_bytes(const rg_plan* plan) {
  return plan ? plan->header.images_bytes : 0;
}

const void* rg_plan_weights(const rg_plan* plan) {
  if (!plan || !plan->bytes) return NULL;
  return plan->bytes + plan->header.weights_offset;
}
