// SPDX-License-Identifier: Apache-2.0
// A Session binds memory to a Plan: one arena for all intermediate buffers and
// one block per variable, bound once. run() replays the kernels and allocates
// nothing; so do set_input, read_output and set_variable when the host type is
// the graph's dtype (docs/library.md, "Memory").
//
// By default the session allocates the arena and every variable (zeroed) on
// the backend and frees them. A caller may hand in any of that memory instead
// (CallerMemory): the session then uses it as it is, never frees it, and the
// caller keeps it alive, unmoved, for the session's life.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rg/compile.h"

namespace rg {

class Kernel;
class Runner;

// Memory the caller owns, in the backend's address space (host memory for the
// ref and cpu backends, device memory for cuda). memory_requirements(plan)
// gives the sizes and alignments.
struct CallerMemory {
  // At least arena_bytes bytes aligned to arena_alignment; null: the session allocates it.
  void* arena = nullptr;
  size_t arena_bytes = 0;

  // A variable's storage: plain row-major in the variable's dtype, its initial
  // contents (the session does not zero it). Read-only memory (say a PROT_READ
  // mapping of a safetensors file) is accepted for variables the plan never
  // writes; set_variable on it throws.
  struct Variable {
    std::string name;
    void* data = nullptr;
    size_t bytes = 0;
    bool read_only = false;
  };
  std::vector<Variable> variables;  // the variables not named here are the session's own

  void add_variable(std::string name, std::span<std::byte> bytes);
  void add_read_only_variable(std::string name, std::span<const std::byte> bytes);
};

class Session {
 public:
  // `plan` must outlive the session. Several sessions may run one plan, each
  // with its own memory and its own bound instances of the plan's kernels
  // (the plan itself never changes); not at the same time from different
  // threads (a backend's device objects, such as oneDNN's stream, are shared). Throws
  // std::invalid_argument naming the variable or region when caller memory is
  // too small, misaligned, unknown, read-only where the plan writes, or named twice.
  explicit Session(const Plan& plan, const CallerMemory& memory = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run();
  // One run() that also times each kernel: milliseconds per fusion group, in
  // plan order (the groups `ralsgan inspect` lists). The cpu and ref backends
  // time each kernel's call; cuda times on the device with events between the
  // kernels inside one replay of the run's CUDA graph (no host sync between
  // kernels; eager on a session's first run, which also loads modules).
  std::vector<double> run_timed();

  // Host <-> device, converting between the host type and the graph's dtype.
  // Variables, inputs and named outputs by name; any materialised value by id.
  // Errors (unknown name, wrong element count) are std::invalid_argument.
  void set_input(std::string_view name, std::span<const float> data);
  void set_input(std::string_view name, std::span<const double> data);
  void set_variable(std::string_view name, std::span<const float> data);
  void set_variable(std::string_view name, std::span<const double> data);
  void set_variable(std::string_view name, std::span<const int64_t> data);
  std::vector<double> variable(std::string_view name) const;
  // A variable's numel() elements converted to dst_type, written to dst (no
  // intermediate copy in the caller's type; checkpoints use it).
  void read_variable(std::string_view name, void* dst, DType dst_type) const;
  // The output marked with `name` (Graph::mark_output) into the caller's span,
  // which must hold exactly its numel() elements.
  void read_output(std::string_view name, std::span<float> dst) const;
  void read_output(std::string_view name, std::span<double> dst) const;
  std::vector<double> output(std::string_view name) const;
  std::vector<double> value(ValueId v) const;  // f64 copy of a materialised value
  std::vector<float> value_f32(ValueId v) const;

  // Raw pointers for backends' tests and for zero-copy host backends.
  void* device_ptr(ValueId v) const { return ptrs_.at(size_t(v)); }
  const Plan& plan() const { return plan_; }
  // This session's bound kernel instances, one per group in plan order (for
  // backends' tests and profilers).
  std::span<Kernel* const> kernels() const { return kernels_; }

 private:
  void bind_variables(const CallerMemory& memory);
  void release_memory() noexcept;
  void write(ValueId v, const void* src, DType src_type, size_t count, const char* kind,
             std::string_view name);
  void read(ValueId v, void* dst, DType dst_type, size_t count, const char* kind,
            std::string_view name) const;
  std::vector<double> read_f64(ValueId v, const char* kind, std::string_view name) const;
  ValueId input_value(std::string_view name) const;
  ValueId variable_value(std::string_view name) const;
  ValueId output_value(std::string_view name) const;

  const Plan& plan_;
  std::vector<std::unique_ptr<Kernel>> own_kernels_;  // this session's bound instances of the plan's kernels
  void* arena_ = nullptr;
  bool owns_arena_ = false;
  std::vector<void*> variable_storage_;
  std::vector<char> owns_variable_;  // per variable: allocated here (freed by the destructor)
  std::vector<char> read_only_;      // per variable: caller memory the session must not write
  std::vector<void*> ptrs_;          // per value
  std::vector<Kernel*> kernels_;
  std::unique_ptr<Runner> runner_;  // the plan's, for kernels_ (PlanCompiler::make_runner)
};

}  // namespace rg
