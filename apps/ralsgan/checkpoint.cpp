#include "apps/ralsgan/checkpoint.h"

#include <cstring>
#include <stdexcept>

namespace rg::app {
namespace {

std::string shape_text(const std::vector<int64_t>& s) { return shape_str(Shape(s.begin(), s.end())); }

const io::TensorData& expect_tensor(const io::SafetensorsContents& file, const std::string& label,
                                    const std::string& key, const Shape& shape, bool integer) {
  auto it = file.tensors.find(key);
  if (it == file.tensors.end())
    throw std::runtime_error(label + ": tensor '" + key + "' is missing (expected " + shape_str(shape) + ")");
  const io::TensorData& t = it->second;
  if (Shape(t.shape.begin(), t.shape.end()) != shape)
    throw std::runtime_error(label + ": tensor '" + key + "' has shape " + shape_text(t.shape) + ", expected " +
                             shape_str(shape));
  const bool ok = integer ? (t.dtype == "I64" || t.dtype == "I32") : (t.dtype == "F32" || t.dtype == "F64");
  if (!ok)
    throw std::runtime_error(label + ": tensor '" + key + "' has dtype " + t.dtype + ", expected " +
                             (integer ? "I64" : "F32 or F64"));
  return t;
}

void set_from(Session& s, const std::string& var, const io::TensorData& t) {
  const std::vector<double> v = io::to_f64(t);
  const int idx = s.plan().graph->find_variable(var);
  if (idx < 0) return;  // this graph does not use it (e.g. generation needs no D)
  if (s.plan().graph->variables()[size_t(idx)].desc.dtype == DType::i64) {
    std::vector<int64_t> iv(v.begin(), v.end());
    s.set_variable(var, std::span<const int64_t>(iv));
  } else {
    s.set_variable(var, std::span<const double>(v));
  }
}

io::TensorData tensor_of(const Session& s, const std::string& var, const Shape& shape, DType t) {
  const std::vector<double> v = s.variable(var);
  std::vector<int64_t> sh(shape.begin(), shape.end());
  if (t == DType::i64) {
    io::TensorData d;
    d.dtype = "I64";
    d.shape = sh;
    d.bytes.resize(v.size() * 8);
    for (size_t i = 0; i < v.size(); ++i) {
      const int64_t x = static_cast<int64_t>(v[i]);
      std::memcpy(d.bytes.data() + i * 8, &x, 8);
    }
    return d;
  }
  // Float tensors in the graph's precision: F32 normally, F64 for f64 runs.
  if (s.plan().graph->float_type() == DType::f64) return io::from_f64(v, sh);
  std::vector<float> f(v.begin(), v.end());
  return io::from_f32(f, sh);
}

}  // namespace

CheckpointPaths CheckpointPaths::in(const std::filesystem::path& dir) {
  return {dir / "generator.safetensors", dir / "discriminator.safetensors", dir / "train_state.safetensors"};
}

io::SafetensorsContents export_network(const Session& s, const std::vector<model::ParamSpec>& specs,
                                       const std::string& prefix) {
  io::SafetensorsContents c;
  for (const auto& p : specs) c.tensors[p.key] = tensor_of(s, prefix + p.key, p.shape, p.dtype);
  c.metadata["format"] = "pt";
  return c;
}

void check_network_file(const io::SafetensorsContents& file, const std::string& label,
                        const std::vector<model::ParamSpec>& specs) {
  for (const auto& p : specs) expect_tensor(file, label, p.key, p.shape, p.dtype == DType::i64);
  for (const auto& [key, t] : file.tensors) {
    bool known = false;
    for (const auto& p : specs) known |= p.key == key;
    if (!known)
      throw std::runtime_error(label + ": unexpected tensor '" + key + "' (not part of this model: wrong --size or --width?)");
  }
}

void import_network(Session& s, const io::SafetensorsContents& file, const std::string& label,
                    const std::vector<model::ParamSpec>& specs, const std::string& prefix) {
  check_network_file(file, label, specs);
  for (const auto& p : specs) set_from(s, prefix + p.key, file.tensors.at(p.key));
}

io::SafetensorsContents export_train_state(const Session& s, const std::vector<model::ParamSpec>& g_specs,
                                           const std::vector<model::ParamSpec>& d_specs) {
  io::SafetensorsContents c;
  for (auto [specs, net] : {std::pair{&g_specs, "G."}, {&d_specs, "D."}}) {
    for (const auto& p : *specs) {
      if (!p.trainable) continue;
      for (const char* m : {".exp_avg", ".exp_avg_sq"}) {
        const std::string name = std::string("adam.") + net + p.key + m;
        c.tensors[name] = tensor_of(s, name, p.shape, DType::f32);
      }
    }
    const std::string step = std::string("adam.") + net + "step";
    c.tensors[step] = tensor_of(s, step, {}, DType::i64);
  }
  return c;
}

void import_train_state(Session& s, const io::SafetensorsContents& file, const std::string& label,
                        const std::vector<model::ParamSpec>& g_specs, const std::vector<model::ParamSpec>& d_specs) {
  for (auto [specs, net] : {std::pair{&g_specs, "G."}, {&d_specs, "D."}}) {
    for (const auto& p : *specs) {
      if (!p.trainable) continue;
      for (const char* m : {".exp_avg", ".exp_avg_sq"}) {
        const std::string name = std::string("adam.") + net + p.key + m;
        set_from(s, name, expect_tensor(file, label, name, p.shape, false));
      }
    }
    const std::string step = std::string("adam.") + net + "step";
    set_from(s, step, expect_tensor(file, label, step, {}, true));
  }
}

}  // namespace rg::app
