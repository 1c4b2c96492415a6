// SPDX-License-Identifier: Apache-2.0
// rg inspect, run and bench (docs/onnx.md).
#include "apps/rg/rg_commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "apps/ralsgan/backend_select.h"
#include "apps/ralsgan/plan_encoder.h"
#include "apps/rg/rg_model.h"
#include "apps/rg/sgemm_peak.h"
#include "engine/conv_geometry.h"
#include "engine/inspect.h"
#include "engine/io/atomic_file.h"
#include "engine/io/json.h"
#include "engine/io/npy.h"
#include "engine/op_geometry.h"

namespace rg::tool {
namespace {

namespace fs = std::filesystem;

// `rg CMD MODEL.onnx [flags]`: parses the flags after the model into `f`
// and returns the model's path, or empty where --help was asked for (then
// printed) and the command has nothing more to do.
std::string parse_command(app::Flags& f, int argc, char** argv, const char* cmd) {
  const bool help_first = argc >= 3 && (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h");
  if (!help_first && (argc < 3 || std::string(argv[2]).rfind("--", 0) == 0))
    throw app::UsageError(std::string("rg ") + cmd + ": the first argument is the model (MODEL.onnx)");
  if (help_first) {
    std::fputs(f.help().c_str(), stdout);
    return "";
  }
  return f.parse(argc - 3, argv + 3) ? argv[2] : "";
}

// The FLOPs of a group's anchor (convolutions and matmuls; 0 for the rest).
double group_flops(const Plan& plan, size_t k) {
  const Graph& g = *plan.graph;
  const Node& n = g.node(plan.groups[k].nodes.front());
  if (is_convolution(n.op)) return double(conv_geometry(g, n).flops());
  if (n.op == OpKind::kMatMul) {
    const MatMulGeometry m = matmul_geometry(g, n);
    return 2.0 * double(m.batch) * double(m.m) * double(m.n) * double(m.k);
  }
  return 0;
}

void print_model(const onnx::Model& m, const std::string& path) {
  size_t weight_bytes = 0;
  for (const onnx::Weight& w : m.weights) weight_bytes += w.data.size() * sizeof(float);
  std::printf("model %s: opset %lld, producer '%s', %zu weights (%s)\n", path.c_str(),
              (long long)m.opset, m.producer.c_str(), m.weights.size(),
              human_bytes(weight_bytes).c_str());
  for (size_t i = 0; i < m.inputs.size(); ++i)
    std::printf("  input  %s %s\n", m.inputs[i].c_str(),
                shape_str(m.graph->shape(m.graph->inputs()[i].value)).c_str());
  for (const std::string& o : m.outputs)
    std::printf("  output %s %s\n", o.c_str(),
                shape_str(m.graph->shape(m.graph->output(o))).c_str());
  std::map<std::string, int> ops;
  for (NodeId id = 0; id < m.graph->num_nodes(); ++id) ++ops[op_name(m.graph->node(id).op)];
  std::printf("engine ops:");
  for (const auto& [op, count] : ops) std::printf(" %s x%d", op.c_str(), count);
  std::printf("\n");
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  app::Flags f(
      "rg inspect",
      "Print a model's inputs, outputs and ops, and its plan on a backend: each fusion group's "
      "kernel and implementation, what falls back to the host, and the memory plan.");
  add_model_flags(f);
  app::add_backend_flags(f);
  f.toggle("no-buffers", "leave out the memory plan's buffer list");
  const std::string path = parse_command(f, argc, argv, "inspect");
  if (path.empty()) return 0;
  const onnx::Model m = load_model(path, f);
  print_model(m, path);
  app::SelectedBackend be = app::make_backend(app::backend_of(f));
  auto plan = compile(m.graph, *be.backend);
  std::ostringstream os;
  print_plan(os, *plan, !f.on("no-buffers"));
  std::fputs(os.str().c_str(), stdout);
  int fallbacks = 0;
  for (size_t k = 0; k < plan->groups.size(); ++k)
    if (plan->on_fallback[k]) {
      std::printf("falls back to the host: [%zu] %s\n", k, plan->kernels[k]->describe().c_str());
      ++fallbacks;
    }
  std::printf("%d of %zu kernels fall back to the host\n", fallbacks, plan->groups.size());
  return 0;
}

int cmd_run(int argc, char** argv) {
  app::Flags f(
      "rg run",
      "Run a model once on inputs from .npy files and write each output as DIR/<output>.npy.");
  add_model_flags(f);
  app::add_backend_flags(f);
  f.repeated("input", "NAME=FILE.npy",
             "an input's value (float32 or float64); repeat for each input");
  f.value("out", "DIR", "where the outputs go (created if missing)");
  f.toggle("overwrite",
           "replace output files that already exist (by default an existing file is an error)");
  f.required("out");
  const std::string path = parse_command(f, argc, argv, "run");
  if (path.empty()) return 0;
  const onnx::Model m = load_model(path, f);
  const auto inputs = input_values(m, f, false);
  const fs::path out = f.str("out");
  std::vector<fs::path> files;
  for (const std::string& o : m.outputs) {
    std::string safe = o;
    for (char& ch : safe)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.'))
        ch = '_';
    files.push_back(out / (safe + ".npy"));
    if (fs::exists(files.back()) && !f.on("overwrite"))
      throw app::UsageError(files.back().string() + " exists (--overwrite replaces it)");
  }
  app::SelectedBackend be = app::make_backend(app::backend_of(f));
  Compiled c = compile_model(m, *be.backend, inputs);
  c.session->run();
  fs::create_directories(out);
  for (size_t i = 0; i < m.outputs.size(); ++i) {
    const std::vector<double> y = c.session->output(m.outputs[i]);
    const std::vector<float> yf(y.begin(), y.end());
    io::write_file_atomic(files[i],
                          io::npy_bytes(m.graph->shape(m.graph->output(m.outputs[i])), yf));
    std::printf("%s\n", files[i].string().c_str());
  }
  return 0;
}

int cmd_export(int argc, char** argv) {
  app::Flags f("rg export",
               "Compile a model for the C runtime (docs/embedded.md): DIR/model.rgplan and "
               "DIR/model.h, run by rg_run_file or a firmware, bit-identical to `rg run --backend "
               "ref`.");
  add_model_flags(f);
  f.value("out", "DIR", "where model.rgplan and model.h go (created if missing)");
  f.value("weights", "f32|bf16|int8",
          "how the weights are stored: f32 (bit-exact, default), bf16 (half the size) or int8 "
          "(convolution weights per output channel, a quarter)");
  f.toggle("fold-bn", "fold each batch norm into the convolution before it, for RG_FAST builds of the runtime "
                     "(faster; no longer bit-exact on any build)");
  f.value("scratch-kib", "N",
          "a convolution's im2col scratch per pass, KiB (default 16): less memory, more passes; "
          "results do not change");
  f.required("out");
  const std::string path = parse_command(f, argc, argv, "export");
  if (path.empty()) return 0;
  const std::string wt = f.has("weights") ? f.str("weights") : "f32";
  if (wt != "f32" && wt != "bf16" && wt != "int8")
    throw app::UsageError("--weights must be f32, bf16 or int8, not '" + wt + "'");
  const onnx::Model m = load_model(path, f);
  app::SelectedBackend be = app::make_backend(app::BackendRequest{"ref"});
  Compiled c = compile_model(m, *be.backend, {});
  std::vector<app::PlanIo> io;
  for (const InputInfo& in : m.graph->inputs()) io.push_back({in.name, in.value, true});
  for (const std::string& name : m.outputs) io.push_back({name, m.graph->output(name), false});
  std::vector<uint8_t> file;
  try {
    app::EncodeOptions eo;
    eo.weights = wt == "bf16" ? RG_WEIGHTS_BF16 : wt == "int8" ? RG_WEIGHTS_INT8 : RG_WEIGHTS_F32;
    if (f.has("scratch-kib")) eo.scratch_bytes = size_t(f.integer("scratch-kib", 1, 1 << 20)) * 1024;
    eo.fold_batch_norm = f.on("fold-bn");
    file = app::encode_plan(*c.plan, *c.session, io, eo);
  } catch (const app::PlanExportError& e) {
    throw onnx::UnsupportedError(e.what());
  }
  const fs::path out = f.str("out");
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw std::runtime_error("cannot create the output folder " + out.string() + ": " +
                             (ec ? ec.message() : std::string("it is not a folder")));
  const std::string header = app::plan_c_header(file, fs::path(path).filename().string(), "rg export");
  io::write_files_atomic({{out / "model.rgplan", std::span<const uint8_t>(file)},
                          {out / "model.h", std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header.data()),
                                                                     header.size())}});
  const app::PlanStats st = app::plan_stats(file);
  std::fprintf(stderr, "wrote %s (%llu bytes: %d kernels, %llu bytes of weights; arena %llu bytes) and %s\n",
               (out / "model.rgplan").string().c_str(), (unsigned long long)st.file_bytes, st.kernels,
               (unsigned long long)st.weights_bytes, (unsigned long long)st.arena_bytes,
               (out / "model.h").string().c_str());
  std::printf("%s\n", (out / "model.rgplan").string().c_str());
  return 0;
}

int cmd_bench(int argc, char** argv) {
  app::Flags f("rg bench",
               "Time a model on each backend: median and minimum ms per run, each fusion group's "
               "ms, GFLOP/s and "
               "share of this machine's measured sgemm, and each backend's largest output "
               "difference against ref.");
  add_model_flags(f);
  f.value("backend", "B[,B...]",
          "backends to time (ref, cpu, cuda); default: every one available. Outputs are compared "
          "with ref's "
          "where ref is one of them");
  f.value("threads", "N", "CPU threads (cpu backend); 0 = all cores", "0");
  f.value("runs", "N", "timed runs per backend (after 2 warm-up runs)", "10");
  f.repeated("input", "NAME=FILE.npy",
             "an input's value; inputs not given are random from a fixed seed");
  f.value("json", "FILE", "also write the results as JSON");
  f.value("top", "N", "groups to list per backend, heaviest first (0: all)", "10");
  const std::string path = parse_command(f, argc, argv, "bench");
  if (path.empty()) return 0;
  const onnx::Model m = load_model(path, f);
  const auto inputs = input_values(m, f, true);
  const int runs = int(f.integer("runs", 1, 100000));
  const int threads = int(f.integer("threads", 0, 4096));
  const size_t top = size_t(f.integer("top", 0, 1 << 20));
  std::vector<std::string> names;
  if (f.has("backend")) {
    std::stringstream ss(f.str("backend"));
    for (std::string b; std::getline(ss, b, ',');) names.push_back(b);
  } else {
    names = app::available_backends();
  }
  // The reference outputs every backend is compared with, where ref is
  // among the backends (it is slow on large models: leave it out to time
  // the others alone).
  std::map<std::string, std::vector<double>> want;
  const bool compare = std::find(names.begin(), names.end(), "ref") != names.end();
  if (compare) {
    auto ref = app::make_backend({"ref", threads, "f32", "f32"});
    Compiled rc = compile_model(m, *ref.backend, inputs);
    rc.session->run();
    for (const std::string& o : m.outputs) want[o] = rc.session->output(o);
  }
  const double peak = sgemm_gflops(threads);
  const int64_t batch = f.integer("batch", 1, 1 << 20);
  std::printf("model %s, batch %lld, %d threads; sgemm on this machine: %.1f GFLOP/s\n",
              path.c_str(), (long long)batch, threads, peak);
  io::Json json = io::Json::object();
  json["model"] = io::json_text(path);
  json["batch"] = batch;
  json["threads"] = threads;
  json["sgemm_gflops"] = io::json_number(peak, 6);
  io::Json results = io::Json::array();
  for (size_t bi = 0; bi < names.size(); ++bi) {
    app::BackendRequest req{names[bi], threads, "f32", "f32"};
    app::SelectedBackend be = app::make_backend(req);
    Compiled c = compile_model(m, *be.backend, inputs);
    for (int i = 0; i < 2; ++i) c.session->run();
    c.plan->backend->synchronize();
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      c.session->run();
      c.plan->backend->synchronize();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2], best = sorted.front();
    double diff = compare ? 0 : std::nan("");  // JSON null without ref
    for (const std::string& o : m.outputs) {
      if (!compare) break;
      const std::vector<double> got = c.session->output(o);
      for (size_t k = 0; k < got.size(); ++k) diff = std::max(diff, std::abs(got[k] - want[o][k]));
    }
    // Per group: run_timed's milliseconds, averaged over the runs.
    std::vector<double> group_ms(c.plan->groups.size(), 0.0);
    for (int i = 0; i < runs; ++i) {
      const std::vector<double> t = c.session->run_timed();
      for (size_t k = 0; k < t.size() && k < group_ms.size(); ++k) group_ms[k] += t[k] / runs;
    }
    std::printf("\n%s: median %.3f ms, min %.3f ms over %d runs; max |diff| vs ref %s\n",
                be.name.c_str(), median, best, runs,
                compare ? io::dump_compact(io::json_number(diff, 3)).c_str() : "(ref not among the backends)");
    std::vector<size_t> order(group_ms.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return group_ms[a] > group_ms[b]; });
    io::Json result = io::Json::object(), groups = io::Json::array();
    result["backend"] = io::json_text(be.name);
    result["median_ms"] = io::json_number(median, 6);
    result["min_ms"] = io::json_number(best, 6);
    result["runs"] = runs;
    result["max_abs_diff_vs_ref"] = io::json_number(diff, 6);
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t k = order[i];
      const double flops = group_flops(*c.plan, k);
      const double gflops = flops > 0 && group_ms[k] > 0 ? flops / (group_ms[k] * 1e6) : 0;
      const std::string kernel = c.plan->kernels[k]->describe();
      if (top == 0 || i < top) {
        std::printf("  [%zu] %8.3f ms", k, group_ms[k]);
        if (gflops > 0)
          std::printf("  %7.1f GFLOP/s (%3.0f%% of sgemm)", gflops,
                      peak > 0 ? 100 * gflops / peak : 0.0);
        std::printf("  %s\n", kernel.c_str());
      }
      groups.push_back(io::Json{{"group", k},
                                {"kernel", io::json_text(kernel)},
                                {"ms", io::json_number(group_ms[k], 6)},
                                {"gflops", io::json_number(gflops, 6)},
                                {"sgemm_share", io::json_number(peak > 0 ? gflops / peak : 0, 4)}});
    }
    result["groups"] = std::move(groups);
    results.push_back(std::move(result));
  }
  json["results"] = std::move(results);
  if (f.has("json")) io::write_file_atomic(f.str("json"), io::dump_report(json));
  return 0;
}

}  // namespace rg::tool
