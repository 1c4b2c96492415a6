// SPDX-License-Identifier: Apache-2.0
/* Shared by the runtime's own files: reading and checking kernel records. */
#ifndef RG_PLAN_INTERNAL_H
#define RG_PLAN_INTERNAL_H

#include "rg_runtime.h"

/* Copies record k out of the plan (the file needs no alignment). */
void rg_plan_kernel(const rg_plan* plan, uint32_t k, rg_kernel_record* out);
/* Op, geometry, and every slot's region, alignment, bounds and overlaps. */
rg_status rg_check_kernel(const rg_plan_header* h, const rg_kernel_record* r);
uint64_t rg_region_bytes(const rg_plan_header* h, uint32_t region);
/* Bytes of one weight: 4 (f32) or 2 (bf16). */
uint64_t rg_weight_bytes(const rg_plan_header* h);

#endif /* RG_PLAN_INTERNAL_H */
