// SPDX-License-Identifier: Apache-2.0
// One plan on the oneDNN backend (its PlanCompiler): the layout chosen for
// every value of the graph, which values are stored as bf16, the reorders
// that move values between the host's plain layout and those, and the
// oneDNN reference implementations the plan still runs.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/onednn/layout_choice.h"
#include "backends/onednn/onednn_context.h"
#include "engine/backend.h"

namespace rg::onednn {

class OneDnnPlan final : public PlanCompiler {
 public:
  OneDnnPlan(std::shared_ptr<Ctx> ctx, Backend& device, const Graph& g,
             const std::vector<FusionGroup>& groups, const std::vector<char>& on_fallback);
  std::unique_ptr<Kernel> compile(const FusionGroup& grp) override;
  // One line per plan that still runs a reference implementation: oneDNN has
  // no optimised kernel for it on this CPU, so it will be slow.
  void finish() override;
  // A value stored as bf16 takes half the bytes (the memory planner sizes by this).
  size_t value_bytes(ValueId v) const override;
  void write_value(ValueId v, void* device, const void* host) const override;
  void read_value(ValueId v, void* host, const void* device) const override;
  // In order, on OneDnnOptions::threads threads (set again per run: the
  // caller's thread may have another OpenMP setting).
  std::unique_ptr<Runner> make_runner(std::vector<Kernel*> kernels) const override;

 private:
  bool stored_bf16(ValueId v) const { return bf16_ && (*bf16_)[size_t(v)]; }
  void convert(ValueId v, const void* src, bool src_plain, void* dst, bool dst_plain) const;

  struct Transfer {
    dnnl::memory from, to;
    dnnl::reorder reorder;
  };
  std::shared_ptr<Ctx> ctx_;
  std::shared_ptr<const LayoutTable> table_;
  std::shared_ptr<const std::vector<char>> bf16_;  // per value: stored as bf16 (bf16 mode)
  std::vector<std::string> reference_;             // oneDNN reference implementations
  // The reorders of value transfers, made on the first transfer of (value,
  // direction) and reused with new data pointers, so reading a batch's
  // outputs or writing its inputs allocates nothing after the first batch.
  // A cache: it changes nothing a run computes.
  mutable std::mutex transfers_mutex_;
  mutable std::map<std::pair<ValueId, bool>, Transfer> transfers_;  // (value, to the device)
};

}  // namespace rg::onednn
