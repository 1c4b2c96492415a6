// SPDX-License-Identifier: Apache-2.0
/* The plan file that `ralsgan export` and `rg export` write and the C runtime
 * runs (docs/embedded.md describes every field). Shared by the exporter (C++)
 * and the runtime (C11): one definition of the bytes.
 *
 * All integers are little-endian; the structs below are the exact on-disk
 * layout (static assertions fix their sizes). The runtime copies them out of
 * the file with memcpy, so the file needs no alignment of its own; only the
 * float regions it runs on do.
 *
 * Version 2 runs any forward plan of the conv-net op set: a table of named
 * inputs and outputs (which live in the arena at the engine's offsets), the
 * kernels of every fusion group in schedule order, and the elementwise
 * chains as register programs. Version 1 (the DCGAN generator only, with
 * separate latents and images regions) is refused with RG_ERR_VERSION. */
#ifndef RG_PLAN_FORMAT_H
#define RG_PLAN_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RG_PLAN_MAGIC "RGPLAN\x1a\n" /* 8 bytes; \x1a\n catch text-mode transfers */
#define RG_PLAN_VERSION 2u
#define RG_PLAN_ALIGNMENT 64u /* of the weights section and of every weight in it */
#define RG_PLAN_MAX_KERNELS 65536u
#define RG_PLAN_MAX_IO 64u
#define RG_PLAN_MAX_RANK 8u
#define RG_PLAN_NAME_BYTES 64u /* an input's or output's name, NUL-padded UTF-8 */
#define RG_PLAN_PARAMS 32u     /* geometry words of a kernel record */
#define RG_CHAIN_MAX_LOADS 8u
#define RG_CHAIN_MAX_STORES 4u
#define RG_CHAIN_MAX_CODE 32u
#define RG_CHAIN_MAX_CONSTS 16u
#define RG_CHAIN_MAX_REGS 64u
#define RG_CHAIN_NO_REG 255u /* an operand an instruction does not read */
/* Convolution weights are stored as the matrix product's A operand in
 * panels of RG_PLAN_PANEL rows (runtime/rg_gemm.h): per group, panels of
 * [K][RG_PLAN_PANEL] values, rows past M zero. conv2d: A = W_g [c_out / groups,
 * c_in / groups * kh * kw]; transposed: A = W_g^T. */
#define RG_PLAN_PANEL 16u

/* How the weights section stores each weight (header.dtype); activations are
 * always f32. */
enum rg_weight_type {
  RG_WEIGHTS_F32 = 0,
  RG_WEIGHTS_BF16 = 1, /* the upper 16 bits of the f32, rounded to nearest even */
  /* Convolution weights as int8 with one f32 scale per output channel
   * (slot RG_SLOT_AUX; weight = q * scale); every other weight f32. */
  RG_WEIGHTS_INT8 = 2
};

/* Regions a tensor reference points into; both are owned by the caller. */
enum rg_region {
  RG_REGION_NONE = 0,   /* slot unused */
  RG_REGION_ARENA = 1,  /* inputs, outputs, activations and kernel scratch (read-write, f32) */
  RG_REGION_WEIGHTS = 2 /* the plan's weights section (read-only, header.dtype) */
};

/* Kernel kinds. Each is the reference backend's loop for that op, in the same
 * order of operations (backends/ref/), so results are bit-identical. The
 * geometry words p[] of each are listed with the RG_P_* indices below. */
enum rg_op {
  RG_OP_CONV2D = 1,           /* y = conv2d(x, w): im2col + f32 GEMM, k ascending */
  RG_OP_CONV_TRANSPOSE2D = 2, /* x = conv2d's backward-data(y, w): f32 W^T GEMM + col2im */
  RG_OP_BATCH_NORM = 3,       /* inference, running statistics, in double; f = eps */
  RG_OP_POOL = 4,             /* max or average pooling over 2-D windows */
  RG_OP_MATMUL = 5,           /* y[t] = op(a[t]) @ op(b[t]), accumulated in double */
  RG_OP_REDUCE = 6,           /* mean or sum over axes, in double */
  RG_OP_SOFTMAX = 7,          /* softmax or log_softmax along an axis, in double */
  RG_OP_COPY = 8,             /* y[dst(e)] = x[src(e)] over a shape: concat, transpose, broadcast */
  RG_OP_FILL = 9,             /* y = f (as f32) */
  RG_OP_CHAIN = 10,           /* a fused elementwise chain: chain record p[0] */
  RG_OP_LRN = 11,             /* local response normalisation across channels, in double */
  RG_OP_GATHER = 12,          /* pad and nearest resize: y[o] = x[per-axis maps] or f */
  RG_OP_RESIZE_BILINEAR = 13  /* per plane, with taps (weights in double) from the table */
};

/* Operand slots of a kernel record. "Typed" slots may point into the weights
 * (read as header.dtype); the others are f32 arena tensors. */
enum rg_slot {
  RG_SLOT_X = 0,       /* input (matmul: a, typed; copy: typed) */
  RG_SLOT_W = 1,       /* conv weight in panels (RG_PLAN_PANEL) / bn gamma / matmul b (typed) */
  RG_SLOT_BETA = 2,    /* batch norm (typed) */
  RG_SLOT_MEAN = 3,    /* batch norm running mean (typed) */
  RG_SLOT_VAR = 4,     /* batch norm running variance (typed) */
  RG_SLOT_Y = 5,       /* output */
  RG_SLOT_SCRATCH = 6, /* conv: a slab of im2col columns; reduce: double accumulators */
  RG_SLOT_AUX = 7,     /* a table in the weights section: int8 conv: f32 scale per output
                          channel; gather: u32 index maps; bilinear: rg_bilinear_tap rows, cols */
  RG_SLOT_COUNT = 8
};

/* Geometry words. Convolutions, in conv2d's terms (x [n, c_in, h, w] ->
 * y [n, c_out, ho, wo], weight [c_out, c_in / groups, kh, kw]); a transposed
 * convolution reads conv2d's y and writes its x. */
enum rg_conv_param {
  RG_P_CONV_N, RG_P_CONV_CIN, RG_P_CONV_H, RG_P_CONV_W, RG_P_CONV_COUT, RG_P_CONV_HO,
  RG_P_CONV_WO, RG_P_CONV_KH, RG_P_CONV_KW, RG_P_CONV_GROUPS, RG_P_CONV_SH, RG_P_CONV_SW,
  RG_P_CONV_PH, RG_P_CONV_PW, RG_P_CONV_DH, RG_P_CONV_DW,
  RG_P_CONV_SLAB, /* im2col columns per pass (conv2d) or rows (transposed): the scratch's size */
  RG_P_CONV_COUNT
};
/* Batch norm: x and y [n, c, h, w]. */
enum rg_bn_param { RG_P_BN_N, RG_P_BN_C, RG_P_BN_H, RG_P_BN_W, RG_P_BN_COUNT };
/* Pooling: x [planes, h, w] -> y [planes, ho, wo]; max = 1 or average. */
enum rg_pool_param {
  RG_P_POOL_PLANES, RG_P_POOL_H, RG_P_POOL_W, RG_P_POOL_HO, RG_P_POOL_WO, RG_P_POOL_KH,
  RG_P_POOL_KW, RG_P_POOL_SH, RG_P_POOL_SW, RG_P_POOL_PH, RG_P_POOL_PW, RG_P_POOL_PH_END,
  RG_P_POOL_PW_END, RG_P_POOL_DH, RG_P_POOL_DW, RG_P_POOL_MAX, RG_P_POOL_COUNT_INCLUDE_PAD,
  RG_P_POOL_COUNT
};
/* MatMul: batch matrices t of y [batch, m, n] read a at t * a_stride and b at
 * t * b_stride (0: broadcast); ta / tb: a is stored [k, m] / b [n, k]. */
enum rg_matmul_param {
  RG_P_MM_BATCH, RG_P_MM_M, RG_P_MM_K, RG_P_MM_N, RG_P_MM_TA, RG_P_MM_TB, RG_P_MM_A_STRIDE,
  RG_P_MM_B_STRIDE, RG_P_MM_COUNT
};
/* Reduce: x has `rank` dims; x's linear element e adds into output
 * sum(idx_d * strides_d); y = sums * (mean ? out / in : 1). */
enum rg_reduce_param {
  RG_P_RED_MEAN, RG_P_RED_RANK, RG_P_RED_IN, RG_P_RED_OUT, RG_P_RED_DIMS,
  RG_P_RED_STRIDES = RG_P_RED_DIMS + 8, RG_P_RED_COUNT = RG_P_RED_STRIDES + 8
};
/* Softmax: row r's element i is at (r / inner) * length * inner + r % inner + i * inner. */
enum rg_softmax_param {
  RG_P_SM_ROWS, RG_P_SM_LENGTH, RG_P_SM_INNER, RG_P_SM_SOFTMAX, RG_P_SM_COUNT
};
/* Copy over a shape of `rank` dims: element idx goes from x[sum idx_d * src_d]
 * to y[sum idx_d * dst_d]. */
enum rg_copy_param {
  RG_P_COPY_RANK, RG_P_COPY_DIMS, RG_P_COPY_SRC = RG_P_COPY_DIMS + 8,
  RG_P_COPY_DST = RG_P_COPY_SRC + 8, RG_P_COPY_COUNT = RG_P_COPY_DST + 8
};
/* LRN over x [n, c, hw]: channel k's window is [k - before, k + after]
 * clipped; alpha, beta and bias are doubles, each as two words (low first). */
enum rg_lrn_param {
  RG_P_LRN_N, RG_P_LRN_C, RG_P_LRN_HW, RG_P_LRN_BEFORE, RG_P_LRN_AFTER, RG_P_LRN_SIZE,
  RG_P_LRN_ALPHA, RG_P_LRN_BETA = RG_P_LRN_ALPHA + 2, RG_P_LRN_BIAS = RG_P_LRN_BETA + 2,
  RG_P_LRN_COUNT = RG_P_LRN_BIAS + 2
};
/* Gather over `rank` dims: output index o (per axis o_d) reads x at sum
 * map_d[o_d] * in_stride_d (x contiguous of in dims), or is f where some map
 * entry is RG_GATHER_FILL. The maps, out_dims[0] + out_dims[1] + ... u32
 * entries, are the AUX table. */
enum rg_gather_param {
  RG_P_GATHER_RANK, RG_P_GATHER_OUT, RG_P_GATHER_IN = RG_P_GATHER_OUT + 8,
  RG_P_GATHER_COUNT = RG_P_GATHER_IN + 8
};
#define RG_GATHER_FILL 0xffffffffu
/* Bilinear resize x [planes, h, w] -> y [planes, ho, wo]: the AUX table
 * holds ho row taps then wo column taps (engine/op_geometry.h BilinearTap). */
enum rg_bilinear_param {
  RG_P_BL_PLANES, RG_P_BL_H, RG_P_BL_W, RG_P_BL_HO, RG_P_BL_WO, RG_P_BL_COUNT
};
typedef struct rg_bilinear_tap {
  uint32_t i0, i1; /* the two source rows (columns) */
  double l0, l1;   /* their weights */
} rg_bilinear_tap;
/* Fill: y [count] = f. Chain: p[0] is the index of its chain record. */
enum rg_fill_param { RG_P_FILL_COUNT_ELEMENTS, RG_P_FILL_COUNT };
enum rg_chain_param { RG_P_CHAIN_INDEX, RG_P_CHAIN_COUNT };

/* Where one tensor lives: a byte range of a region. */
typedef struct rg_tensor_ref {
  uint32_t region;   /* enum rg_region */
  uint32_t reserved; /* 0 */
  uint64_t offset;   /* bytes from the region's start; a multiple of the element size */
  uint64_t bytes;    /* exactly the range the kernel reads or writes (weights: in dtype) */
} rg_tensor_ref;

/* One kernel, in schedule order: the engine's fusion groups, each its anchor
 * then (RG_OP_CHAIN) its elementwise chain. */
typedef struct rg_kernel_record {
  uint32_t op;                   /* enum rg_op */
  uint32_t reserved0;            /* 0 */
  uint32_t p[RG_PLAN_PARAMS];    /* geometry (RG_P_*); words past the op's count are 0 */
  double f;                      /* batch norm: eps; fill: the value; else 0 */
  rg_tensor_ref slot[RG_SLOT_COUNT];
} rg_kernel_record;

/* Elementwise chains: the engine's register program (engine/lowered_chain.h),
 * run per element e of a shape of `rank` dims in f32: loads, then the code,
 * then the stores. */
enum rg_chain_op {
  RG_CHAIN_ADD = 0, /* x + y */
  RG_CHAIN_SUB = 1, /* x - y */
  RG_CHAIN_MUL = 2, /* x * y */
  RG_CHAIN_DIV = 3, /* x / y */
  RG_CHAIN_TANH = 4,
  RG_CHAIN_EXP = 5,
  RG_CHAIN_SELECT_POSITIVE = 6 /* x > 0 ? y : z (false for NaN) */
};

typedef struct rg_chain_load {
  uint32_t reg;
  uint32_t full; /* 1: element e at index e; 0: at sum idx_d * strides[d] */
  uint32_t strides[RG_PLAN_MAX_RANK];
  rg_tensor_ref t; /* typed: arena (f32) or weights (header.dtype) */
} rg_chain_load;

typedef struct rg_chain_store {
  uint32_t reg;
  uint32_t reserved; /* 0 */
  rg_tensor_ref t;   /* arena, the chain's whole shape */
} rg_chain_store;

typedef struct rg_chain_instr {
  uint8_t op; /* enum rg_chain_op */
  uint8_t x, y, z, out; /* registers; RG_CHAIN_NO_REG where the op reads none */
  uint8_t reserved[3];  /* 0 */
} rg_chain_instr;

typedef struct rg_chain_const {
  uint32_t reg;
  float value; /* set once, before the first element */
} rg_chain_const;

typedef struct rg_chain_record {
  uint32_t rank, n_loads, n_stores, n_code, n_consts, n_regs;
  uint32_t dims[RG_PLAN_MAX_RANK]; /* unused dims are 0 */
  rg_chain_load loads[RG_CHAIN_MAX_LOADS];
  rg_chain_store stores[RG_CHAIN_MAX_STORES];
  rg_chain_instr code[RG_CHAIN_MAX_CODE];
  rg_chain_const consts[RG_CHAIN_MAX_CONSTS];
} rg_chain_record;

/* A named input or output of the model: an f32 tensor in the arena. The
 * caller writes inputs there before rg_run and reads outputs after it;
 * rg_run may overwrite the inputs' bytes. */
enum rg_io_role { RG_IO_INPUT = 1, RG_IO_OUTPUT = 2 };

typedef struct rg_io_record {
  char name[RG_PLAN_NAME_BYTES]; /* NUL-terminated, NUL-padded */
  uint32_t role;                 /* enum rg_io_role */
  uint32_t rank;                 /* 0 .. 8 */
  uint64_t dims[RG_PLAN_MAX_RANK]; /* unused dims are 0 */
  rg_tensor_ref t;               /* arena, dims' product * 4 bytes */
} rg_io_record;

/* The file: this header, io_count io records, kernel_count kernel records,
 * chain_count chain records, zero padding to weights_offset, weights_bytes of
 * weights. */
typedef struct rg_plan_header {
  char magic[8];           /* RG_PLAN_MAGIC */
  uint32_t version;        /* RG_PLAN_VERSION */
  uint32_t crc32;          /* CRC-32 (zlib's) of bytes [16, file_bytes) */
  uint64_t file_bytes;     /* the whole file */
  uint64_t arena_bytes;    /* inputs, outputs, activations and scratch */
  uint64_t weights_offset; /* a multiple of alignment */
  uint64_t weights_bytes;
  uint32_t alignment; /* RG_PLAN_ALIGNMENT */
  uint32_t dtype;     /* enum rg_weight_type */
  uint32_t io_count, io_record_bytes;         /* sizeof(rg_io_record) */
  uint32_t kernel_count, kernel_record_bytes; /* sizeof(rg_kernel_record) */
  uint32_t chain_count, chain_record_bytes;   /* sizeof(rg_chain_record) */
  uint8_t reserved[64];                       /* 0 */
} rg_plan_header;

#ifdef __cplusplus
#define RG_STATIC_ASSERT static_assert
#else
#define RG_STATIC_ASSERT _Static_assert
#endif
RG_STATIC_ASSERT(sizeof(rg_tensor_ref) == 24, "plan format: tensor ref is 24 bytes");
RG_STATIC_ASSERT(sizeof(rg_kernel_record) == 336, "plan format: kernel record is 336 bytes");
RG_STATIC_ASSERT(sizeof(rg_chain_load) == 64, "plan format: chain load is 64 bytes");
RG_STATIC_ASSERT(sizeof(rg_chain_store) == 32, "plan format: chain store is 32 bytes");
RG_STATIC_ASSERT(sizeof(rg_chain_instr) == 8, "plan format: chain instruction is 8 bytes");
RG_STATIC_ASSERT(sizeof(rg_chain_record) == 1080, "plan format: chain record is 1080 bytes");
RG_STATIC_ASSERT(sizeof(rg_io_record) == 160, "plan format: io record is 160 bytes");
RG_STATIC_ASSERT(sizeof(rg_bilinear_tap) == 24, "plan format: bilinear tap is 24 bytes");
RG_STATIC_ASSERT(sizeof(rg_plan_header) == 144, "plan format: header is 144 bytes");
#undef RG_STATIC_ASSERT

#ifdef __cplusplus
}
#endif

#endif /* RG_PLAN_FORMAT_H */
