// SPDX-License-Identifier: Apache-2.0
/* Written by `ralsgan export` from tiny_G.safetensors: the sizes of model.rgplan's regions and its inputs and
 * outputs (docs/embedded.md). Allocate them, then rg_plan_validate and rg_run. */
#ifndef RG_MODEL_H
#define RG_MODEL_H

#define RG_MODEL_PLAN_BYTES 16524u /* the whole plan file */
#define RG_MODEL_ARENA_BYTES 49408u /* caller-owned memory: inputs, outputs, activations, scratch */
#define RG_MODEL_WEIGHTS_BYTES 5900u /* weights, at RG_MODEL_WEIGHTS_OFFSET in the file */
#define RG_MODEL_WEIGHTS_OFFSET 10624u /* bytes */
#define RG_MODEL_ALIGNMENT 64u /* of the weights section; give every region this alignment */
#define RG_MODEL_KERNELS 14u /* kernel records */
#define RG_MODEL_WEIGHT_TYPE 0u /* 0: f32, 1: bf16 (enum rg_weight_type) */
#define RG_MODEL_INPUT_Z_INDEX 0u /* "z", f32 [2, 4]: rg_io_data(plan, arena, i) */
#define RG_MODEL_INPUT_Z_BYTES 32u /* bytes */
#define RG_MODEL_OUTPUT_IMAGES_INDEX 1u /* "images", f32 [2, 3, 32, 32]: rg_io_data(plan, arena, i) */
#define RG_MODEL_OUTPUT_IMAGES_BYTES 24576u /* bytes */
#define RG_MODEL_CRC32 0x65446524u /* of the plan file, bytes 16 .. end */

#endif
