// SPDX-License-Identifier: Apache-2.0
#include "rg/session.h"

#include <cstring>
#include <stdexcept>

#include "engine/plan.h"

namespace rg {

namespace {

// Convert `count` elements between dtypes on the host.
void convert_elements(const void* src, DType st, void* dst, DType dt, size_t n) {
  if (st == dt) {
    std::memcpy(dst, src, n * dtype_size(st));
    return;
  }
  auto load = [&](size_t i) -> double {
    switch (st) {
      case DType::f32:
        return static_cast<const float*>(src)[i];
      case DType::f64:
        return static_cast<const double*>(src)[i];
      case DType::i64:
        return static_cast<double>(static_cast<const int64_t*>(src)[i]);
    }
    return 0;
  };
  for (size_t i = 0; i < n; ++i) {
    const double x = load(i);
    switch (dt) {
      case DType::f32:
        static_cast<float*>(dst)[i] = static_cast<float>(x);
        break;
      case DType::f64:
        static_cast<double*>(dst)[i] = x;
        break;
      case DType::i64:
        static_cast<int64_t*>(dst)[i] = static_cast<int64_t>(x);
        break;
    }
  }
}

std::string quoted(std::string_view name) {
  return "'" + std::string(name) + "'";
}

}  // namespace

void CallerMemory::add_variable(std::string name, std::span<std::byte> bytes) {
  variables.push_back({std::move(name), bytes.data(), bytes.size(), false});
}

void CallerMemory::add_read_only_variable(std::string name, std::span<const std::byte> bytes) {
  // The session never writes it (checked at construction, refused by set_variable).
  variables.push_back({std::move(name), const_cast<std::byte*>(bytes.data()), bytes.size(), true});
}

Session::Session(const Plan& plan, const CallerMemory& memory) : plan_(plan) {
  const Graph& g = *plan.graph;
  if (memory.arena) {
    if (memory.arena_bytes < plan.arena_bytes)
      throw std::invalid_argument("caller memory: the arena holds " +
                                  std::to_string(memory.arena_bytes) + " bytes, the plan needs " +
                                  std::to_string(plan.arena_bytes));
    if (reinterpret_cast<uintptr_t>(memory.arena) % kArenaAlignment)
      throw std::invalid_argument("caller memory: the arena is not aligned to " +
                                  std::to_string(kArenaAlignment) + " bytes");
    arena_ = memory.arena;
  }
  try {
    bind_variables(memory);
    if (!arena_ && plan.arena_bytes) {
      arena_ = plan.backend->allocate(plan.arena_bytes);
      owns_arena_ = true;
    }
  } catch (...) {
    release_memory();
    throw;
  }
  ptrs_.assign(size_t(g.num_values()), nullptr);
  for (ValueId v = 0; v < g.num_values(); ++v) {
    const ValueId r = plan.root[size_t(v)];
    if (g.value(r).variable >= 0) {
      ptrs_[size_t(v)] = variable_storage_[size_t(g.value(r).variable)];
    } else if (plan.buffer_of_root[size_t(r)] >= 0) {
      ptrs_[size_t(v)] =
          static_cast<char*>(arena_) + plan.buffers[size_t(plan.buffer_of_root[size_t(r)])].offset;
    }
  }
  // The plan's kernels stay unbound: this session binds its own instances.
  try {
    for (size_t k = 0; k < plan.kernels.size(); ++k) {
      own_kernels_.push_back(plan.kernels[k]->clone());
      Kernel* kernel = own_kernels_.back().get();
      KernelBinding b;
      b.values = ptrs_;
      b.earlier = kernels_;
      if (plan.scratch_buffer[k] >= 0)
        b.scratch = static_cast<char*>(arena_) + plan.buffers[size_t(plan.scratch_buffer[k])].offset;
      kernel->bind(b);
      kernels_.push_back(kernel);
    }
    runner_ = plan.compiler->make_runner(kernels_);
  } catch (...) {
    release_memory();
    throw;
  }
}

// The caller's variables are checked, then the others allocated and zeroed
// (padding included: zero in every layout).
void Session::bind_variables(const CallerMemory& memory) {
  const Graph& g = *plan_.graph;
  Backend& be = *plan_.backend;
  const PlanCompiler& layouts = *plan_.compiler;
  const size_t n = g.variables().size();
  variable_storage_.assign(n, nullptr);
  owns_variable_.assign(n, 0);
  read_only_.assign(n, 0);
  for (const CallerMemory::Variable& cv : memory.variables) {
    const int i = g.find_variable(cv.name);
    const std::string what = "caller memory for variable " + quoted(cv.name);
    if (i < 0) throw std::invalid_argument(what + ": the graph has no variable of that name");
    if (variable_storage_[size_t(i)]) throw std::invalid_argument(what + ": named twice");
    const VariableInfo& v = g.variables()[size_t(i)];
    const size_t need = layouts.value_bytes(v.initial), align = dtype_size(v.desc.dtype);
    if (!cv.data || cv.bytes < need)
      throw std::invalid_argument(what + " " + desc_str(v.desc) + ": holds " +
                                  std::to_string(cv.data ? cv.bytes : 0) + " bytes, needs " +
                                  std::to_string(need));
    if (reinterpret_cast<uintptr_t>(cv.data) % align)
      throw std::invalid_argument(what + ": not aligned to its element size, " +
                                  std::to_string(align) + " bytes");
    if (!layouts.plain_layout(v.initial))
      throw std::invalid_argument(what + ": the " + be.name() +
                                  " backend keeps it in a blocked layout, not plain row-major");
    if (cv.read_only && v.current != v.initial)
      throw std::invalid_argument(
          what + ": read-only, but the plan writes this variable (a state update)");
    variable_storage_[size_t(i)] = cv.data;
    read_only_[size_t(i)] = cv.read_only;
  }
  for (size_t i = 0; i < n; ++i) {
    if (variable_storage_[i]) continue;
    const size_t bytes = layouts.value_bytes(g.variables()[i].initial);
    variable_storage_[i] = be.allocate(std::max<size_t>(bytes, 1));
    owns_variable_[i] = 1;
    std::vector<std::byte> zeros(bytes);
    if (!zeros.empty()) be.copy_in(variable_storage_[i], zeros.data(), zeros.size());
  }
}

void Session::release_memory() noexcept {
  Backend& be = *plan_.backend;
  for (size_t i = 0; i < variable_storage_.size(); ++i)
    if (owns_variable_[i] && variable_storage_[i]) be.release(variable_storage_[i]);
  variable_storage_.clear();
  if (owns_arena_ && arena_) be.release(arena_);
  arena_ = nullptr;
}

Session::~Session() {
  plan_.backend->synchronize();
  runner_.reset();  // before the kernels and memory it may have captured
  own_kernels_.clear();  // before the memory their device objects may refer to
  release_memory();
}

void Session::run() {
  runner_->run();
}

std::vector<double> Session::run_timed() { return runner_->run_timed(); }

ValueId Session::input_value(std::string_view name) const {
  for (const InputInfo& i : plan_.graph->inputs())
    if (i.name == name) return i.value;
  throw std::invalid_argument("no input named " + quoted(name));
}

ValueId Session::variable_value(std::string_view name) const {
  const int v = plan_.graph->find_variable(name);
  if (v >= 0) return plan_.graph->variables()[size_t(v)].initial;
  throw std::invalid_argument("no variable named " + quoted(name));
}

ValueId Session::output_value(std::string_view name) const {
  const ValueId v = plan_.graph->find_output(name);
  if (v != kNoValue) return v;
  try {
    plan_.graph->output(name);  // throws, listing the named outputs
  } catch (const GraphError& e) {
    throw std::invalid_argument(e.what());
  }
  return v;
}

void Session::write(ValueId v, const void* src, DType st, size_t count, const char* kind,
                    std::string_view name) {
  const TensorDesc& d = plan_.graph->desc(v);
  if (count != size_t(d.numel()))
    throw std::invalid_argument(std::string(kind) + " " + quoted(name) + ": expected " +
                                std::to_string(d.numel()) + " elements " + desc_str(d) + ", got " +
                                std::to_string(count));
  const int var = plan_.graph->value(v).variable;
  if (var >= 0 && read_only_[size_t(var)])
    throw std::invalid_argument(std::string(kind) + " " + quoted(name) +
                                " is read-only caller memory");
  if (!ptrs_[size_t(v)]) return;  // unused by this plan
  if (st == d.dtype) {
    plan_.compiler->write_value(v, ptrs_[size_t(v)], src);
    return;
  }
  std::vector<std::byte> tmp(d.bytes());
  convert_elements(src, st, tmp.data(), d.dtype, count);
  plan_.compiler->write_value(v, ptrs_[size_t(v)], tmp.data());
}

void Session::read(ValueId v, void* dst, DType dt, size_t count, const char* kind,
                   std::string_view name) const {
  const TensorDesc& d = plan_.graph->desc(v);
  // Built only for an error: the run path allocates nothing.
  const auto label = [&] {
    return name.empty() ? plan_.graph->value_label(v) : std::string(kind) + " " + quoted(name);
  };
  if (count != size_t(d.numel()))
    throw std::invalid_argument(label() + ": has " + std::to_string(d.numel()) + " elements " +
                                desc_str(d) + ", the destination " + std::to_string(count));
  if (!ptrs_[size_t(v)])
    throw std::invalid_argument(label() +
                                " is not materialised by this plan (mark it as an output)");
  plan_.backend->synchronize();
  if (dt == d.dtype) {
    plan_.compiler->read_value(v, dst, ptrs_[size_t(v)]);
    return;
  }
  std::vector<std::byte> tmp(d.bytes());
  plan_.compiler->read_value(v, tmp.data(), ptrs_[size_t(v)]);
  convert_elements(tmp.data(), d.dtype, dst, dt, count);
}

void Session::set_input(std::string_view n, std::span<const float> d) {
  write(input_value(n), d.data(), DType::f32, d.size(), "input", n);
}
void Session::set_input(std::string_view n, std::span<const double> d) {
  write(input_value(n), d.data(), DType::f64, d.size(), "input", n);
}
void Session::set_variable(std::string_view n, std::span<const float> d) {
  write(variable_value(n), d.data(), DType::f32, d.size(), "variable", n);
}
void Session::set_variable(std::string_view n, std::span<const double> d) {
  write(variable_value(n), d.data(), DType::f64, d.size(), "variable", n);
}
void Session::set_variable(std::string_view n, std::span<const int64_t> d) {
  write(variable_value(n), d.data(), DType::i64, d.size(), "variable", n);
}

std::vector<double> Session::read_f64(ValueId v, const char* kind, std::string_view name) const {
  std::vector<double> r(size_t(plan_.graph->desc(v).numel()));
  read(v, r.data(), DType::f64, r.size(), kind, name);
  return r;
}

std::vector<double> Session::variable(std::string_view name) const {
  return read_f64(variable_value(name), "variable", name);
}

void Session::read_variable(std::string_view name, void* dst, DType dst_type) const {
  const ValueId v = variable_value(name);
  read(v, dst, dst_type, size_t(plan_.graph->desc(v).numel()), "variable", name);
}

void Session::read_output(std::string_view n, std::span<float> d) const {
  read(output_value(n), d.data(), DType::f32, d.size(), "output", n);
}
void Session::read_output(std::string_view n, std::span<double> d) const {
  read(output_value(n), d.data(), DType::f64, d.size(), "output", n);
}

std::vector<double> Session::output(std::string_view name) const {
  return read_f64(output_value(name), "output", name);
}

std::vector<double> Session::value(ValueId v) const {
  return read_f64(v, "value", {});
}

std::vector<float> Session::value_f32(ValueId v) const {
  std::vector<float> r(size_t(plan_.graph->desc(v).numel()));
  read(v, r.data(), DType::f32, r.size(), "value", {});
  return r;
}

}  // namespace rg
