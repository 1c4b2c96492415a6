// The backend interface: a small table of what the compiler and the session
// need from a device. A backend allocates device memory, turns one fusion
// group of the plan into a Kernel, and copies bytes in and out.
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
  // Called once when a session binds memory; may create device objects. No allocation after this.
  virtual void bind(const KernelBinding& b) = 0;
  // A fresh, unbound kernel for the same group (compiled again), for a second
  // Session of the plan (the first binds the plan's own kernels). Null where
  // the backend binds its kernels in place only: its plans serve one Session
  // at a time.
  virtual std::unique_ptr<Kernel> clone() const { return nullptr; }
  virtual void run() = 0;
  // One line for `inspect`: which implementation was chosen.
  virtual std::string describe() const = 0;
};

// How a Session runs its bound kernels: made by the backend once the session
// has bound them, and owned by the session, so that device objects that
// capture the session's memory (the CUDA backend's graph of the whole run)
// live and die with it. The plan's other compiled objects are the kernels and
// the backend's per-plan object (Backend::prepare).
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
  // Whole-plan preparation, called once per plan before anything else of it.
  // A backend with per-plan state (oneDNN: the layout it chose for every
  // value, so producers and consumers agree, and the reorders to and from
  // them) returns an object of its own for this plan alone; the Plan owns it
  // and the engine and its Sessions call it, not this backend, for everything
  // of the plan (compile, value_bytes, transfers, finish, make_runner, memory).
  // Null (the default): this backend serves the plan itself, plain row-major.
  virtual std::unique_ptr<Backend> prepare(const Graph& /*g*/, const std::vector<FusionGroup>& /*groups*/) {
    return nullptr;
  }
  // Bytes a value needs in this backend's layout (more than plain when padded).
  // All versions of a variable share one storage and so one layout.
  virtual size_t value_bytes(const Graph& g, ValueId v) const { return g.desc(v).bytes(); }
  // Whether the value's layout here is plain row-major in its dtype. A Session
  // accepts caller-owned memory for a variable only where it is (the caller's
  // bytes, e.g. a safetensors file's, are used as they are). Every backend of
  // this build keeps variables plain (oneDNN pins them: layout_choice.cpp); a
  // backend that lays one out otherwise must say so here.
  virtual bool plain_layout(const Graph& /*g*/, ValueId /*v*/) const { return true; }
  // Host plain row-major <-> device layout, for one value (inputs, variables, outputs).
  virtual void write_value(const Graph& g, ValueId v, void* device, const void* host_plain) {
    copy_in(device, host_plain, g.desc(v).bytes());
  }
  virtual void read_value(const Graph& g, ValueId v, void* host_plain, const void* device) {
    copy_out(host_plain, device, g.desc(v).bytes());
  }
  // Whether compile() has a kernel of this backend's own for the group. The
  // engine compiles a group it does not support on host_fallback() instead,
  // and fails naming the op where there is none (engine/plan.cpp).
  virtual bool supports(const Graph& /*g*/, const FusionGroup& /*group*/) const { return true; }
  // A backend that can run kernels on this one's memory and layouts (the
  // reference backend, for a host-memory backend that keeps the values of
  // unsupported groups plain in prepare()), or null. Owned by this backend.
  virtual Backend* host_fallback() { return nullptr; }
  // What CompileOptions::recompute's kBackendDefault means here: a host
  // backend trades one elementwise pass per recomputed activation for memory.
  virtual Recompute default_recompute() const { return Recompute::kWherePeakDrops; }
  // Compile one group of the schedule (one it supports). `g` outlives the kernel.
  virtual std::unique_ptr<Kernel> compile(const Graph& g, const FusionGroup& group) = 0;
  // Called once after every group of a plan is compiled (a backend may report
  // on the plan as a whole here, e.g. slow fallbacks, once).
  virtual void finish(const Graph& /*g*/) {}
  // The runner of a Session's bound kernels (plan order); a backend may
  // capture and replay them.
  virtual std::unique_ptr<Runner> make_runner(std::vector<Kernel*> kernels) {
    return std::make_unique<InOrderRunner>(std::move(kernels));
  }
};

}  // namespace rg
