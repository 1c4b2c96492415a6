// A Session binds memory to a Plan: one arena for all intermediate buffers and
// one allocation per variable, made once. run() replays the kernels and
// allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/plan.h"

namespace rg {

class Session {
 public:
  explicit Session(Plan& plan);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run();

  // Host <-> device, converting between the host type and the graph's dtype.
  // Variables and inputs are addressed by name; any materialised value by id.
  void set_input(const std::string& name, std::span<const float> data);
  void set_input(const std::string& name, std::span<const double> data);
  void set_variable(const std::string& name, std::span<const float> data);
  void set_variable(const std::string& name, std::span<const double> data);
  void set_variable(const std::string& name, std::span<const int64_t> data);
  std::vector<double> variable(const std::string& name) const;
  // A variable's numel() elements converted to dst_type, written to dst (no
  // intermediate copy in the caller's type; checkpoints use it).
  void read_variable(const std::string& name, void* dst, DType dst_type) const;
  std::vector<double> value(ValueId v) const;  // f64 copy of a materialised value
  std::vector<float> value_f32(ValueId v) const;

  // Raw pointers for backends' tests and for zero-copy host backends.
  void* device_ptr(ValueId v) const { return ptrs_.at(size_t(v)); }
  const Plan& plan() const { return plan_; }

 private:
  void write(ValueId v, const void* src, DType src_type, size_t count, const std::string& what);
  void read(ValueId v, void* dst, DType dst_type) const;
  ValueId input_value(const std::string& name) const;
  ValueId variable_value(const std::string& name) const;

  Plan& plan_;
  void* arena_ = nullptr;
  std::vector<void*> variable_storage_;
  std::vector<void*> ptrs_;  // per value
  std::vector<Kernel*> kernels_;
};

// Convert `count` elements between dtypes on the host.
void convert_elements(const void* src, DType src_type, void* dst, DType dst_type, size_t count);

}  // namespace rg
