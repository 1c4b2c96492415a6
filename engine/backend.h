// The backend interface: a small table of what the compiler and the session
// need from a device. A backend allocates device memory, turns one fusion
// group of the plan into a Kernel, and copies bytes in and out.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/fusion.h"
#include "graph/graph.h"

namespace rg {

// Where each value of a group lives once the session has its memory.
struct KernelBinding {
  std::vector<void*> values;  // indexed by ValueId; null for values not materialised
  void* scratch = nullptr;    // Kernel::scratch_bytes() bytes in the arena, live during run() only
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Bytes of temporary memory the kernel needs while it runs (from the arena).
  virtual size_t scratch_bytes() const { return 0; }
  // Outputs that may share the buffer of an input whose last use is this kernel:
  // pairs (output value, input value) that the kernel reads and writes at the same index.
  virtual std::vector<std::pair<ValueId, ValueId>> inplace_candidates() const { return {}; }
  // Called once when a session binds memory; may create device objects. No allocation after this.
  virtual void bind(const KernelBinding& b) = 0;
  virtual void run() = 0;
  // One line for `inspect`: which implementation was chosen.
  virtual std::string describe() const = 0;
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
  // Compile one group of the schedule. `g` outlives the kernel.
  virtual std::unique_ptr<Kernel> compile(const Graph& g, const FusionGroup& group) = 0;
  // Runs the kernels of a plan in order; a backend may capture and replay them.
  virtual void run_all(const std::vector<Kernel*>& kernels) {
    for (Kernel* k : kernels) k->run();
  }
};

}  // namespace rg
