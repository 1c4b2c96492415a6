// SPDX-License-Identifier: Apache-2.0
// CUDA backend benchmark: a plain program (no Google Benchmark) printing one
// JSON object per measurement on stdout.
//   bench_cuda [--step-iters N] [--gen-count N] [--gen-batch B] [--batch B] [--size S]
// 1. The seed model's whole training step (docs/contracts.md §3) at batch 64, size 128, in
//    f32, TF32 and bf16: compile time (with the timing of cuDNN's algorithms), ms per
//    step (CUDA graph replay), GFLOP/s at 424 GFLOP per step.
// 2. Generation of --gen-count images at the model size in batches (G in eval
//    mode), images/s: "with_copy" includes uploading the latents and copying the
//    float images back to the host, as a generator would: pinned host buffers,
//    two plans so that one batch's download overlaps the next one's compute
//    (rg::CudaTransfers); "device" only the replayed plan. PNG encoding is
//    excluded in both.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "backends/cuda/cuda_backend.h"
#include "engine/rng/philox.h"
#include "apps/rng_streams.h"
#include "engine/conv_geometry.h"
#include "engine/io/json.h"
#include "engine/plan.h"
#include "rg/session.h"

namespace {

// One JSON line on stdout (tools/gpu_check.sh collects them).
void print_json(const rg::io::Json& j) {
  std::printf("%s\n", rg::io::dump_compact(j).c_str());
  std::fflush(stdout);
}

// Milliseconds and seconds to 4 significant digits (timings vary more than that).
rg::io::Json ms3(double v) {
  return rg::io::json_number(v, 4);
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void init_variables(const rg::Graph& g, rg::Session& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const rg::VariableInfo& v : g.variables()) {
    const size_t n = size_t(v.desc.numel());
    if (v.desc.dtype == rg::DType::i64) {
      std::vector<int64_t> z(n, 0);
      s.set_variable(v.name, std::span<const int64_t>(z));
      continue;
    }
    std::vector<double> x(n, 0.0);
    if (v.name.rfind("adam.", 0) != 0) {
      if (v.name.find("running_var") != std::string::npos) for (double& e : x) e = 1.0;
      else if (v.name.find("running_mean") != std::string::npos) for (double& e : x) e = 0.0;
      else if (v.desc.rank() == 4) for (double& e : x) e = 0.02 * u(rng);
      else if (v.name.size() > 7 && v.name.substr(v.name.size() - 7) == ".weight") for (double& e : x) e = 1.0 + 0.02 * u(rng);
      else for (double& e : x) e = 0.0;
    }
    s.set_variable(v.name, std::span<const double>(x));
  }
}

const char* prec_name(rg::CudaPrecision p) { return rg::cuda_precision_name(p); }

// Device time per group, from events between the kernels inside one replay
// of the step (Session::run_timed: no host sync between kernels), averaged
// over `reps` steps: per group its kind, the convolution's problem and FLOPs
// where it has one, cuDNN's algorithm (describe()), ms and TFLOP/s; summed by
// kind.
void profile_step(rg::Plan& plan, rg::Session& sess, int reps, const char* prec) {
  std::vector<double> t(plan.kernels.size(), 0.0);
  sess.run_timed();  // the first timed run after capture: modules loaded, graph made
  for (int r = 0; r < reps; ++r) {
    const std::vector<double> ms = sess.run_timed();
    for (size_t k = 0; k < t.size(); ++k) t[k] += ms[k] / reps;
  }
  const rg::Graph& g = *plan.graph;
  double fwd = 0, bwd_data = 0, bwd_filter = 0, other = 0, total = 0;
  std::vector<double> flops(t.size(), 0.0);
  std::vector<size_t> idx(t.size());
  for (size_t k = 0; k < t.size(); ++k) {
    idx[k] = k;
    total += t[k];
    const rg::Node& anchor = g.node(plan.groups[k].nodes[0]);
    if (rg::is_convolution(anchor.op)) flops[k] = double(rg::conv_geometry(g, anchor).flops());
    (anchor.op == rg::OpKind::kConv2d            ? fwd
     : anchor.op == rg::OpKind::kConvTranspose2d ? bwd_data
     : anchor.op == rg::OpKind::kConv2dBackwardWeight ? bwd_filter
                                                     : other) += t[k];
  }
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return t[a] > t[b]; });
  rg::io::Json j;
  j["bench"] = "train_step_profile", j["precision"] = prec, j["note"] = "device ms per step, events inside one replay";
  j["total_ms"] = ms3(total), j["conv_forward_groups"] = ms3(fwd), j["conv_backward_data_groups"] = ms3(bwd_data);
  j["conv_backward_filter_groups"] = ms3(bwd_filter), j["other_groups"] = ms3(other);
  rg::io::Json groups = rg::io::Json::array();
  for (const size_t k : idx)
    groups.push_back({{"ms", rg::io::json_number(t[k], 5)},
                      {"gflop", rg::io::json_number(flops[k] * 1e-9, 6)},
                      {"tflops", rg::io::json_number(t[k] > 0 ? flops[k] / (t[k] * 1e9) : 0.0, 4)},
                      {"group", rg::io::json_text(rg::group_str(g, plan.groups[k]) + " | " + plan.kernels[k]->describe())}});
  j["groups"] = std::move(groups);
  print_json(j);
}

void bench_step(rg::CudaPrecision prec, int batch, int size, int iters, bool deterministic = true, bool profile = false,
                bool autotune = false) {
  rg::model::StepConfig cfg;
  cfg.model.size = size;
  cfg.batch = batch;
  const rg::model::StepGraph s = rg::model::build_train_step(cfg, rg::DType::f32);
  rg::CudaOptions opt;
  opt.precision = prec;
  opt.deterministic = deterministic;
  opt.conv_autotune = autotune;
  auto be = rg::make_cuda_backend(opt);
  auto t0 = Clock::now();
  auto plan = rg::compile(s.graph, *be);
  rg::Session sess(*plan);
  const double compile_s = since(t0);
  init_variables(*s.graph, sess, 1);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::normal_distribution<float> nd;
  std::vector<float> x(size_t(batch) * 3 * size_t(size) * size_t(size)), z(size_t(batch) * size_t(cfg.model.nz));
  for (float& e : x) e = u(rng);
  for (float& e : z) e = nd(rng);
  sess.set_input("x_real", std::span<const float>(x));
  sess.set_input("z", std::span<const float>(z));
  t0 = Clock::now();
  sess.run();  // eager
  be->synchronize();
  const double first_s = since(t0);
  for (int i = 0; i < 3; ++i) sess.run();  // capture + replays
  be->synchronize();
  t0 = Clock::now();
  for (int i = 0; i < iters; ++i) sess.run();
  be->synchronize();
  const double ms = since(t0) * 1e3 / iters;
  const double loss_d = sess.value(s.loss_d)[0], loss_g = sess.value(s.loss_g)[0];
  const double gflop = 424.0 * batch / 64.0 * (size == 128 ? 1.0 : double(size * size) / (128.0 * 128.0));
  rg::io::Json j;
  j["bench"] = autotune ? "train_step_autotune" : "train_step", j["precision"] = prec_name(prec);
  j["deterministic"] = deterministic, j["batch"] = batch, j["size"] = size, j["iters"] = iters;
  j["ms_per_step"] = rg::io::json_number(ms, 5), j["steps_per_s"] = rg::io::json_number(1e3 / ms, 5);
  j["tflops"] = rg::io::json_number(gflop / ms, 4), j["compile_s"] = ms3(compile_s), j["first_run_s"] = ms3(first_s);
  j["kernels"] = plan->groups.size(), j["arena_mib"] = rg::io::json_number(double(plan->arena_bytes) / 1048576.0, 5);
  j["loss_d"] = rg::io::json_number(loss_d, 6), j["loss_g"] = rg::io::json_number(loss_g, 6);
  print_json(j);
  if (profile) profile_step(*plan, sess, 3, prec_name(prec));
}

rg::ValueId input_named(const rg::Graph& g, const std::string& name) {
  for (const rg::InputInfo& i : g.inputs())
    if (i.name == name) return i.value;
  throw std::runtime_error("no input " + name);
}

void bench_generate(rg::CudaPrecision prec, int size, int count, int batch) {
  rg::model::ModelConfig mc;
  mc.size = size;
  const rg::model::GenerateGraph gen = rg::model::build_generate_graph(mc, batch, rg::DType::f32);
  rg::CudaOptions opt;
  opt.precision = prec;
  auto be = rg::make_cuda_backend(opt);
  auto t0 = Clock::now();
  // Two plans of the same graph: two batches in flight (one computing, the
  // other's images going down to the host).
  auto plan0 = rg::compile(gen.graph, *be);
  rg::Session sess0(*plan0);
  const double compile_s = since(t0);
  auto plan1 = rg::compile(gen.graph, *be);
  rg::Session sess1(*plan1);
  rg::Session* sess[2] = {&sess0, &sess1};
  for (rg::Session* s : sess) init_variables(*gen.graph, *s, 3);
  // docs/contracts.md §4 latents (stream 0, index = image index), made on the host up
  // front, in pinned memory; two pinned image buffers (what PNG encoding reads).
  rg::CudaTransfers tr(*be);
  const int batches = (count + batch - 1) / batch;
  const size_t zn = size_t(batch) * size_t(mc.nz), zbytes = zn * sizeof(float);
  const size_t img_bytes = gen.graph->desc(gen.images).bytes();
  float* zs = static_cast<float*>(tr.pinned(zbytes * size_t(batches)));
  float* out[2] = {static_cast<float*>(tr.pinned(img_bytes)), static_cast<float*>(tr.pinned(img_bytes))};
  for (int b = 0; b < batches; ++b)
    for (int i = 0; i < batch; ++i)
      rg::latent_vector(7, rg::streams::kGeneration, uint64_t(b) * uint64_t(batch) + uint64_t(i),
                        std::span<float>(zs + size_t(b) * zn + size_t(i) * size_t(mc.nz), size_t(mc.nz)));
  const rg::ValueId zv = input_named(*gen.graph, "z");
  void* zdev[2] = {sess0.device_ptr(zv), sess1.device_ptr(zv)};
  const void* imgdev[2] = {sess0.device_ptr(gen.images), sess1.device_ptr(gen.images)};
  for (rg::Session* s : sess) {
    s->set_input("z", std::span<const float>(zs, zn));
    for (int i = 0; i < 3; ++i) s->run();  // eager, capture, replay
  }
  be->synchronize();
  // With latents up and float images down (what `generate` does before PNG
  // encoding): batch b on plan b % 2; its download (copy stream) overlaps batch
  // b + 1's compute; the one host wait per batch hands its images to the host.
  double checksum = 0;
  t0 = Clock::now();
  for (int b = 0; b < batches; ++b) {
    const int s = b & 1;
    if (b >= 2) tr.device_wait(s);  // batch b - 2's images have left this plan's buffer
    tr.upload(zdev[s], zs + size_t(b) * zn, zbytes);
    sess[s]->run();
    tr.download(s, out[s], imgdev[s], img_bytes);
    if (b >= 1) {
      tr.host_wait(1 - s);  // batch b - 1 is on the host
      checksum += out[1 - s][0];
    }
  }
  tr.host_wait((batches - 1) & 1);
  checksum += out[(batches - 1) & 1][0];
  const double with_copy = double(batches) * batch / since(t0);
  // Device only: the replayed plan.
  t0 = Clock::now();
  for (int b = 0; b < batches; ++b) sess0.run();
  be->synchronize();
  const double device = double(batches) * batch / since(t0);
  rg::io::Json j;
  j["bench"] = "generate", j["precision"] = prec_name(prec), j["size"] = size, j["count"] = batches * batch;
  j["batch"] = batch, j["images_per_s_with_copy"] = rg::io::json_number(with_copy, 6);
  j["images_per_s_device"] = rg::io::json_number(device, 6);
  j["tflops_device"] = rg::io::json_number(device * 1.375e-3 * (size * size) / (128.0 * 128.0), 4);
  j["compile_s"] = ms3(compile_s), j["checksum"] = rg::io::json_number(checksum, 6);
  j["note"] = "PNG encoding excluded; with_copy: pinned buffers, 2 batches in flight, downloads on a second stream";
  print_json(j);
}

}  // namespace

int main(int argc, char** argv) {
  int step_iters = 20, gen_count = 10000, gen_batch = 500, batch = 64, size = 128;
  std::string what = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_cuda: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--step-iters") step_iters = std::atoi(next());
    else if (a == "--gen-count") gen_count = std::atoi(next());
    else if (a == "--gen-batch") gen_batch = std::atoi(next());
    else if (a == "--batch") batch = std::atoi(next());
    else if (a == "--size") size = std::atoi(next());
    else if (a == "--what") what = next();
    else {
      std::fprintf(stderr, "usage: bench_cuda [--what all|step|generate] [--step-iters N] [--gen-count N] [--gen-batch B] [--batch B] [--size S]\n");
      return 2;
    }
  }
  if (rg::cuda_device_count() == 0) {
    std::fprintf(stderr, "bench_cuda: no CUDA GPU\n");
    return 1;
  }
  print_json(rg::io::Json{{"device", rg::io::json_text(rg::cuda_describe_device(0))}});
  try {
    for (rg::CudaPrecision p : {rg::CudaPrecision::kF32, rg::CudaPrecision::kTF32, rg::CudaPrecision::kBF16}) {
      if (what == "all" || what == "step") bench_step(p, batch, size, step_iters, true, true);
      if (what == "all" || what == "generate") bench_generate(p, size, gen_count, gen_batch);
    }
    // What determinism costs: the fastest cuDNN algorithms, deterministic or not.
    if (what == "all" || what == "step")
      for (rg::CudaPrecision p : {rg::CudaPrecision::kF32, rg::CudaPrecision::kTF32}) bench_step(p, batch, size, step_iters, false);
    // Opt-in timed algorithm choice (deterministic algorithms only).
    if (what == "all" || what == "step")
      for (rg::CudaPrecision p : {rg::CudaPrecision::kF32, rg::CudaPrecision::kTF32})
        bench_step(p, batch, size, step_iters, true, false, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
