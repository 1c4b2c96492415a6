// SPDX-License-Identifier: Apache-2.0
// This machine's sgemm speed, the yardstick rg bench measures each group's
// GFLOP/s against: oneDNN's dnnl_sgemm on 1024 x 1024 x 1024 with the bench's
// threads (0 where this build has no oneDNN).
#pragma once

namespace rg::tool {

double sgemm_gflops(int threads);

}  // namespace rg::tool
