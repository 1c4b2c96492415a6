// SPDX-License-Identifier: Apache-2.0
// The oneDNN CPU backend: convolutions, batch norm, pooling, LRN, (log)softmax,
// concat and matmul are oneDNN 2.6 primitives (JIT-compiled by oneDNN when the
// plan is compiled), everything else is a small vectorised, OpenMP-threaded
// kernel of ours (backends/onednn/ops/: one file per op family).
//
// Layouts: each plan gives every 4-D activation one layout for the whole plan
// (layout_choice.h: the layouts oneDNN's convolutions pick on this CPU under
// format_tag::any, so nChw16c on AVX-512 and nChw8c on AVX2), so producers and
// consumers agree and no reorder runs between kernels; weights, biases and all
// variables stay plain (PyTorch's OIHW / IOHW), and weights are reordered into
// the arena only where a primitive wants a blocked weight layout. Host I/O
// (write_value/read_value) converts from/to plain NCHW. Every primitive's
// implementation is in describe(); a plan that still runs one of oneDNN's
// reference implementations says so once on stderr.
//
// Fusion: batch_norm(+relu) uses fuse_norm_relu; conv2d / conv_transpose2d
// followed by a chain of relu, leaky_relu, tanh, scalar ops and a per-channel
// bias add whose intermediates are internal become post-ops (bias argument,
// eltwise post-ops). Other chains run as one fused elementwise loop.
// f32 graphs only. Debug: RG_LAYOUTS=1 prints every value's layout when a plan is
// compiled; RG_LAYOUT_PINS=1 which op kept which value plain.
#pragma once

#include <memory>
#include <string>

#include "rg/compile.h"

namespace rg {

struct OneDnnOptions {
  int threads = 0;             // OpenMP threads for oneDNN and our kernels; 0: OMP_NUM_THREADS / all cores
  bool post_ops = true;        // fuse elementwise chains into conv/deconv primitives where possible
  bool blocked_layouts = true; // layouts oneDNN picks (blocked where channels allow); false: NHWC only
  // 4x4 stride-2 padding-1 convolutions and transposed convolutions (the models'
  // down- and upsampling and their input gradients) by our
  // Winograd F(2x2, 2x2) kernel, 1.78x fewer multiplications than oneDNN's
  // direct kernel, results within a few f32 roundings of it; false: oneDNN's.
  bool winograd = true;
  // Convolutions on bf16 copies of their operands (activations, weights, output
  // gradients), accumulating in f32 and writing f32 (like torch.autocast on the
  // CPU); weights, Adam moments, BatchNorm and every other op stay f32. Needs a
  // CPU with bf16 instructions (AVX512_BF16 or AMX-BF16): make_onednn_backend
  // throws std::invalid_argument naming what is missing otherwise.
  bool bf16 = false;
  // With bf16: activations that only bf16 convolutions and elementwise chains
  // read are stored as bf16 (half the memory and bytes moved; the
  // convolutions skip their reorder, a chain widens on load). false: every
  // activation stays f32 (for A/B checks).
  bool bf16_activations = true;
  // Tests only: let oneDNN emulate bf16 on AVX-512 CPUs without bf16
  // instructions (slow, same rounding of the operands), so the bf16 path can be
  // checked on any AVX-512 machine. The command line never sets it.
  bool allow_emulated_bf16 = false;
};

std::unique_ptr<Backend> make_onednn_backend(const OneDnnOptions& options = {});

// The instruction set oneDNN uses on this CPU (after DNNL_MAX_CPU_ISA), e.g.
// "avx2", "avx512_core", "avx512_core_bf16", "avx512_core_amx".
std::string onednn_cpu_isa();
// The oneDNN library this build runs: "2.6.3".
std::string onednn_version();
// Whether that instruction set has bf16 arithmetic (AVX512_BF16 or AMX-BF16).
bool onednn_native_bf16();
// The threads a backend made with OneDnnOptions::threads = `requested` runs
// on (0: OpenMP's default here, all cores unless OMP_NUM_THREADS says less).
// oneDNN's reductions (weight gradients, batch-norm statistics) split work by
// thread, so a training step's values depend on this number.
int onednn_threads(int requested);

}  // namespace rg
