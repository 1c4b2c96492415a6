// SPDX-License-Identifier: Apache-2.0
/* Shared by the runtime's own files: reading and checking plan records. */
#ifndef RG_PLAN_INTERNAL_H
#define RG_PLAN_INTERNAL_H

#include "rg_runtime.h"

/* Copy record k out of the plan (the file needs no alignment); k < its count. */
void rg_plan_kernel(const rg_plan* plan, uint32_t k, rg_kernel_record* out);
void rg_plan_chain(const rg_plan* plan, uint32_t k, rg_chain_record* out);
/* Op, geometry, and every slot's region, alignment, bounds and overlaps; a
 * chain kernel's chain record too. */
rg_status rg_check_kernel(const rg_plan* plan, const rg_kernel_record* r);
rg_status rg_check_chain(const rg_plan_header* h, const rg_chain_record* c);
/* Bytes of one element of a tensor in `region`: 4, or 2 for bf16 weights. */
uint64_t rg_element_bytes(const rg_plan_header* h, uint32_t region);

#endif /* RG_PLAN_INTERNAL_H */
