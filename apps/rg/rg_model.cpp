// SPDX-License-Identifier: Apache-2.0
#include "apps/rg/rg_model.h"

#include <algorithm>
#include <random>

#include "engine/io/npy.h"

namespace rg::tool {

void add_model_flags(app::Flags& f) {
  f.value("batch", "N", "the value of the model's symbolic batch dimension", "1");
  f.repeated("const", "NAME=FILE.npy",
             "an input the engine needs at compile time (a shape, Clip's bounds, Resize's scales), "
             "folded as a "
             "constant; repeat for each");
}

std::map<std::string, std::string> name_files(const app::Flags& f, const std::string& flag) {
  std::map<std::string, std::string> r;
  for (const std::string& v : f.all(flag)) {
    const size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
      throw app::UsageError("--" + flag + " takes NAME=FILE.npy, got '" + v + "'");
    if (!r.emplace(v.substr(0, eq), v.substr(eq + 1)).second)
      throw app::UsageError("--" + flag + " names '" + v.substr(0, eq) + "' twice");
  }
  return r;
}

onnx::Model load_model(const std::string& path, const app::Flags& f) {
  onnx::ImportOptions opt;
  opt.batch = f.integer("batch", 1, 1 << 20);
  for (const auto& [name, file] : name_files(f, "const"))
    opt.constant_inputs[name] = io::read_npy(file).data;
  try {
    return onnx::import_file(path, opt);
  } catch (const onnx::NeedsConstantError& e) {
    throw onnx::NeedsConstantError(
        std::string(e.what()) + " (rg: --const " + e.input + "=FILE.npy)", e.input);
  }
}

std::map<std::string, std::vector<float>> input_values(const onnx::Model& m, const app::Flags& f,
                                                       bool random_ok) {
  const std::map<std::string, std::string> files = name_files(f, "input");
  for (const auto& [name, file] : files)
    if (std::find(m.inputs.begin(), m.inputs.end(), name) == m.inputs.end())
      throw app::UsageError("--input " + name + ": the model has no such input to feed (inputs: " +
                            [&] {
                              std::string s;
                              for (const auto& i : m.inputs) s += (s.empty() ? "" : ", ") + i;
                              return s;
                            }() +
                            ")");
  std::map<std::string, std::vector<float>> r;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (size_t i = 0; i < m.inputs.size(); ++i) {
    const std::string& name = m.inputs[i];
    const Shape& shape = m.graph->shape(m.graph->inputs()[i].value);
    std::vector<float> v;
    if (auto it = files.find(name); it != files.end()) {
      const io::NpyArray a = io::read_npy(it->second);
      if (a.shape != shape)
        throw std::runtime_error(it->second + ": shape " + shape_str(a.shape) + ", but input '" +
                                 name + "' is " + shape_str(shape) +
                                 " (--batch sets the first dimension)");
      v.assign(a.data.begin(), a.data.end());
    } else {
      if (!random_ok)
        throw app::UsageError("input '" + name + "' needs --input " + name + "=FILE.npy");
      v.resize(size_t(numel(shape)));
      for (float& x : v) x = u(rng);
    }
    r[name] = std::move(v);
  }
  return r;
}

Compiled compile_model(const onnx::Model& m, Backend& be,
                       const std::map<std::string, std::vector<float>>& inputs) {
  Compiled c;
  c.plan = compile(m.graph, be);
  if (be.name() == "cuda") {  // device memory: the weights are copied in
    c.session = std::make_unique<Session>(*c.plan);
    m.load_weights(*c.session);
  } else {  // host memory: the session reads the model's weights where they are (one copy, not two)
    CallerMemory mem;
    for (const onnx::Weight& w : m.weights)
      mem.add_read_only_variable(w.name, std::as_bytes(std::span<const float>(w.data)));
    c.session = std::make_unique<Session>(*c.plan, mem);
  }
  for (const auto& [name, v] : inputs) c.session->set_input(name, std::span<const float>(v));
  return c;
}

}  // namespace rg::tool
