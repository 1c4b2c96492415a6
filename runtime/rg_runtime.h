// SPDX-License-Identifier: Apache-2.0
/* The embedded runtime (docs/embedded.md): validates a plan file written by
 * `ralsgan export` or `rg export`, then runs it on memory the caller owns.
 * C11, no heap, no threads, no I/O; libm only (tanhf, expf, exp, log, sqrt).
 *
 *   rg_plan plan;
 *   if (rg_plan_validate(file, file_bytes, &plan) != RG_OK) ...;
 *   memcpy(rg_io_data(&plan, arena, 0), input, bytes);
 *   rg_run(&plan, rg_plan_weights(&plan), arena);
 *   read rg_io_data(&plan, arena, rg_plan_find_io(&plan, "images"));
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
  RG_ERR_KERNEL = 7,     /* unknown op or chain instruction, or an impossible geometry */
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
 * header fields, the input/output table, and every kernel and chain (op,
 * geometry, and each tensor's region, alignment and bounds, outputs disjoint
 * from inputs). On RG_OK fills *plan. */
rg_status rg_plan_validate(const void* file, size_t file_bytes, rg_plan* plan);

/* The caller's arena: header.arena_bytes, 8-byte aligned (64 is better). */
uint64_t rg_plan_arena_bytes(const rg_plan* plan);
/* The weights section inside the file (zero-copy): f32 or bf16 as
 * header.dtype says; aligned as the file's buffer is, up to 64 bytes. */
const void* rg_plan_weights(const rg_plan* plan);

/* The named inputs and outputs (in the model's order, inputs first). */
uint32_t rg_plan_io_count(const rg_plan* plan);
/* Copies entry i out of the plan; RG_ERR_NULL / RG_ERR_HEADER for a bad index. */
rg_status rg_plan_io(const rg_plan* plan, uint32_t i, rg_io_record* out);
/* The index of the input or output called `name`, or -1. */
int32_t rg_plan_find_io(const rg_plan* plan, const char* name);
/* Where entry i's f32 data lives in `arena` (null for a bad index): write an
 * input there before rg_run, read an output after it. */
float* rg_io_data(const rg_plan* plan, void* arena, uint32_t i);

/* Runs the plan once on the caller's regions. weights: header.weights_bytes
 * (e.g. rg_plan_weights), arena: header.arena_bytes with the inputs written
 * in; 4-byte aligned weights, 8-byte aligned arena, not overlapping. */
rg_status rg_run(const rg_plan* plan, const void* weights, void* arena);

/* CRC-32 as zlib's crc32(crc, data, n): start with crc = 0. */
uint32_t rg_crc32(uint32_t crc, const void* data, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* RG_RUNTIME_H */
