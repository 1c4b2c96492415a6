// SPDX-License-Identifier: Apache-2.0
// The CUDA backend's kernel: one per fusion group, a list of steps (cuDNN
// convolutions and NVRTC kernels) with every argument resolved at bind(),
// run on the target's stream. The group's anchor is lowered by its op
// family's function (backends/cuda/ops/*.cpp, found in the registry
// cuda_ops()) through the building API below; an elementwise group is one
// generated kernel.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/cuda/cuda_internal.h"
#include "engine/op_registry.h"

namespace rg::cuda {

class CudaKernel;
class CudaTarget;

// A row of the CUDA backend's registry.
struct CudaOp {
  OpKind op;
  // Lowers the group's anchor node (and the elementwise chain after it, if any).
  void (*lower)(CudaKernel& k, const Node& n);
};

// The registry: every family's rows (ops/cuda_ops.cpp).
const OpRegistry<CudaOp>& cuda_ops();

class CudaKernel final : public Kernel {
 public:
  CudaKernel(CudaTarget& be, const Graph& g, const FusionGroup& grp);
  CudaKernel(const CudaKernel&) = default;
  size_t scratch_bytes() const override { return scratch_.bytes(); }
  void bind(const KernelBinding& b) override;
  // Another Session's instance: a copy that shares the generated kernels'
  // names (the NVRTC module) and the cuDNN convolution plans (their tuned
  // algorithm choice); its Session captures it in a CUDA graph of its own
  // (GraphRunner) and its Adam launches group with that Session's earlier kernels.
  std::unique_ptr<Kernel> clone() const override { return std::make_unique<CudaKernel>(*this); }
  void run() override;
  std::string describe() const override;

  // --- The building API of the op families ---------------------------------
  const Graph& graph() const { return g_; }
  const FusionGroup& group() const { return grp_; }
  CudaTarget& target() const { return be_; }
  const std::string& T() const { return T_; }  // "float" or "double"
  size_t alloc(size_t bytes) { return scratch_.take(bytes); }
  // Where a value is: its own memory, or scratch for an internal one (place).
  Arg home(ValueId v) const {
    auto it = home_.find(v);
    return it == home_.end() ? Arg::val(v) : it->second;
  }
  // An anchor's output: in scratch when the group keeps it internal.
  void place(ValueId v) {
    if (grp_.is_internal(v)) home_[v] = Arg::scratch(alloc(g_.desc(v).bytes()));
  }
  // An internal value kept as bf16 words at `at` (a bf16 convolution's result
  // that the chain widens as it loads it).
  void keep_bf16(ValueId v, Arg at) {
    home_[v] = at;
    bf16_values_.insert(v);
  }
  void add_launch(LaunchSpec s);
  void add_ew(EwSpec s);  // an elementwise kernel
  void add_reduction(RedSpec r, const RedPlan& p);
  // Loads a per-channel vector (dim 1 of the spec's shape) into the spec; its name.
  static std::string channel_load(EwSpec& s, Arg a);
  // The group's elementwise chain from node `first` on, appended to `spec`
  // (whose body has defined the registers `regs` for given values), as one kernel.
  void build_chain(size_t first, EwSpec spec, std::map<ValueId, std::string> regs);
  // A convolution step: cuDNN's (on a device), or the reference backend's
  // im2col code (host emulation). bf16: a, b and out are bf16 words.
  struct Conv {
    std::shared_ptr<const ConvOp> op;  // null in host emulation and code generation
    OpKind kind = OpKind::kConv2d;
    ConvGeometry geo{};  // host emulation: the reference im2col kernels
    Arg a, b, out;
    size_t ws = 0;
    const void *pa = nullptr, *pb = nullptr;
    void *po = nullptr, *pws = nullptr;
    // Host emulation of bf16 widens a, b into f32 scratch (tmp: a, b, out),
    // runs the f32 reference and rounds the result.
    bool bf16 = false;
    size_t numel[3] = {};  // elements of a, b and out (the node's inputs and output)
    size_t tmp[3] = {};
    void* ptmp[3] = {};
  };
  void add_conv(Conv c);
  // The multi-tensor Adam kernel `name` (its source registered with the JIT)
  // for node n: consecutive Adam groups of one horizontal run share one
  // launch, made by the run's first group (see bind()).
  void set_adam(std::string name, const Node& n);
  static constexpr int kAdamMaxTensors = 64;

 private:
  void* resolve(const Arg& a, const KernelBinding& b) const;
  static void emulate_bf16_conv(const Conv& c);
  template <typename T>
  static void emulate_conv(OpKind kind, const ConvGeometry& geo, const void* pa, const void* pb,
                           void* po, void* pcol);
  void bind_adam(const KernelBinding& b);

  struct Launch {
    LaunchSpec spec;
    cudaKernel_t fn = nullptr;
    Jit::HostFn host = nullptr;
    std::vector<void*> vals, ptrs;
  };
  // Multi-tensor Adam: the host mirror of the kernel's table (same layout).
  struct AdamTable {
    int n = 0, pad = 0;
    int64_t start[kAdamMaxTensors + 1] = {};
    void *p[kAdamMaxTensors] = {}, *g[kAdamMaxTensors] = {}, *m[kAdamMaxTensors] = {},
         *v[kAdamMaxTensors] = {};
  };
  bool adam_ = false;
  const Node* adam_node_ = nullptr;
  std::string adam_name_;
  AdamTable table_;
  void* step_ptr_ = nullptr;
  CudaKernel* adam_leader_ =
      nullptr;  // set: this group's tensors are updated by that group's launch
  unsigned adam_grid_ = 1;
  cudaKernel_t adam_fn_ = nullptr;
  Jit::HostFn adam_host_ = nullptr;

  CudaTarget& be_;
  const Graph& g_;
  FusionGroup grp_;
  std::string T_;
  ScratchLayout scratch_;
  std::map<ValueId, Arg> home_;
  std::set<ValueId>
      bf16_values_;  // internal values kept as bf16 words (a bf16 convolution's result)
  std::vector<Launch> launches_;
  std::vector<Conv> convs_;
  std::vector<std::pair<bool, size_t>> steps_;  // (is conv, index)
};

}  // namespace rg::cuda
