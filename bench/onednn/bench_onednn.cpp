// SPDX-License-Identifier: Apache-2.0
// oneDNN CPU backend benchmarks (Google Benchmark): every convolution of the
// seed's models at batch 64 (forward, backward-data, backward-weights), the
// whole training step (batch 64, size 128), generator forward (batch 64 and
// 256), and a machine probe (dnnl_sgemm 2048^3). Counters: GFLOP/s and the
// share of this machine's sgemm rate (measured once at start, same threads).
//
// Threads: RG_THREADS (default 2). Example:
//   RG_THREADS=2 bench_onednn --benchmark_out=ours.json --benchmark_out_format=json
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "engine/backend.h"
#include "rg/backend_onednn.h"
#include "backends/onednn/winograd_conv.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace {

using namespace rg;

int threads() {
  const char* t = std::getenv("RG_THREADS");
  return t ? std::max(1, std::atoi(t)) : 2;
}

// RG_BLOCKED=0: NHWC activations everywhere; 1 (default): the layouts oneDNN picks.
// RG_CPU_MATH=bf16: bf16 convolutions (needs bf16 instructions; RG_CPU_MATH=bf16-emulated
// lets oneDNN emulate them on AVX-512, for checking, not for timing).
// RG_BF16_ACTIVATIONS=0: with bf16, no activation stored as bf16 (A/B).
OneDnnOptions options() {
  OneDnnOptions o;
  o.threads = threads();
  const char* b = std::getenv("RG_BLOCKED");
  o.blocked_layouts = !b || std::atoi(b) != 0;
  const char* wg = std::getenv("RG_WINOGRAD");  // 0: oneDNN's direct transposed convolutions (A/B)
  o.winograd = !wg || std::atoi(wg) != 0;
  const std::string math = std::getenv("RG_CPU_MATH") ? std::getenv("RG_CPU_MATH") : "f32";
  o.bf16 = math.rfind("bf16", 0) == 0;
  o.allow_emulated_bf16 = math == "bf16-emulated";
  const char* act = std::getenv("RG_BF16_ACTIVATIONS");  // 0: every activation f32 in bf16 mode (A/B)
  o.bf16_activations = !act || std::atoi(act) != 0;
  return o;
}

double g_sgemm_gflops = 0;

double sgemm_once(int n, std::vector<float>& a, std::vector<float>& b, std::vector<float>& c) {
  const auto t0 = std::chrono::steady_clock::now();
  dnnl_sgemm('N', 'N', n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void measure_sgemm() {
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double best = 1e9;
  for (int i = 0; i < 4; ++i) best = std::min(best, sgemm_once(n, a, b, c));
  g_sgemm_gflops = 2.0 * n * n * n / best / 1e9;
}

void set_flop_counters(benchmark::State& st, double flops) {
  st.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["pct_sgemm"] =
      benchmark::Counter(flops / 1e9 / g_sgemm_gflops * 100.0, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Sgemm2048(benchmark::State& st) {
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  for (auto _ : st) sgemm_once(n, a, b, c);
  set_flop_counters(st, 2.0 * n * n * n);
}

std::vector<double> filled(const Shape& s, uint32_t seed, double scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<double> v(size_t(numel(s)));
  for (double& e : v) e = u(rng);
  return v;
}

// One convolution-family node of a layer, as the training graph has it.
// Layer: conv2d (D) or conv_transpose2d (G) with the seed's shapes at batch 64.
struct Layer {
  std::string name;
  bool transposed;
  int cin, cout, hin, k, s, p;  // as nn.Conv2d / nn.ConvTranspose2d see them
};

std::vector<Layer> layers() {
  std::vector<Layer> L;
  L.push_back({"G0_128x1024_1to4", true, 128, 1024, 1, 4, 1, 0});
  int h = 4;
  for (int c = 1024; c > 32; c /= 2, h *= 2)
    L.push_back({"G_" + std::to_string(c) + "x" + std::to_string(c / 2) + "_" + std::to_string(h) + "to" + std::to_string(2 * h), true, c, c / 2, h, 4, 2, 1});
  L.push_back({"G6_32x3_128k3", true, 32, 3, 128, 3, 1, 1});
  int cin = 3;
  h = 128;
  for (int c = 32; c <= 512; c *= 2, h /= 2) {
    L.push_back({"D_" + std::to_string(cin) + "x" + std::to_string(c) + "_" + std::to_string(h) + "to" + std::to_string(h / 2), false, cin, c, h, 4, 2, 1});
    cin = c;
  }
  L.push_back({"D5_512x1_4to1", false, 512, 1, 4, 4, 1, 0});
  return L;
}

enum Pass { kFwd, kBwdData, kBwdWeights };

// winograd: -1 as RG_WINOGRAD says, 0 oneDNN's direct kernel, 1 ours where it applies.
void BM_Conv(benchmark::State& st, Layer l, Pass pass, int winograd) {
  const int N = 64;
  const int hout = l.transposed ? (l.hin - 1) * l.s - 2 * l.p + l.k : (l.hin + 2 * l.p - l.k) / l.s + 1;
  // Conv geometry: "big" = conv input side, "small" = conv output side.
  const Shape in_shape{N, l.cin, l.hin, l.hin}, out_shape{N, l.cout, hout, hout};
  const Shape wshape{l.transposed ? l.cin : l.cout, l.transposed ? l.cout : l.cin, l.k, l.k};
  const Shape& big = l.transposed ? out_shape : in_shape;
  const Shape& small = l.transposed ? in_shape : out_shape;
  auto g = std::make_shared<Graph>(DType::f32);
  ValueId y;
  const bool conv_fwd = (pass == kFwd) != l.transposed;  // conv2d node: D forward or G backward-data
  if (pass == kBwdWeights) {
    const ValueId a = g->input("a", big), b = g->input("b", small);
    y = g->conv2d_backward_weight(a, b, wshape, {l.s, l.s}, {l.p, l.p});
  } else if (conv_fwd) {
    y = g->conv2d(g->input("a", big), g->variable("w", wshape), l.s, l.p);
  } else {
    y = g->conv_transpose2d(g->input("a", small), g->variable("w", wshape), l.s, l.p);
  }
  g->mark_output(y);
  OneDnnOptions opt = options();
  if (winograd >= 0) opt.winograd = winograd == 1;
  auto be = make_onednn_backend(opt);
  auto plan = compile(g, *be);
  Session s(*plan);
  for (const InputInfo& in : g->inputs()) {
    const auto v = filled(g->shape(in.value), 1, 1.0);
    s.set_input(in.name, std::span<const double>(v));
  }
  if (g->find_variable("w") >= 0) {
    const auto w = filled(wshape, 2, 0.05);
    s.set_variable("w", std::span<const double>(w));
  }
  s.run();
  for (auto _ : st) s.run();
  const double flops = 2.0 * double(numel(small)) * double(big[1]) * l.k * l.k;
  set_flop_counters(st, flops);
  st.SetLabel(plan->kernels[0]->describe());
}

// The Winograd kernels' weight transform alone (it runs at every training
// step for each layer whose weights the step updates): f32 and bf16 packing,
// the layer's transposed kind (G forward, D input gradient) and strided kind
// (D forward, G input gradient).
void BM_WinogradWeights(benchmark::State& st, Layer l, onednn::WinogradKind kind, bool bf16) {
  using namespace onednn;
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (bf16 && !avx512) {
    st.SkipWithError("bf16 packing needs AVX-512");
    return;
  }
  const MicroIsa isa = bf16 ? MicroIsa::avx512_bf16 : avx512 ? MicroIsa::avx512 : MicroIsa::avx2;
  const int64_t big = std::max(l.cin, l.cout), small = std::min(l.cin, l.cout);
  // Transposed: ci -> co of G's upsampling (1024 -> 512); strided: 512 -> 1024 for that layer's
  // input gradient.
  const bool up = l.transposed;
  const int64_t ci = kind == WinogradKind::transposed ? (up ? big : small) : (up ? small : big);
  const int64_t co = ci == big ? small : big;
  const WinogradConv c{kind, 64, ci, 16, 16, co, Layout::blk16, Layout::blk16, isa, threads()};
  std::vector<float> w(size_t(ci * co * 16));
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (float& x : w) x = nd(rng);
  // 256-byte aligned, as the backend's memory is.
  const size_t ufloats = size_t(winograd_weights_floats(c)),
               ubytes = (ufloats * 4 + 255) / 256 * 256;
  std::unique_ptr<float, decltype(&std::free)> u(
      static_cast<float*>(std::aligned_alloc(256, ubytes)), &std::free);
  for (auto _ : st) {
    winograd_transform_weights(c, w.data(), u.get());
    benchmark::DoNotOptimize(u.get());
  }
  const double bytes = double(w.size()) * 4 + double(ufloats) * 4;
  st.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

std::map<std::string, std::vector<double>> random_state(const Graph& g) {
  std::mt19937 rng(1);
  std::normal_distribution<double> nd;
  std::map<std::string, std::vector<double>> st;
  for (const VariableInfo& v : g.variables()) {
    std::vector<double> x(size_t(v.desc.numel()), 0.0);
    if (v.desc.dtype == DType::i64 || v.name.rfind("adam.", 0) == 0) {
    } else if (v.name.find("running_var") != std::string::npos || (v.desc.rank() == 1 && v.name.find(".weight") != std::string::npos)) {
      for (double& e : x) e = 1.0 + 0.02 * nd(rng);
    } else if (v.desc.rank() == 4) {
      for (double& e : x) e = 0.02 * nd(rng);  // DCGAN init
    }
    st[v.name] = x;
  }
  return st;
}

void load(Session& s, const Graph& g) {
  for (const auto& [name, x] : random_state(g)) {
    const VariableInfo& v = g.variables()[size_t(g.find_variable(name))];
    if (v.desc.dtype == DType::i64) {
      std::vector<int64_t> i(x.begin(), x.end());
      s.set_variable(name, std::span<const int64_t>(i));
    } else {
      s.set_variable(name, std::span<const double>(x));
    }
  }
}

// RG_PROFILE=1: time every kernel of one run and print the heaviest to stderr.
void profile(Plan& plan, Session& s, const char* what) {
  if (!std::getenv("RG_PROFILE")) return;
  std::vector<std::pair<double, size_t>> t;
  double total = 0;
  const std::vector<double> ms = s.run_timed();
  for (size_t k = 0; k < ms.size(); ++k) {
    t.push_back({ms[k] * 1e-3, k});
    total += ms[k] * 1e-3;
  }
  std::sort(t.rbegin(), t.rend());
  std::fprintf(stderr, "profile %s: %.3f s in %zu kernels\n", what, total, t.size());
  for (size_t i = 0; i < std::min<size_t>(t.size(), std::getenv("RG_PROFILE")[0] == '2' ? t.size() : 40); ++i)
    std::fprintf(stderr, "  %7.1f ms  %s\n      %s\n", t[i].first * 1e3,
                 group_str(*plan.graph, plan.groups[t[i].second]).c_str(), plan.kernels[t[i].second]->describe().c_str());
}

void BM_TrainStep(benchmark::State& st) {
  model::StepConfig cfg;  // seed model: size 128, width 1, nz 128
  cfg.batch = int(st.range(0));
  // RG_RECOMPUTE=0|1|2: A/B of CompileOptions::recompute (none, where the peak drops, all).
  CompileOptions co;
  if (const char* e = std::getenv("RG_RECOMPUTE"))
    co.recompute = std::array{Recompute::kNone, Recompute::kWherePeakDrops, Recompute::kAll}.at(size_t(std::atoi(e)));
  const model::StepGraph sg = model::build_train_step(cfg, DType::f32);
  auto be = make_onednn_backend(options());
  const auto t0 = std::chrono::steady_clock::now();
  auto plan = compile(sg.graph, *be, co);
  const double compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Session s(*plan);
  load(s, *sg.graph);
  const auto x = filled({cfg.batch, 3, 128, 128}, 3, 1.0), z = filled({cfg.batch, 128}, 4, 1.0);
  s.set_input("x_real", std::span<const double>(x));
  s.set_input("z", std::span<const double>(z));
  s.run();
  profile(*plan, s, "train_step");
  for (auto _ : st) s.run();
  set_flop_counters(st, 424e9 * cfg.batch / 64.0);
  st.SetItemsProcessed(int64_t(st.iterations()) * cfg.batch);
  st.counters["compile_s"] = compile_s;
  st.counters["arena_MiB"] = double(plan->arena_bytes) / 1048576.0;
}

void BM_Generate(benchmark::State& st) {
  const int batch = int(st.range(0));
  const model::GenerateGraph gg = model::build_generate_graph({}, batch, DType::f32);
  auto be = make_onednn_backend(options());
  auto plan = compile(gg.graph, *be);
  Session s(*plan);
  load(s, *gg.graph);
  const auto z = filled({batch, 128}, 5, 1.0);
  s.set_input("z", std::span<const double>(z));
  s.run();
  profile(*plan, s, "generate");
  for (auto _ : st) s.run();
  set_flop_counters(st, 1.375e9 * batch);
  st.SetItemsProcessed(int64_t(st.iterations()) * batch);
  st.counters["arena_MiB"] = double(plan->arena_bytes) / 1048576.0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  measure_sgemm();
  benchmark::AddCustomContext("sgemm_2048_gflops", std::to_string(g_sgemm_gflops));
  benchmark::AddCustomContext("threads", std::to_string(threads()));
  benchmark::AddCustomContext("onednn_isa", onednn_cpu_isa());
  benchmark::AddCustomContext("cpu_math", options().bf16 ? "bf16" : "f32");
  benchmark::RegisterBenchmark("sgemm_2048", BM_Sgemm2048)->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime();
  for (const Layer& l : layers()) {
    for (auto [pass, tag] : {std::pair{kFwd, "fwd"}, {kBwdData, "bwd_data"}, {kBwdWeights, "bwd_weights"}})
      benchmark::RegisterBenchmark(("conv/" + l.name + "/" + tag).c_str(), BM_Conv, l, pass, -1)
          ->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseRealTime();
  }
  // A/B of our Winograd kernel against oneDNN's direct one, in one process so
  // that repetitions can interleave (--benchmark_repetitions=8
  // --benchmark_enable_random_interleaving=true) on a noisy machine: the 4x4
  // stride-2 layers' three passes.
  for (const Layer& l : layers()) {
    if (l.k != 4 || l.s != 2 || l.p != 1) continue;
    for (auto [pass, tag] : {std::pair{kFwd, "fwd"}, {kBwdData, "bwd_data"}, {kBwdWeights, "bwd_weights"}})
      for (int wg : {0, 1})
        benchmark::RegisterBenchmark(("winograd_ab/" + l.name + "/" + tag + (wg ? "/winograd" : "/direct")).c_str(),
                                     BM_Conv, l, pass, wg)
            ->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
  }
  for (const Layer& l : layers()) {
    if (l.k != 4 || l.s != 2 || l.p != 1 || std::min(l.cin, l.cout) < 32) continue;
    for (auto [kind, ktag] : {std::pair{onednn::WinogradKind::transposed, "transposed"},
                              {onednn::WinogradKind::strided, "strided"}})
      for (bool bf16 : {false, true})
        benchmark::RegisterBenchmark(("winograd_weights/" + l.name + "/" + ktag + (bf16 ? "/bf16" : "/f32")).c_str(),
                                     BM_WinogradWeights, l, kind, bf16)
            ->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
  }
  benchmark::RegisterBenchmark("generate", BM_Generate)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
  benchmark::RegisterBenchmark("train_step", BM_TrainStep)->Arg(64)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
