// SPDX-License-Identifier: Apache-2.0
// The backend interface, in two parts: the device (Backend: memory, copies,
// which ops it lowers) and one plan's compiler on it (PlanCompiler: turns a
// fusion group into a Kernel, owns the plan's layouts and value transfers).
// Each backend lowers ops through its op registry (engine/op_registry.h).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/fusion.h"
#include "engine/memory_planner.h"
#include "graph/graph.h"
#include "rg/compile.h"

namespace rg {

class Kernel;

// Where each value of a group lives once the session has its memory.
struct KernelBinding {
  std::vector<void*> values;  // indexed by ValueId; null for values not materialised
  void* scratch = nullptr;    // Kernel::scratch_bytes() bytes in the arena, live during run() only
  // This session's kernels bound before this one, in plan order (group ids):
  // a kernel of a horizontal run (FusionGroup::horizontal_first) finds the
  // run's earlier kernels here.
  std::span<Kernel* const> earlier;
};

// A kernel's scratch, laid out when it is compiled: each region starts at a
// multiple of the arena's alignment (256 bytes: what cuDNN, oneDNN and
// AVX-512 loads want) and takes at least one such block.
class ScratchLayout {
 public:
  size_t take(size_t bytes) {
    const size_t off = end_;
    end_ += align_up(std::max<size_t>(bytes, 1), kArenaAlignment);
    return off;
  }
  size_t bytes() const { return end_; }

 private:
  size_t end_ = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Bytes of temporary memory the kernel needs while it runs (from the arena).
  virtual size_t scratch_bytes() const { return 0; }
  // Outputs that may share the buffer of an input whose last use is this kernel:
  // pairs (output value, input value) that the kernel reads and writes at the same index.
  // An output may be listed with several inputs; the planner takes the first that
  // qualifies, and gives each input's buffer to one output at most.
  virtual std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const { return {}; }
  // A fresh, unbound kernel for the same group. The plan's kernels are never
  // bound (a Plan does not change once compiled): each Session binds its own
  // instances, made here (compiled again where the kernel's steps refer to
  // the kernel itself; oneDNN's primitive cache and the CUDA backend's JIT
  // make that cheap).
  virtual std::unique_ptr<Kernel> clone() const = 0;
  // Called once on a Session's instance when it binds memory; may create
  // device objects. No allocation after this.
  virtual void bind(const KernelBinding& b) = 0;
  virtual void run() = 0;
  // One line for `inspect`: which implementation was chosen.
  virtual std::string describe() const = 0;
};

// How a Session runs its bound kernels: made by the plan's compiler once the
// session has bound them, and owned by the session, so that device objects
// that capture the session's memory (the CUDA backend's graph of the whole
// run) live and die with it.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual void run() = 0;
  // run(), with each kernel's milliseconds (Session::run_timed).
  virtual std::vector<double> run_timed() = 0;
};

// The kernels one after another, in plan order; run_timed() times each call
// (right for a backend whose kernels are done when run() returns).
class InOrderRunner : public Runner {
 public:
  explicit InOrderRunner(std::vector<Kernel*> kernels) : kernels_(std::move(kernels)) {}
  void run() override {
    for (Kernel* k : kernels_) k->run();
  }
  std::vector<double> run_timed() override {
    std::vector<double> ms;
    for (Kernel* k : kernels_) {
      const auto t0 = std::chrono::steady_clock::now();
      k->run();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return ms;
  }

 private:
  std::vector<Kernel*> kernels_;
};

class Backend;

// One plan's side of a backend: made by Backend::prepare() for one graph and
// its fusion groups, owned by the Plan. It compiles the groups the engine
// gives it and owns what the backend decided for the whole plan (oneDNN: the
// layout of every value, so producers and consumers agree, and the
// conversions between the host's plain layout and those). Its graph outlives it.
class PlanCompiler {
 public:
  PlanCompiler(const Graph& g, Backend& device) : g_(g), device_(device) {}
  virtual ~PlanCompiler() = default;
  PlanCompiler(const PlanCompiler&) = delete;
  PlanCompiler& operator=(const PlanCompiler&) = delete;
  const Graph& graph() const { return g_; }
  Backend& device() const { return device_; }
  // One group of the schedule, one whose ops the backend lowers (the engine
  // has checked: Backend::lowers).
  virtual std::unique_ptr<Kernel> compile(const FusionGroup& group) = 0;
  // Called once after every group of the plan is compiled (a backend may
  // report on the plan as a whole here, e.g. slow fallbacks, once).
  virtual void finish() {}
  // Bytes a value needs in this plan's layout (more than plain when padded,
  // less when stored in a narrower type). All versions of a variable share
  // one storage and so one layout.
  virtual size_t value_bytes(ValueId v) const { return g_.desc(v).bytes(); }
  // Whether the value's layout here is plain row-major in its dtype. A Session
  // accepts caller-owned memory for a variable only where it is (the caller's
  // bytes, e.g. a safetensors file's, are used as they are). Every backend of
  // this build keeps variables plain (oneDNN pins them: layout_choice.cpp); a
  // backend that lays one out otherwise must say so here.
  virtual bool plain_layout(ValueId /*v*/) const { return true; }
  // Host plain row-major <-> device layout, for one value (inputs, variables,
  // outputs). Const: a plan's conversions may keep reusable objects (a cache),
  // never state that changes what a run computes.
  virtual void write_value(ValueId v, void* device, const void* host_plain) const;
  virtual void read_value(ValueId v, void* host_plain, const void* device) const;
  // The runner of a Session's bound kernels (plan order); a backend may
  // capture and replay them.
  virtual std::unique_ptr<Runner> make_runner(std::vector<Kernel*> kernels) const {
    return std::make_unique<InOrderRunner>(std::move(kernels));
  }

 protected:
  const Graph& g_;
  Backend& device_;
};

// A device: its memory and copies, the ops it lowers (its op registry), and
// the per-plan compiler it makes for each plan.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Device memory: the arena and the variables. Freed with release().
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p) = 0;
  virtual void copy_in(void* device_dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_out(void* host_dst, const void* device_src, size_t bytes) = 0;
  virtual void synchronize() {}
  // Whether this backend lowers groups anchored on or containing `op`: read
  // from its op registry (engine/op_registry.h), one table per backend. The
  // engine sends each group with an op the backend does not lower to
  // host_fallback(), or refuses the graph naming the op, before the backend
  // sees the plan (engine/plan.cpp).
  virtual bool lowers(OpKind op) const = 0;
  // A backend that runs kernels on this one's memory, plain row-major (the
  // reference backend, for a host-memory backend), or null. Owned by this backend.
  virtual Backend* host_fallback() { return nullptr; }
  // What CompileOptions::recompute's kBackendDefault means here: a host
  // backend trades one elementwise pass per recomputed activation for memory.
  virtual Recompute default_recompute() const { return Recompute::kWherePeakDrops; }
  // The plan's compiler, made once per plan before anything of it is
  // compiled. on_fallback[k]: group k runs on host_fallback(), which reads
  // and writes its values plain row-major (so this plan must keep them so).
  virtual std::unique_ptr<PlanCompiler> prepare(const Graph& g, const std::vector<FusionGroup>& groups,
                                                const std::vector<char>& on_fallback) = 0;
};

inline void PlanCompiler::write_value(ValueId v, void* device, const void* host_plain) const {
  device_.copy_in(device, host_plain, g_.desc(v).bytes());
}
inline void PlanCompiler::read_value(ValueId v, void* host_plain, const void* device) const {
  device_.copy_out(host_plain, device, g_.desc(v).bytes());
}

}  // namespace rg
