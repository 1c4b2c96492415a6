// SPDX-License-Identifier: Apache-2.0
// A Session's run on a GPU: eager once, captured into a CUDA graph on the
// second run, that graph replayed afterwards (cuda_graph_runner.cpp).
#pragma once

#include <memory>
#include <vector>

#include "engine/backend.h"

namespace rg::cuda {

class CudaTarget;

// The runner of a session's bound kernels on `target` (a CudaDevice).
std::unique_ptr<Runner> make_graph_runner(CudaTarget& target, std::vector<Kernel*> kernels);

}  // namespace rg::cuda
