// SPDX-License-Identifier: Apache-2.0
/* Written by `ralsgan export` from tiny_G.safetensors: the sizes of model.rgplan's regions
 * (docs/embedded.md). Allocate them, then rg_plan_validate and rg_run. */
#ifndef RG_MODEL_H
#define RG_MODEL_H

#define RG_MODEL_PLAN_BYTES 8588u /* the whole plan file */
#define RG_MODEL_ARENA_BYTES 143616u /* caller-owned scratch for activations */
#define RG_MODEL_WEIGHTS_BYTES 5900u /* f32 weights, at RG_MODEL_WEIGHTS_OFFSET in the file */
#define RG_MODEL_WEIGHTS_OFFSET 2688u /* bytes */
#define RG_MODEL_LATENTS_BYTES 32u /* f32 [batch, nz] */
#define RG_MODEL_IMAGES_BYTES 24576u /* f32 [batch, 3, size, size] */
#define RG_MODEL_ALIGNMENT 64u /* of the weights section; give every region this alignment */
#define RG_MODEL_BATCH 2u /* images per rg_run */
#define RG_MODEL_IMAGE_SIZE 32u /* pixels per side */
#define RG_MODEL_NZ 4u /* latent size */
#define RG_MODEL_KERNELS 9u /* kernel records */
#define RG_MODEL_WEIGHT_TYPE 0u /* 0: f32, 1: bf16 (enum rg_weight_type) */
#define RG_MODEL_CRC32 0x6f0496d6u /* of the plan file, bytes 16 .. end */

#endif
