// SPDX-License-Identifier: Apache-2.0
// The reference backend: portable C++ with Eigen, f32 and f64. It is the
// correctness oracle every other backend is tested against, so it favours
// plain, auditable loops (double accumulators) over speed, except for the
// convolutions, which are im2col + Eigen GEMM so that full-size models run.
#pragma once

#include <memory>

#include "rg/compile.h"

namespace rg {

std::unique_ptr<Backend> make_ref_backend();

}  // namespace rg
