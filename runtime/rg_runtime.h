// SPDX-License-Identifier: Apache-2.0
/* The embedded generator runtime (docs/embedded.md): validates a plan file
 * written by `ralsgan export`, then runs it on memory the caller owns. C11, no
 * heap, no threads, no I/O; libm only (tanhf, sqrt).
 *
 *   rg_plan plan;
 *   if (rg_plan_validate(file, file_bytes, &plan) != RG_OK) ...;
 *   rg_run(&plan, rg_plan_weights(&plan), arena, latents, images);
 *
 * Every function returns an rg_status; none aborts, none reads or writes
 * outside the regions it was given. */
#ifndef RG_RUNTIME_H
#define RG_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "rg_plan_format.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rg_status {
  RG_OK = 0,
  RG_ERR_NULL = 1,       /* a required pointer is null */
  RG_ERR_TRUNCATED = 2,  /* the buffer is shorter than the header or than file_bytes says */
  RG_ERR_MAGIC = 3,      /* not a plan file */
  RG_ERR_VERSION = 4,    /* a plan of another format version */
  RG_ERR_CHECKSUM = 5,   /* the CRC-32 does not match the bytes */
  RG_ERR_HEADER = 6,     /* a header field is inconsistent or out of range (absurd sizes) */
  RG_ERR_KERNEL = 7,     /* unknown op or epilogue, or an impossible geometry */
  RG_ERR_REGION = 8,     /* a tensor reference names the wrong region or lies outside it */
  RG_ERR_MISALIGNED = 9, /* an offset or a caller's pointer is not aligned for f32 */
  RG_ERR_OVERLAP = 10 /* a kernel's output overlaps its inputs, or the caller's regions overlap */
} rg_status;

/* One line of English per status, for logs ("checksum mismatch", ...). */
const char* rg_status_text(rg_status status);

/* A validated plan: a view of the caller's file bytes (not copied). */
typedef struct rg_plan {
  const uint8_t* bytes;
  size_t size;
  rg_plan_header header;
} rg_plan;

/* Checks everything before anything runs: size, magic, version, checksum,
 * header fields, and every kernel (op, geometry, and each tensor's region,
 * alignment and bounds, outputs disjoint from inputs). On RG_OK fills *plan. */
rg_status rg_plan_validate(const void* file, size_t file_bytes, rg_plan* plan);

/* Sizes the caller allocates (the exported C header has them as #defines). */
uint64_t rg_plan_arena_bytes(const rg_plan* plan);
uint64_t rg_plan_latents_bytes(const rg_plan* plan);
uint64_t rg_plan_images_bytes(const rg_plan* plan);
/* The weights section inside the file (zero-copy): f32 or bf16 as
 * header.dtype says; aligned as the file's buffer is, up to 64 bytes. */
const void* rg_plan_weights(const rg_plan* plan);

/* Generates one batch: images [batch, 3, size, size] in [-1, 1] from latents
 * [batch, nz]. weights: header.weights_bytes (e.g. rg_plan_weights), arena:
 * header.arena_bytes, all 4-byte aligned; arena, latents and images must not
 * overlap each other or the weights. */
rg_status rg_run(const rg_plan* plan, const void* weights, void* arena, const float* latents,
                 float* images);

/* CRC-32 as zlib's crc32(crc, data, n): start with crc = 0. */
uint32_t rg_crc32(uint32_t crc, const void* data, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* RG_RUNTIME_H */
