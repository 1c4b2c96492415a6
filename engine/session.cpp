#include "engine/session.h"

#include <cstring>
#include <stdexcept>

namespace rg {

void convert_elements(const void* src, DType st, void* dst, DType dt, size_t n) {
  if (st == dt) {
    std::memcpy(dst, src, n * dtype_size(st));
    return;
  }
  auto load = [&](size_t i) -> double {
    switch (st) {
      case DType::f32: return static_cast<const float*>(src)[i];
      case DType::f64: return static_cast<const double*>(src)[i];
      case DType::i64: return static_cast<double>(static_cast<const int64_t*>(src)[i]);
    }
    return 0;
  };
  for (size_t i = 0; i < n; ++i) {
    const double x = load(i);
    switch (dt) {
      case DType::f32: static_cast<float*>(dst)[i] = static_cast<float>(x); break;
      case DType::f64: static_cast<double*>(dst)[i] = x; break;
      case DType::i64: static_cast<int64_t*>(dst)[i] = static_cast<int64_t>(x); break;
    }
  }
}

Session::Session(Plan& plan) : plan_(plan) {
  const Graph& g = *plan.graph;
  Backend& be = *plan.backend;
  if (plan.arena_bytes) arena_ = be.allocate(plan.arena_bytes);
  for (const VariableInfo& v : g.variables()) {
    const size_t bytes = be.value_bytes(g, v.initial);
    void* p = be.allocate(std::max<size_t>(bytes, 1));
    std::vector<std::byte> zeros(bytes);  // padding included: zero in every layout
    if (!zeros.empty()) be.copy_in(p, zeros.data(), zeros.size());
    variable_storage_.push_back(p);
  }
  ptrs_.assign(size_t(g.num_values()), nullptr);
  for (ValueId v = 0; v < g.num_values(); ++v) {
    const ValueId r = plan.root[size_t(v)];
    if (g.value(r).variable >= 0) {
      ptrs_[size_t(v)] = variable_storage_[size_t(g.value(r).variable)];
    } else if (plan.buffer_of_root[size_t(r)] >= 0) {
      ptrs_[size_t(v)] = static_cast<char*>(arena_) + plan.buffers[size_t(plan.buffer_of_root[size_t(r)])].offset;
    }
  }
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    KernelBinding b;
    b.values = ptrs_;
    if (plan.scratch_buffer[k] >= 0)
      b.scratch = static_cast<char*>(arena_) + plan.buffers[size_t(plan.scratch_buffer[k])].offset;
    plan.kernels[k]->bind(b);
    kernels_.push_back(plan.kernels[k].get());
  }
}

Session::~Session() {
  Backend& be = *plan_.backend;
  be.synchronize();
  for (void* p : variable_storage_) be.release(p);
  if (arena_) be.release(arena_);
}

void Session::run() { plan_.backend->run_all(kernels_); }

ValueId Session::input_value(const std::string& name) const {
  for (const InputInfo& i : plan_.graph->inputs())
    if (i.name == name) return i.value;
  throw std::invalid_argument("no input named '" + name + "'");
}

ValueId Session::variable_value(const std::string& name) const {
  const int v = plan_.graph->find_variable(name);
  if (v < 0) throw std::invalid_argument("no variable named '" + name + "'");
  return plan_.graph->variables()[size_t(v)].initial;
}

void Session::write(ValueId v, const void* src, DType st, size_t count, const std::string& what) {
  const TensorDesc& d = plan_.graph->desc(v);
  if (count != size_t(d.numel()))
    throw std::invalid_argument(what + ": expected " + std::to_string(d.numel()) + " elements " + desc_str(d) +
                                ", got " + std::to_string(count));
  if (!ptrs_[size_t(v)]) return;  // unused by this plan
  std::vector<std::byte> tmp(d.bytes());
  convert_elements(src, st, tmp.data(), d.dtype, count);
  plan_.backend->write_value(*plan_.graph, v, ptrs_[size_t(v)], tmp.data());
}

void Session::read(ValueId v, void* dst, DType dt) const {
  const TensorDesc& d = plan_.graph->desc(v);
  if (!ptrs_[size_t(v)])
    throw std::invalid_argument("value " + plan_.graph->value_label(v) + " is not materialised by this plan (mark it as an output)");
  std::vector<std::byte> tmp(d.bytes());
  plan_.backend->synchronize();
  plan_.backend->read_value(*plan_.graph, v, tmp.data(), ptrs_[size_t(v)]);
  convert_elements(tmp.data(), d.dtype, dst, dt, size_t(d.numel()));
}

void Session::set_input(const std::string& n, std::span<const float> d) { write(input_value(n), d.data(), DType::f32, d.size(), "input '" + n + "'"); }
void Session::set_input(const std::string& n, std::span<const double> d) { write(input_value(n), d.data(), DType::f64, d.size(), "input '" + n + "'"); }
void Session::set_variable(const std::string& n, std::span<const float> d) { write(variable_value(n), d.data(), DType::f32, d.size(), "variable '" + n + "'"); }
void Session::set_variable(const std::string& n, std::span<const double> d) { write(variable_value(n), d.data(), DType::f64, d.size(), "variable '" + n + "'"); }
void Session::set_variable(const std::string& n, std::span<const int64_t> d) { write(variable_value(n), d.data(), DType::i64, d.size(), "variable '" + n + "'"); }

std::vector<double> Session::variable(const std::string& name) const { return value(variable_value(name)); }

void Session::read_variable(const std::string& name, void* dst, DType dst_type) const {
  read(variable_value(name), dst, dst_type);
}

std::vector<double> Session::value(ValueId v) const {
  std::vector<double> r(size_t(plan_.graph->desc(v).numel()));
  read(v, r.data(), DType::f64);
  return r;
}

std::vector<float> Session::value_f32(ValueId v) const {
  std::vector<float> r(size_t(plan_.graph->desc(v).numel()));
  read(v, r.data(), DType::f32);
  return r;
}

}  // namespace rg
