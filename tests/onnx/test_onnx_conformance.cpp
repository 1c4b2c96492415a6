// SPDX-License-Identifier: Apache-2.0
// The ONNX project's own backend test cases (Debian's libonnx-testdata:
// node, pytorch-converted, pytorch-operator, simple) through the importer on
// each backend. Selected: every case of opset 7 to 21 whose ops are all in
// the conv-net op set (the list below, fixed in advance, not from what
// the importer accepts), with float32 inputs and outputs of rank <= 4 (1-D
// and 2-D spatial). Each case prints PASS or FAIL with its reason; the test
// fails when fewer than 95 % pass. docs/onnx.md lists the failing cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "apps/ralsgan/plan_encoder.h"
#include "engine/plan.h"
#include "rg/session.h"
#include "frontends/onnx/onnx_tensor.h"
#include "rg/backend_ref.h"
#include "rg/onnx.h"
#include "runtime/rg_runtime.h"
#if RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#if RALSGAN_HAVE_CUDA
#include "rg/backend_cuda.h"
#endif

namespace rg {
namespace {

namespace fs = std::filesystem;
const char* kData = "/usr/share/libonnx-testdata/data";

const std::set<std::string>& conv_net_ops() {
  static const std::set<std::string> s = {"Conv",
                                          "ConvTranspose",
                                          "BatchNormalization",
                                          "Relu",
                                          "LeakyRelu",
                                          "PRelu",
                                          "Elu",
                                          "Sigmoid",
                                          "Tanh",
                                          "Clip",
                                          "HardSigmoid",
                                          "HardSwish",
                                          "Add",
                                          "Sub",
                                          "Mul",
                                          "Div",
                                          "Sum",
                                          "MaxPool",
                                          "AveragePool",
                                          "GlobalAveragePool",
                                          "GlobalMaxPool",
                                          "LRN",
                                          "Gemm",
                                          "MatMul",
                                          "Flatten",
                                          "Reshape",
                                          "Transpose",
                                          "Squeeze",
                                          "Unsqueeze",
                                          "Concat",
                                          "Pad",
                                          "Softmax",
                                          "LogSoftmax",
                                          "Resize",
                                          "Upsample",
                                          "Dropout",
                                          "Identity",
                                          "Constant",
                                          "ConstantOfShape"};
  return s;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// float32 (or, for inputs, int64: shapes and axes, given at import) of rank <= 4.
bool rank4(const ::onnx::ValueInfoProto& v, bool allow_int) {
  if (!v.type().has_tensor_type()) return false;
  const int t = v.type().tensor_type().elem_type();
  if (t != ::onnx::TensorProto::FLOAT && !(allow_int && t == ::onnx::TensorProto::INT64))
    return false;
  return !v.type().tensor_type().has_shape() || v.type().tensor_type().shape().dim_size() <= 4;
}

// Modes outside the set: Resize's cubic mode, BatchNormalization in training.
bool outside_the_set(const ::onnx::NodeProto& n) {
  for (const auto& a : n.attribute()) {
    if (n.op_type() == "Resize" && a.name() == "mode" && a.s() == "cubic") return true;
    if (n.op_type() == "BatchNormalization" && a.name() == "training_mode" && a.i() != 0)
      return true;
  }
  return false;
}

bool selected(const fs::path& model) {
  ::onnx::ModelProto m;
  const std::string bytes = read_bytes(model);
  if (!m.ParseFromString(bytes)) return false;
  int64_t opset = 0;
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (opset < 7 || opset > 21) return false;
  std::set<std::string> inits;
  for (const auto& t : m.graph().initializer()) inits.insert(t.name());
  for (const auto& n : m.graph().node())
    if (!conv_net_ops().count(n.op_type()) || !(n.domain().empty() || n.domain() == "ai.onnx") ||
        outside_the_set(n))
      return false;
  for (const auto& i : m.graph().input())
    if (!inits.count(i.name()) && !rank4(i, true)) return false;
  for (const auto& o : m.graph().output())
    if (!rank4(o, false)) return false;
  return m.graph().node_size() > 0;
}

std::vector<fs::path> selected_cases() {
  std::vector<fs::path> r;
  for (const char* sub : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    const fs::path dir = fs::path(kData) / sub;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (fs::exists(e.path() / "model.onnx") && selected(e.path() / "model.onnx"))
        r.push_back(e.path());
  }
  std::sort(r.begin(), r.end());
  return r;
}

onnx::Const read_tensor(const fs::path& p) {
  ::onnx::TensorProto t;
  if (!t.ParseFromString(read_bytes(p))) throw std::runtime_error("cannot parse " + p.string());
  return onnx::decode_tensor(t, "");
}

// The model's inputs to feed, in order (initializers excluded): input_N.pb's N.
std::vector<std::string> graph_inputs(const fs::path& model) {
  ::onnx::ModelProto m;
  m.ParseFromString(read_bytes(model));
  std::set<std::string> inits;
  for (const auto& t : m.graph().initializer()) inits.insert(t.name());
  std::vector<std::string> r;
  for (const auto& i : m.graph().input())
    if (!inits.count(i.name())) r.push_back(i.name());
  return r;
}

// A case's model, imported with the inputs the engine needs at compile time
// (NeedsConstantError) given from its first data set, and its data sets.
struct Case {
  std::optional<onnx::Model> model;
  std::vector<fs::path> sets;
  std::vector<std::string> names;  // the inputs to feed, input_N.pb's N
  fs::path input_file(const fs::path& set, const std::string& name) const {
    const size_t i = size_t(std::find(names.begin(), names.end(), name) - names.begin());
    return set / ("input_" + std::to_string(i) + ".pb");
  }
};

// Empty when the case loads, else why not.
std::string load_case(const fs::path& dir, Case& c) {
  c.names = graph_inputs(dir / "model.onnx");
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) c.sets.push_back(e.path());
  std::sort(c.sets.begin(), c.sets.end());
  if (c.sets.empty()) return "no test data set";
  onnx::ImportOptions opt;
  while (!c.model) {
    try {
      c.model = onnx::import_file((dir / "model.onnx").string(), opt);
    } catch (const onnx::NeedsConstantError& e) {
      if (opt.constant_inputs.count(e.input)) throw;
      const onnx::Const k = read_tensor(c.input_file(c.sets[0], e.input));
      std::vector<double> v;
      for (size_t i = 0; i < size_t(k.numel()); ++i) v.push_back(k.at(i));
      opt.constant_inputs[e.input] = v;
    }
  }
  if (c.sets.size() > 1 && !opt.constant_inputs.empty()) return "several data sets with constant inputs";
  return "";
}

// Feeds data set `set` into the session; empty, or why not.
std::string feed(const Case& c, const fs::path& set, Session& s) {
  const onnx::Model& m = *c.model;
  for (size_t i = 0; i < m.inputs.size(); ++i) {
    const onnx::Const x = read_tensor(c.input_file(set, m.inputs[i]));
    if (x.shape != m.graph->shape(m.graph->inputs()[i].value))
      return "input " + m.inputs[i] + " has shape " + shape_str(x.shape);
    s.set_input(m.inputs[i], std::span<const float>(x.f));
  }
  return "";
}

// Runs one case; empty when it passes, else why not. ONNX's runner's
// tolerance: |a - b| <= 1e-7 + 1e-3 |b|.
std::string run_case(const fs::path& dir, Backend& be) {
  try {
    Case c;
    if (std::string why = load_case(dir, c); !why.empty()) return why;
    const onnx::Model& model = *c.model;
    auto plan = compile(model.graph, be);
    Session s(*plan);
    model.load_weights(s);
    for (const fs::path& set : c.sets) {
      if (std::string why = feed(c, set, s); !why.empty()) return why;
      s.run();
      for (size_t i = 0; i < model.outputs.size(); ++i) {
        const onnx::Const want = read_tensor(set / ("output_" + std::to_string(i) + ".pb"));
        const std::vector<double> got = s.output(model.outputs[i]);
        if (got.size() != size_t(want.numel()))
          return "output " + model.outputs[i] + " has " + std::to_string(got.size()) +
                 " values, expected " + std::to_string(want.numel());
        for (size_t k = 0; k < got.size(); ++k) {
          const double w = want.at(k), d = std::abs(got[k] - w);
          if (!(d <= 1e-7 + 1e-3 * std::abs(w)) && !(std::isnan(w) && std::isnan(got[k])))
            return "output " + model.outputs[i] + "[" + std::to_string(k) +
                   "] = " + std::to_string(got[k]) + ", expected " + std::to_string(w);
        }
      }
    }
    return "";
  } catch (const std::exception& e) {
    std::string w = e.what();
    return w.empty() ? "exception" : w;
  }
}

// The case exported as a plan (apps/ralsgan/plan_encoder.h) and run by the C
// runtime: "" when every output is bit-identical to the reference backend's,
// "unsupported: ..." when the runtime has no kernel for it, else the difference.
std::string run_case_in_runtime(const fs::path& dir) {
  try {
    Case c;
    if (std::string why = load_case(dir, c); !why.empty()) return "unsupported: " + why;
    const onnx::Model& m = *c.model;
    auto be = make_ref_backend();
    auto plan = compile(m.graph, *be);
    Session s(*plan);
    m.load_weights(s);
    std::vector<app::PlanIo> io;
    for (const InputInfo& in : m.graph->inputs()) io.push_back({in.name, in.value, true});
    for (const std::string& o : m.outputs) io.push_back({o, m.graph->output(o), false});
    std::vector<uint8_t> file;
    try {
      file = app::encode_plan(*plan, s, io);
    } catch (const app::PlanExportError& e) {
      return std::string("unsupported: ") + e.what();
    }
    rg_plan p;
    if (rg_plan_validate(file.data(), file.size(), &p) != RG_OK) return "the plan does not validate";
    std::vector<double> arena(p.header.arena_bytes / 8 + 1);
    for (const fs::path& set : c.sets) {
      if (std::string why = feed(c, set, s); !why.empty()) return why;
      for (size_t i = 0; i < m.inputs.size(); ++i) {
        const onnx::Const x = read_tensor(c.input_file(set, m.inputs[i]));
        std::copy(x.f.begin(), x.f.end(), rg_io_data(&p, arena.data(), uint32_t(i)));
      }
      s.run();
      if (rg_run(&p, rg_plan_weights(&p), arena.data()) != RG_OK) return "rg_run failed";
      for (size_t i = 0; i < m.outputs.size(); ++i) {
        const std::vector<float> want = s.value_f32(m.graph->output(m.outputs[i]));
        const float* got = rg_io_data(&p, arena.data(), uint32_t(m.inputs.size() + i));
        if (std::memcmp(want.data(), got, want.size() * sizeof(float)) != 0)
          return "output " + m.outputs[i] + " differs from the reference backend's";
      }
    }
    return "";
  } catch (const std::exception& e) {
    return std::string("unsupported: ") + e.what();
  }
}

void expect_conformance(const std::string& name, Backend& be) {
  const std::vector<fs::path> cases = selected_cases();
  ASSERT_GT(cases.size(), 150u) << "libonnx-testdata missing under " << kData << "?";
  size_t passed = 0;
  for (const fs::path& c : cases) {
    const std::string why = run_case(c, be);
    const std::string label = c.parent_path().filename().string() + "/" + c.filename().string();
    if (why.empty()) {
      ++passed;
      std::printf("PASS %s %s\n", name.c_str(), label.c_str());
    } else {
      std::printf("FAIL %s %s: %s\n", name.c_str(), label.c_str(), why.c_str());
    }
  }
  const double rate = double(passed) / double(cases.size());
  std::printf("%s: %zu of %zu selected ONNX cases pass (%.1f %%)\n", name.c_str(), passed,
              cases.size(), 100 * rate);
  EXPECT_GE(rate, 0.95) << name;
}

// Every selected case the runtime has kernels for, bit for bit against the
// reference backend (docs/embedded.md): none may differ, and at least 80 %
// of the cases must export (the rest: ops outside the runtime's set, named).
TEST(OnnxConformance, EmbeddedRuntimeIsBitIdenticalToRef) {
  const std::vector<fs::path> cases = selected_cases();
  ASSERT_GT(cases.size(), 150u) << "libonnx-testdata missing under " << kData << "?";
  size_t identical = 0, unsupported = 0;
  for (const fs::path& c : cases) {
    const std::string why = run_case_in_runtime(c);
    const std::string label = c.parent_path().filename().string() + "/" + c.filename().string();
    if (why.empty())
      ++identical;
    else if (why.rfind("unsupported: ", 0) == 0)
      ++unsupported, std::printf("SKIP runtime %s: %s\n", label.c_str(), why.c_str() + 13);
    else
      ADD_FAILURE() << label << ": " << why;
  }
  std::printf("runtime: %zu of %zu selected ONNX cases exported and bit-identical, %zu outside its op set\n",
              identical, cases.size(), unsupported);
  EXPECT_GE(double(identical), 0.8 * double(cases.size()));
}

TEST(OnnxConformance, ReferenceBackend) {
  auto be = make_ref_backend();
  expect_conformance("ref", *be);
}

#if RALSGAN_HAVE_ONEDNN
TEST(OnnxConformance, CpuBackend) {
  auto be = make_onednn_backend({.threads = 2});
  expect_conformance("cpu", *be);
}
#endif

#if RALSGAN_HAVE_CUDA
TEST(OnnxConformance, CudaBackend) {
  if (cuda_device_count() == 0)
    GTEST_SKIP() << "no CUDA GPU: cudaGetDeviceCount failed or returned 0";
  auto be = make_cuda_backend();
  expect_conformance("cuda", *be);
}
#endif

}  // namespace
}  // namespace rg
