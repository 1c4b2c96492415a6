/* SPDX-License-Identifier: Apache-2.0 */
/* A bare-metal use of the runtime: one image of a 32-px plan into static
 * regions, no operating system, no heap, no I/O. Built for Cortex-M4F by the
 * arm-none-eabi build (runtime/CMakeLists.txt, newlib's libm and nosys stubs)
 * to show that the runtime links whole there, and to measure its size:
 *   arm-none-eabi-size build/release/runtime-baremetal/rg_baremetal
 * A firmware links its own plan bytes as rg_plan_file (for example with
 * `ld -r -b binary` or a const array generated from model.rgplan) and takes
 * its region sizes from the exported model.h; RG_PLAN_PLACEHOLDER supplies an
 * empty plan (rg_plan_validate refuses it) for the size measurement. */
#include <stddef.h>
#include <stdint.h>

#include "rg_generate.h"
#include "rg_runtime.h"

#ifndef RG_MODEL_ARENA_BYTES /* the golden 32-px generator at batch 1 (docs/embedded.md) */
#define RG_MODEL_ARENA_BYTES 197120u
#define RG_MODEL_IMAGE_SIZE 32u
#define RG_MODEL_NZ 128u
#endif
#define RG_Z_INDEX 0u      /* RG_MODEL_INPUT_Z_INDEX of its model.h */
#define RG_IMAGES_INDEX 1u /* RG_MODEL_OUTPUT_IMAGES_INDEX */

extern const uint8_t rg_plan_file[];
extern const size_t rg_plan_file_bytes;
#ifdef RG_PLAN_PLACEHOLDER
_Alignas(64) const uint8_t rg_plan_file[16];
const size_t rg_plan_file_bytes = sizeof rg_plan_file;
#endif

static _Alignas(64) float arena[RG_MODEL_ARENA_BYTES / 4];
uint8_t rg_rgb[3 * RG_MODEL_IMAGE_SIZE * RG_MODEL_IMAGE_SIZE]; /* the result, for a display driver */

int main(void) {
  rg_plan plan;
  rg_status s = rg_plan_validate(rg_plan_file, rg_plan_file_bytes, &plan);
  if (s != RG_OK) return (int)s;
  float* latents = rg_io_data(&plan, arena, RG_Z_INDEX);
  const float* images = rg_io_data(&plan, arena, RG_IMAGES_INDEX);
  if (rg_plan_arena_bytes(&plan) > sizeof arena || !latents || !images) return -1;
  rg_latent_vector(3, RG_STREAM_GENERATION, 0, latents, RG_MODEL_NZ);
  s = rg_run(&plan, rg_plan_weights(&plan), arena);
  if (s == RG_OK) rg_quantize_image(images, RG_MODEL_IMAGE_SIZE, rg_rgb);
  return (int)s;
}
