// SPDX-License-Identifier: Apache-2.0
/* The plan file that `ralsgan export` writes and the C runtime runs
 * (docs/embedded.md describes every field). Shared by the exporter (C++) and
 * the runtime (C11): one definition of the bytes.
 *
 * All integers are little-endian; the structs below are the exact on-disk
 * layout (static assertions fix their sizes and offsets). The runtime copies
 * them out of the file with memcpy, so the file needs no alignment of its own;
 * only the float regions it runs on do. */
#ifndef RG_PLAN_FORMAT_H
#define RG_PLAN_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RG_PLAN_MAGIC "RGPLAN\x1a\n" /* 8 bytes; \x1a\n catch text-mode transfers */
#define RG_PLAN_VERSION 1u
#define RG_PLAN_ALIGNMENT 64u /* of the weights section and of every weight in it */
#define RG_PLAN_MAX_KERNELS 64u
#define RG_PLAN_MAX_EPILOGUE 4u

/* How the weights section stores each weight (header.dtype); activations,
 * latents and images are always f32. */
enum rg_weight_type {
  RG_WEIGHTS_F32 = 0,
  RG_WEIGHTS_BF16 = 1 /* the upper 16 bits of the f32, rounded to nearest even */
};

/* Regions a tensor reference points into; all four are owned by the caller. */
enum rg_region {
  RG_REGION_NONE = 0,    /* slot unused */
  RG_REGION_ARENA = 1,   /* intermediate activations and kernel scratch (read-write) */
  RG_REGION_WEIGHTS = 2, /* the plan's weights section (read-only) */
  RG_REGION_LATENTS = 3, /* the batch's latents, f32 [batch, nz] (read-only) */
  RG_REGION_IMAGES = 4   /* the batch's images, f32 [batch, 3, size, size] (written) */
};

/* Kernel kinds: the fusion-group anchors of the generator's plan. */
enum rg_op {
  /* y = conv_transpose2d(x, w): the reference backend's backward-data GEMM + col2im */
  RG_OP_CONV_TRANSPOSE2D = 1,
  /* y = (x - mean) / sqrt(var + eps) * gamma + beta, in double */
  RG_OP_BATCH_NORM = 2
};

/* Elementwise ops fused after the anchor, applied in place on y in order. */
enum rg_epilogue {
  RG_EPI_RELU = 1,
  RG_EPI_TANH = 2,
  RG_EPI_ADD_CHANNEL = 3 /* y[n, c, h, w] += bias[c] (slot RG_SLOT_BIAS) */
};

/* Operand slots of a kernel record. */
enum rg_slot {
  RG_SLOT_X = 0,       /* input activations */
  RG_SLOT_W = 1,       /* conv weight [Cx, Cy, kh, kw] / batch-norm gamma [C] */
  RG_SLOT_BETA = 2,    /* batch norm */
  RG_SLOT_MEAN = 3,    /* batch norm running mean */
  RG_SLOT_VAR = 4,     /* batch norm running variance */
  RG_SLOT_Y = 5,       /* output */
  RG_SLOT_SCRATCH = 6, /* conv: the im2col columns, [Cy * kh * kw, Hx * Wx] */
  RG_SLOT_BIAS = 7,    /* RG_EPI_ADD_CHANNEL's operand [Cy] */
  RG_SLOT_COUNT = 8
};

/* Where one tensor lives: a byte range of a region. */
typedef struct rg_tensor_ref {
  uint32_t region;   /* enum rg_region */
  uint32_t reserved; /* 0 */
  uint64_t offset;   /* bytes from the region's start; a multiple of the element size */
  uint64_t bytes;    /* exactly what the kernel reads or writes there (weights: in dtype) */
} rg_tensor_ref;

/* One fusion group of the compiled plan, in schedule order. Geometry in the
 * transposed convolution's own terms: x [n, cx, hx, wx] -> y [n, cy, hy, wy]
 * with hy = (hx - 1) * stride - 2 * pad + k. Batch norm uses n, cx, hx, wx. */
typedef struct rg_kernel_record {
  uint32_t op;                             /* enum rg_op */
  uint32_t epilogue_count;                 /* <= RG_PLAN_MAX_EPILOGUE */
  uint32_t epilogue[RG_PLAN_MAX_EPILOGUE]; /* enum rg_epilogue */
  uint32_t n, cx, hx, wx, cy, hy, wy, kh, kw, stride_h, stride_w, pad_h, pad_w;
  uint32_t reserved0; /* 0 */
  double eps;         /* batch norm */
  rg_tensor_ref slot[RG_SLOT_COUNT];
} rg_kernel_record;

/* The file: this header, kernel_count records, zero padding to
 * weights_offset, weights_bytes of f32 weights. */
typedef struct rg_plan_header {
  char magic[8];           /* RG_PLAN_MAGIC */
  uint32_t version;        /* RG_PLAN_VERSION */
  uint32_t crc32;          /* CRC-32 (zlib's) of bytes [16, file_bytes) */
  uint64_t file_bytes;     /* the whole file */
  uint64_t arena_bytes;    /* the engine's arena: activations and scratch */
  uint64_t weights_offset; /* a multiple of alignment */
  uint64_t weights_bytes;
  uint64_t latents_bytes; /* batch * nz * 4 */
  uint64_t images_bytes;  /* batch * channels * image_size^2 * 4 */
  uint32_t alignment;     /* RG_PLAN_ALIGNMENT */
  uint32_t batch;
  uint32_t image_size;
  uint32_t channels; /* 3 */
  uint32_t nz;
  uint32_t kernel_count;
  uint32_t kernel_record_bytes; /* sizeof(rg_kernel_record) */
  uint32_t dtype;               /* enum rg_weight_type */
  uint8_t reserved[48];         /* 0 */
} rg_plan_header;

#ifdef __cplusplus
static_assert(sizeof(rg_tensor_ref) == 24, "plan format: tensor ref is 24 bytes");
static_assert(sizeof(rg_kernel_record) == 280, "plan format: kernel record is 280 bytes");
static_assert(sizeof(rg_plan_header) == 144, "plan format: header is 144 bytes");
#else
_Static_assert(sizeof(rg_tensor_ref) == 24, "plan format: tensor ref is 24 bytes");
_Static_assert(sizeof(rg_kernel_record) == 280, "plan format: kernel record is 280 bytes");
_Static_assert(sizeof(rg_plan_header) == 144, "plan format: header is 144 bytes");
#endif

#ifdef __cplusplus
}
#endif

#endif /* RG_PLAN_FORMAT_H */
