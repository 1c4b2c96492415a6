// SPDX-License-Identifier: Apache-2.0
// Human-readable dumps of a graph and a plan (used by `ralsgan inspect`).
#pragma once

#include <ostream>
#include <vector>

#include "engine/plan.h"
#include "graph/graph.h"

namespace rg {

void print_graph(std::ostream& os, const Graph& g);
// Kernels in order with their fusion groups, then the memory plan: every
// buffer's offset, size and live interval, and arena bytes against the sum.
void print_plan(std::ostream& os, const Plan& plan, bool buffers = true);
std::string human_bytes(size_t bytes);
// Bytes of the values a group reads from and writes to memory outside itself
// (its inputs and outputs, as the plan's backend stores them; not its scratch
// nor the reorders inside its kernel).
size_t group_bytes(const Plan& plan, const FusionGroup& grp);
// Where a run's time goes: `ms` holds each group's milliseconds (plan order,
// Session::run_timed, averaged over `runs`). Prints the total, the time by the
// op each group starts with, and the `top` heaviest groups (0: all) with their
// kernels, the bytes of values each reads and writes, and convolutions' GFLOP/s.
void print_profile(std::ostream& os, const Plan& plan, const std::vector<double>& ms, int runs,
                   size_t top = 20);

}  // namespace rg
