/* SPDX-License-Identifier: Apache-2.0 */
/* rg_run: replays the plan's kernels in schedule order on the caller's regions. */
#include <stdint.h>

#include "rg_kernels.h"
#include "rg_plan_internal.h"
#include "rg_runtime.h"

typedef struct regions {
  uint8_t* base[RG_REGION_IMAGES + 1]; /* indexed by enum rg_region */
} regions;

static int aligned(const void* p) {
  return (uintptr_t)p % sizeof(float) == 0;
}

static int disjoint(const void* a, uint64_t a_bytes, const void* b, uint64_t b_bytes) {
  const uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return a_bytes == 0 || b_bytes == 0 || x + a_bytes <= y || y + b_bytes <= x;
}

static float* at(const regions* g, const rg_tensor_ref* t) {
  return t->region == RG_REGION_NONE ? 0 : (float*)(void*)(g->base[t->region] + (size_t)t->offset);
}

/* A weight tensor (null when the slot is unused), typed as the plan's weights are. */
static rg_weights weights_at(const regions* g, const rg_plan_header* h, const rg_tensor_ref* t) {
  const rg_weights w = {t->region == RG_REGION_NONE ? 0 : g->base[t->region] + (size_t)t->offset,
                        h->dtype};
  return w;
}

rg_status rg_run(const rg_plan* plan, const void* weights, void* arena, const float* latents,
                 float* images) {
  if (!plan || !plan->bytes || !weights || !latents || !images ||
      (!arena && plan->header.arena_bytes))
    return RG_ERR_NULL;
  if (!aligned(weights) || !aligned(arena) || !aligned(latents) || !aligned(images))
    return RG_ERR_MISALIGNED;
  const rg_plan_header* h = &plan->header;
  /* The weights may be read by all; what is written must not alias anything. */
  const void* ptr[] = {arena, weights, latents, images};
  const uint64_t len[] = {h->arena_bytes, h->weights_bytes, h->latents_bytes, h->images_bytes};
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      if (!disjoint(ptr[i], len[i], ptr[j], len[j])) return RG_ERR_OVERLAP;
  regions g = {{0, (uint8_t*)arena, (uint8_t*)(uintptr_t)weights, (uint8_t*)(uintptr_t)latents,
                (uint8_t*)images}};
  for (uint32_t k = 0; k < h->kernel_count; ++k) {
    rg_kernel_record r;
    rg_plan_kernel(plan, k, &r);
    /* Checked again (cheap): the plan's bytes are the caller's and may have changed since
     * validation. */
    const rg_status s = rg_check_kernel(h, &r);
    if (s != RG_OK) return s;
    const float* x = at(&g, &r.slot[RG_SLOT_X]);
    float* y = at(&g, &r.slot[RG_SLOT_Y]);
    size_t channels, plane;
    if (r.op == RG_OP_CONV_TRANSPOSE2D) {
      rg_conv_transpose2d(&r, x, weights_at(&g, h, &r.slot[RG_SLOT_W]), y,
                          at(&g, &r.slot[RG_SLOT_SCRATCH]));
      channels = r.cy, plane = (size_t)r.hy * r.wy;
    } else {
      rg_batch_norm(
          &r, x, weights_at(&g, h, &r.slot[RG_SLOT_W]), weights_at(&g, h, &r.slot[RG_SLOT_BETA]),
          weights_at(&g, h, &r.slot[RG_SLOT_MEAN]), weights_at(&g, h, &r.slot[RG_SLOT_VAR]), y);
      channels = r.cx, plane = (size_t)r.hx * r.wx;
    }
    rg_epilogue(&r, y, r.n, channels, plane, weights_at(&g, h, &r.slot[RG_SLOT_BIAS]));
  }
  return RG_OK;
}
