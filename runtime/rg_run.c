/* SPDX-License-Identifier: Apache-2.0 */
/* rg_run: replays the plan's kernels in schedule order on the caller's regions. */
#include <stdint.h>

#include "rg_kernels.h"
#include "rg_plan_internal.h"
#include "rg_runtime.h"

typedef struct regions {
  const rg_plan_header* h;
  uint8_t* arena;
  const uint8_t* weights;
} regions;

static int disjoint(const void* a, uint64_t a_bytes, const void* b, uint64_t b_bytes) {
  const uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return a_bytes == 0 || b_bytes == 0 || x + a_bytes <= y || y + b_bytes <= x;
}

/* An arena tensor (null when the slot is unused). */
static float* at(const regions* g, const rg_tensor_ref* t) {
  return t->region == RG_REGION_ARENA ? (float*)(void*)(g->arena + (size_t)t->offset) : 0;
}

/* A tensor in the arena (f32) or the weights (header.dtype; int8 plans keep
 * only convolution weights in int8, the rest in f32). */
static rg_typed typed(const regions* g, const rg_tensor_ref* t) {
  rg_typed r = {0, RG_WEIGHTS_F32, 0, 1};
  if (t->region == RG_REGION_ARENA) r.p = g->arena + (size_t)t->offset;
  if (t->region == RG_REGION_WEIGHTS) {
    r.p = g->weights + (size_t)t->offset;
    r.type = g->h->dtype == RG_WEIGHTS_BF16 ? RG_WEIGHTS_BF16 : RG_WEIGHTS_F32;
  }
  return r;
}

/* A convolution's weights: in int8 plans int8, with their scales. */
static rg_typed conv_weights(const regions* g, const rg_kernel_record* r) {
  rg_typed w = typed(g, &r->slot[RG_SLOT_W]);
  if (g->h->dtype == RG_WEIGHTS_INT8 && r->slot[RG_SLOT_W].region == RG_REGION_WEIGHTS)
    w.type = RG_WEIGHTS_INT8, w.scale = (const float*)(const void*)(g->weights + (size_t)r->slot[RG_SLOT_AUX].offset);
  return w;
}

static void run_chain(const regions* g, const rg_plan* plan, uint32_t index) {
  rg_chain_record c;
  rg_plan_chain(plan, index, &c);
  rg_chain_operands o;
  for (uint32_t k = 0; k < c.n_loads; ++k) o.load[k] = typed(g, &c.loads[k].t);
  for (uint32_t k = 0; k < c.n_stores; ++k) o.store[k] = at(g, &c.stores[k].t);
  rg_chain(&c, &o);
}

rg_status rg_run(const rg_plan* plan, const void* weights, void* arena) {
  if (!plan || !plan->bytes || !weights || (!arena && plan->header.arena_bytes)) return RG_ERR_NULL;
  if ((uintptr_t)weights % sizeof(float) != 0 || (uintptr_t)arena % sizeof(double) != 0)
    return RG_ERR_MISALIGNED;
  const rg_plan_header* h = &plan->header;
  if (!disjoint(arena, h->arena_bytes, weights, h->weights_bytes)) return RG_ERR_OVERLAP;
  const regions g = {h, (uint8_t*)arena, (const uint8_t*)weights};
  for (uint32_t k = 0; k < h->kernel_count; ++k) {
    rg_kernel_record r;
    rg_plan_kernel(plan, k, &r);
    /* Checked again (cheap): the plan's bytes are the caller's and may have
     * changed since validation. A chain's record is checked here too. */
    const rg_status s = rg_check_kernel(plan, &r);
    if (s != RG_OK) return s;
    const rg_tensor_ref* t = r.slot;
    switch (r.op) {
      case RG_OP_CONV2D:
        rg_conv2d(r.p, at(&g, &t[RG_SLOT_X]), conv_weights(&g, &r), at(&g, &t[RG_SLOT_Y]),
                  at(&g, &t[RG_SLOT_SCRATCH]));
        break;
      case RG_OP_CONV_TRANSPOSE2D:
        rg_conv_transpose2d(r.p, at(&g, &t[RG_SLOT_X]), conv_weights(&g, &r), at(&g, &t[RG_SLOT_Y]),
                            at(&g, &t[RG_SLOT_SCRATCH]));
        break;
      case RG_OP_BATCH_NORM:
        rg_batch_norm(r.p, r.f, at(&g, &t[RG_SLOT_X]), typed(&g, &t[RG_SLOT_W]),
                      typed(&g, &t[RG_SLOT_BETA]), typed(&g, &t[RG_SLOT_MEAN]),
                      typed(&g, &t[RG_SLOT_VAR]), at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_POOL:
        rg_pool(r.p, at(&g, &t[RG_SLOT_X]), at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_MATMUL:
        rg_matmul(r.p, typed(&g, &t[RG_SLOT_X]), typed(&g, &t[RG_SLOT_W]), at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_REDUCE:
        rg_reduce(r.p, at(&g, &t[RG_SLOT_X]), (double*)(void*)at(&g, &t[RG_SLOT_SCRATCH]),
                  at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_SOFTMAX:
        rg_softmax(r.p, at(&g, &t[RG_SLOT_X]), at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_COPY:
        rg_copy(r.p, typed(&g, &t[RG_SLOT_X]), at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_FILL:
        rg_fill(r.p, r.f, at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_LRN:
        rg_lrn(r.p, at(&g, &t[RG_SLOT_X]), at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_GATHER:
        rg_gather(r.p, r.f, at(&g, &t[RG_SLOT_X]), g.weights + (size_t)t[RG_SLOT_AUX].offset,
                  at(&g, &t[RG_SLOT_Y]));
        break;
      case RG_OP_RESIZE_BILINEAR:
        rg_resize_bilinear(r.p, at(&g, &t[RG_SLOT_X]), g.weights + (size_t)t[RG_SLOT_AUX].offset,
                           at(&g, &t[RG_SLOT_Y]));
        break;
      default: /* RG_OP_CHAIN; rg_check_kernel refuses the rest */
        run_chain(&g, plan, r.p[RG_P_CHAIN_INDEX]);
        break;
    }
  }
  return RG_OK;
}
