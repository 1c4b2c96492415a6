// SPDX-License-Identifier: Apache-2.0
// The seed model's convolution primitives (batch 64, size 128) as our oneDNN
// backend runs them, written against both oneDNN APIs, so one source builds
// against Debian's oneDNN 2.6 and against a 3.x (the vendor's PyPI build) and
// the two can be timed on the same machine: which oneDNN version to ship is
// decided by these numbers (bench/RESULTS.md). Every data side has format
// `any` (the library picks its layouts), as in our plans.
//
// Roles (conv geometry: in [N,Ci,H,W] -> out [N,Co,Ho,Wo]):
//   G layers: fwd = deconvolution (out -> in), bwd_data = convolution, bwd_weights
//   D layers: fwd = convolution, bwd_data = deconvolution, bwd_weights
// Counters: GFLOP/s. Threads: OMP_NUM_THREADS. Build: tools/bench_onednn_versions.sh.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

struct Layer {
  std::string name;
  bool generator;  // G (transposed convolutions) or D
  int ci, co, h, k, s, p;  // conv geometry: ci -> co channels, input side h, kernel k, stride s, padding p
  int out() const { return (h + 2 * p - k) / s + 1; }
};

std::vector<Layer> layers() {
  // G's transposed convolutions as the convolutions they transpose: in = G's output side.
  std::vector<Layer> r = {{"G0_128x1024_1to4", true, 1024, 128, 4, 4, 1, 0}};
  for (int c = 1024, h = 4; c > 32; c /= 2, h *= 2)
    r.push_back({"G_" + std::to_string(c) + "x" + std::to_string(c / 2) + "_" + std::to_string(h) + "to" +
                     std::to_string(2 * h),
                 true, c / 2, c, 2 * h, 4, 2, 1});
  r.push_back({"G6_32x3_128k3", true, 3, 32, 128, 3, 1, 1});
  int cin = 3, h = 128;
  for (int c = 32; c <= 512; c *= 2, h /= 2) {
    r.push_back({"D_" + std::to_string(cin) + "x" + std::to_string(c) + "_" + std::to_string(h) + "to" +
                     std::to_string(h / 2),
                 false, cin, c, h, 4, 2, 1});
    cin = c;
  }
  r.push_back({"D5_512x1_4to1", false, 512, 1, 4, 4, 1, 0});
  return r;
}

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// The primitive, its argument map with library-allocated memory, and FLOPs.
struct Prim {
  dnnl::primitive p;
  std::unordered_map<int, memory> args;
  std::string impl;
};

memory filled(const memory::desc& md) {
  memory m(md, eng());
  float* f = static_cast<float*>(m.get_data_handle());
  for (size_t i = 0; i < md.get_size() / sizeof(float); ++i) f[i] = float((i * 2654435761u) % 1000) / 1000.f - 0.5f;
  return m;
}

// conv_fwd / deconv_fwd / bwd_weights for conv geometry L.
Prim make(const Layer& L, const std::string& kind) {
  const int N = 64, o = L.out();
  const memory::dims in = {N, L.ci, L.h, L.h}, out = {N, L.co, o, o}, w = {L.co, L.ci, L.k, L.k};
  const memory::dims st = {L.s, L.s}, pl = {L.p, L.p};
  const memory::dims pr = {(o - 1) * L.s + L.k - L.h - L.p, (o - 1) * L.s + L.k - L.h - L.p};
  const memory::desc any_in(in, dt::f32, tag::any), any_out(out, dt::f32, tag::any), any_w(w, dt::f32, tag::any);
  const memory::desc any_dw({L.ci, L.co, L.k, L.k}, dt::f32, tag::any);  // deconvolution weights {OC, IC, ...}
  const auto pk = dnnl::prop_kind::forward_training;
  Prim r;
  auto bind = [&](const auto& pd, std::vector<std::pair<int, memory::desc>> a) {
    for (auto& [arg, md] : a) r.args[arg] = filled(md);
    r.args[DNNL_ARG_SCRATCHPAD] = memory(pd.scratchpad_desc(), eng());
    r.impl = pd.impl_info_str();
  };
#if DNNL_VERSION_MAJOR >= 3
  if (kind == "conv_fwd") {  // in -> out
    dnnl::convolution_forward::primitive_desc pd(eng(), pk, dnnl::algorithm::convolution_direct, any_in, any_w,
                                                 any_out, st, pl, pr);
    bind(pd, {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}, {DNNL_ARG_DST, pd.dst_desc()}});
    r.p = dnnl::convolution_forward(pd);
  } else if (kind == "deconv_fwd") {  // out -> in
    dnnl::deconvolution_forward::primitive_desc pd(eng(), pk, dnnl::algorithm::deconvolution_direct, any_out, any_dw,
                                                   any_in, st, pl, pr);
    bind(pd, {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}, {DNNL_ARG_DST, pd.dst_desc()}});
    r.p = dnnl::deconvolution_forward(pd);
  } else {
    dnnl::convolution_forward::primitive_desc hint(eng(), pk, dnnl::algorithm::convolution_direct, any_in, any_w,
                                                   any_out, st, pl, pr);
    dnnl::convolution_backward_weights::primitive_desc pd(eng(), dnnl::algorithm::convolution_direct, any_in, any_w,
                                                          any_out, st, pl, pr, hint);
    bind(pd, {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_DIFF_DST, pd.diff_dst_desc()},
              {DNNL_ARG_DIFF_WEIGHTS, pd.diff_weights_desc()}});
    r.p = dnnl::convolution_backward_weights(pd);
  }
#else
  if (kind == "conv_fwd") {
    dnnl::convolution_forward::desc d(pk, dnnl::algorithm::convolution_direct, any_in, any_w, any_out, st, pl, pr);
    dnnl::convolution_forward::primitive_desc pd(d, eng());
    bind(pd, {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}, {DNNL_ARG_DST, pd.dst_desc()}});
    r.p = dnnl::convolution_forward(pd);
  } else if (kind == "deconv_fwd") {
    dnnl::deconvolution_forward::desc d(pk, dnnl::algorithm::deconvolution_direct, any_out, any_dw, any_in, st, pl, pr);
    dnnl::deconvolution_forward::primitive_desc pd(d, eng());
    bind(pd, {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}, {DNNL_ARG_DST, pd.dst_desc()}});
    r.p = dnnl::deconvolution_forward(pd);
  } else {
    dnnl::convolution_forward::desc fd(pk, dnnl::algorithm::convolution_direct, any_in, any_w, any_out, st, pl, pr);
    dnnl::convolution_forward::primitive_desc hint(fd, eng());
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, any_in, any_w, any_out, st, pl, pr);
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng(), hint);
    bind(pd, {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_DIFF_DST, pd.diff_dst_desc()},
              {DNNL_ARG_DIFF_WEIGHTS, pd.diff_weights_desc()}});
    r.p = dnnl::convolution_backward_weights(pd);
  }
#endif
  return r;
}

void BM_Conv(benchmark::State& st, Layer L, std::string pass) {
  // G: fwd is the transposed convolution, bwd_data the convolution; D the other way round.
  const std::string kind = pass == "bwd_weights" ? "bwd_weights"
                           : (pass == "fwd") == L.generator ? "deconv_fwd" : "conv_fwd";
  Prim p = make(L, kind);
  dnnl::stream s(eng());
  p.p.execute(s, p.args);
  s.wait();
  for (auto _ : st) {
    p.p.execute(s, p.args);
    s.wait();
  }
  const double flops = 2.0 * 64 * L.co * L.out() * L.out() * double(L.ci) * L.k * L.k;
  st.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(kind + " " + p.impl);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const dnnl_version_t* v = dnnl_version();
  benchmark::AddCustomContext("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                            std::to_string(v->patch));
  for (const Layer& l : layers())
    for (const char* pass : {"fwd", "bwd_data", "bwd_weights"})
      benchmark::RegisterBenchmark(("conv/" + l.name + "/" + pass).c_str(), BM_Conv, l, std::string(pass))
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3)
          ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
