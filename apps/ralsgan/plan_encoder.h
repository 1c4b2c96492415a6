// SPDX-License-Identifier: Apache-2.0
// Any forward plan the reference backend compiled, as a plan file for the C
// runtime (runtime/rg_plan_format.h, docs/embedded.md): the RefKernels'
// steps as kernel records with the same geometry, the elementwise chains as
// the same register programs, every value at the engine's arena offset, the
// variables in the weights section. The runtime then computes what the
// reference backend computes, bit for bit. Used by `ralsgan export` and
// `rg export`.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "rg/session.h"
#include "runtime/rg_plan_format.h"

namespace rg::app {

// A plan the runtime has no kernel for; the message names the op or limit.
class PlanExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PlanIo {
  std::string name;  // at most 63 bytes
  ValueId value = kNoValue;
  bool input = true;
};

struct PlanStats {
  uint64_t file_bytes = 0, arena_bytes = 0, weights_bytes = 0;
  int kernels = 0, chains = 0;
};

struct EncodeOptions {
  rg_weight_type weights = RG_WEIGHTS_F32;  // bf16 halves the weights; not bit-exact
  // A convolution's im2col scratch per pass (runtime/rg_kernels.c): less
  // memory, or fewer passes over the input. Results do not depend on it.
  size_t scratch_bytes = 16 * 1024;
  // For RG_FAST builds: each inference batch norm right after a convolution
  // that nothing else reads is folded into it (weights times the channel's
  // scale, then one add of the shift). Fewer passes over memory; the plan is
  // then bit-exact on no build (docs/embedded.md).
  bool fold_batch_norm = false;
};

// `plan` must be compiled by the reference backend in f32; `session` holds
// the weights. Inputs first, then outputs, in the order given.
std::vector<uint8_t> encode_plan(const Plan& plan, const Session& session,
                                 const std::vector<PlanIo>& io, const EncodeOptions& options = {});

PlanStats plan_stats(const std::vector<uint8_t>& file);

// "#define RG_MODEL_ARENA_BYTES ..." and the other sizes and the inputs'
// and outputs' indices and shapes, for a firmware's static buffers.
std::string plan_c_header(const std::vector<uint8_t>& plan_file, const std::string& source,
                          const std::string& tool);

// Rounds to nearest even on the upper 16 bits; NaN stays a (quiet) NaN.
uint16_t to_bf16(float f);

}  // namespace rg::app
