// SPDX-License-Identifier: Apache-2.0
// The convolution study. For every distinct convolution
// problem of the seed training step (forward, backward-data, backward-filter;
// shapes from the step's graph, with how often each occurs), cuDNN's
// cudnnFind*AlgorithmEx times every algorithm in each configuration the
// backend could adopt:
//   nchw-f32   NCHW, strict f32 (CUDNN_FMA_MATH)         -- today's kF32
//   nchw-tf32  NCHW, TF32 tensor cores                   -- today's kTF32
//   nhwc-tf32  NHWC, TF32 tensor cores
//   nchw-bf16  NCHW, bf16 tensors, f32 accumulation     -- today's kBF16
//   nhwc-bf16  NHWC, bf16 tensors, f32 accumulation
// Each algorithm's row says whether cuDNN reports it deterministic. The
// summary per configuration adds, over the step's problems (times their
// count), the fastest deterministic algorithm and the fastest of any, so one
// run answers what NHWC, bf16 and giving up determinism would each buy.
// cuDNN's graph API engines (cudnn-frontend) are not covered: the frontend
// is not installed where this is built.
//   conv_study [--batch B] [--size S] [--problems N] [--list]   (JSON lines on stdout)
// --list prints the problems only (no GPU needed: the dry run).
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "apps/model/ralsgan_step.h"
#include "engine/conv_geometry.h"
#include "engine/fusion.h"
#include "engine/io/json.h"
#include "engine/schedule.h"

namespace {

struct Problem {
  rg::OpKind op;
  rg::ConvGeometry geo;
  int count = 0;
};

struct Config {
  const char* name;
  cudnnTensorFormat_t format;
  cudnnDataType_t data;
  cudnnMathType_t math;
};

const Config kConfigs[] = {
    {"nchw-f32", CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH},
    {"nchw-tf32", CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH},
    {"nhwc-tf32", CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH},
    {"nchw-bf16", CUDNN_TENSOR_NCHW, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_OP_MATH},
    {"nhwc-bf16", CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_OP_MATH},
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "conv_study: %s\n", what.c_str());
  std::exit(1);
}
void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) die(std::string(what) + ": " + cudaGetErrorString(e));
}
bool ok(cudnnStatus_t s, const char* what) {
  if (s == CUDNN_STATUS_SUCCESS) return true;
  std::fprintf(stderr, "conv_study: %s: %s\n", what, cudnnGetErrorString(s));
  return false;
}

const char* role(rg::OpKind k) {
  return k == rg::OpKind::kConv2d            ? "forward"
         : k == rg::OpKind::kConvTranspose2d ? "backward-data"
                                             : "backward-filter";
}

// One JSON line on stdout (tools/gpu_check.sh collects them).
void print_json(const rg::io::Json& j) {
  std::printf("%s\n", rg::io::dump_compact(j).c_str());
  std::fflush(stdout);
}

// A problem's index, role, count and shapes (x: input, y: output, NCHW).
rg::io::Json problem_json(size_t index, const Problem& p) {
  const rg::ConvGeometry& g = p.geo;
  return {{"problem", index},
          {"op", role(p.op)},
          {"count", p.count},
          {"x", {g.n, g.c_in, g.h, g.w}},
          {"y", {g.n, g.c_out, g.ho, g.wo}},
          {"k", {g.kh, g.kw}},
          {"stride", {g.sh, g.sw}},
          {"pad", {g.ph, g.pw}}};
}

// The step's convolution problems, distinct by (op, geometry), in first-seen order.
std::vector<Problem> step_problems(int batch, int size) {
  rg::model::StepConfig cfg;
  cfg.batch = batch;
  cfg.model.size = size;
  const rg::model::StepGraph s = rg::model::build_train_step(cfg, rg::DType::f32);
  const rg::Graph& g = *s.graph;
  std::vector<Problem> out;
  for (const rg::FusionGroup& grp : rg::fuse(g, rg::schedule(g))) {
    const rg::Node& n = g.node(grp.nodes[0]);
    if (!rg::is_convolution(n.op)) continue;
    const rg::ConvGeometry geo = rg::conv_geometry(g, n);
    auto key = [](const Problem& p) {
      const rg::ConvGeometry& q = p.geo;
      return std::make_tuple(int(p.op), q.n, q.c_in, q.h, q.w, q.c_out, q.ho, q.wo, q.kh, q.kw,
                             q.sh, q.sw, q.ph, q.pw);
    };
    const Problem p{n.op, geo, 1};
    auto it =
        std::find_if(out.begin(), out.end(), [&](const Problem& o) { return key(o) == key(p); });
    if (it == out.end())
      out.push_back(p);
    else
      ++it->count;
  }
  return out;
}

// Device buffers of random values (bf16: random words of small magnitude).
void* filled(size_t elems, cudnnDataType_t t, std::mt19937& rng) {
  const size_t es = t == CUDNN_DATA_BFLOAT16 ? 2 : 4;
  std::vector<unsigned char> host(elems * es);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (size_t i = 0; i < elems; ++i) {
    const float v = u(rng);
    uint32_t w;
    std::memcpy(&w, &v, 4);
    if (es == 2) {
      const uint16_t b = uint16_t(w >> 16);
      std::memcpy(&host[i * 2], &b, 2);
    } else {
      std::memcpy(&host[i * 4], &w, 4);
    }
  }
  void* d = nullptr;
  ck(cudaMalloc(&d, std::max<size_t>(host.size(), 256)), "cudaMalloc");
  ck(cudaMemcpy(d, host.data(), host.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
  return d;
}

struct Row {
  std::string algo;
  float ms;
  bool deterministic;
  std::string math;
  size_t workspace;
};

template <typename Perf>
std::vector<Row> rows_of(const Perf* perf, int n, const char* const* names, int names_count) {
  std::vector<Row> r;
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    const int a = int(perf[i].algo);
    const cudnnMathType_t m = perf[i].mathType;
    r.push_back({a < names_count ? names[a] : "?", perf[i].time,
                 perf[i].determinism == CUDNN_DETERMINISTIC,
                 m == CUDNN_FMA_MATH         ? "fma"
                 : m == CUDNN_TENSOR_OP_MATH ? "tensor_op"
                 : m == CUDNN_DEFAULT_MATH   ? "default"
                                             : "conversion",
                 perf[i].memory});
  }
  return r;
}

// Every algorithm of problem p in configuration c, timed by cuDNN.
std::vector<Row> study(cudnnHandle_t h, const Problem& p, const Config& c, void* ws,
                       size_t ws_bytes, std::mt19937& rng) {
  const rg::ConvGeometry& g = p.geo;
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnCreateTensorDescriptor(&x);
  cudnnCreateTensorDescriptor(&y);
  cudnnCreateFilterDescriptor(&w);
  cudnnCreateConvolutionDescriptor(&conv);
  std::vector<Row> rows;
  bool good =
      ok(cudnnSetTensor4dDescriptor(x, c.format, c.data, int(g.n), int(g.c_in), int(g.h), int(g.w)),
         "x") &&
      ok(cudnnSetTensor4dDescriptor(y, c.format, c.data, int(g.n), int(g.c_out), int(g.ho),
                                    int(g.wo)),
         "y") &&
      ok(cudnnSetFilter4dDescriptor(w, c.data, c.format, int(g.c_out), int(g.c_in), int(g.kh),
                                    int(g.kw)),
         "w") &&
      ok(cudnnSetConvolution2dDescriptor(conv, g.ph, g.pw, g.sh, g.sw, 1, 1,
                                         CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
         "conv") &&
      ok(cudnnSetConvolutionMathType(conv, c.math), "math");
  if (good) {
    void* xb = filled(size_t(g.n * g.c_in * g.h * g.w), c.data, rng);
    void* yb = filled(size_t(g.n * g.c_out * g.ho * g.wo), c.data, rng);
    void* wb = filled(size_t(g.c_out * g.c_in * g.kh * g.kw), c.data, rng);
    int n = 0;
    if (p.op == rg::OpKind::kConv2d) {
      static const char* names[] = {
          "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
          "WINOGRAD",      "WINOGRAD_NONFUSED"};
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      if (ok(cudnnFindConvolutionForwardAlgorithmEx(h, x, xb, w, wb, conv, y, yb,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, ws,
                                                    ws_bytes),
             "find forward"))
        rows = rows_of(perf, n, names, 8);
    } else if (p.op == rg::OpKind::kConvTranspose2d) {
      static const char* names[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                    "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      if (ok(cudnnFindConvolutionBackwardDataAlgorithmEx(h, w, wb, y, yb, conv, x, xb,
                                                         CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n,
                                                         perf, ws, ws_bytes),
             "find backward-data"))
        rows = rows_of(perf, n, names, 6);
    } else {
      static const char* names[] = {
          "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      if (ok(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, x, xb, y, yb, conv, w, wb,
                                                           CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                           &n, perf, ws, ws_bytes),
             "find backward-filter"))
        rows = rows_of(perf, n, names, 7);
    }
    cudaFree(xb), cudaFree(yb), cudaFree(wb);
  }
  cudnnDestroyTensorDescriptor(x);
  cudnnDestroyTensorDescriptor(y);
  cudnnDestroyFilterDescriptor(w);
  cudnnDestroyConvolutionDescriptor(conv);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  int batch = 64, size = 128, max_problems = 1000;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--list") {
      list = true;
      continue;
    }
    if (i + 1 >= argc) die("usage: conv_study [--batch B] [--size S] [--problems N] [--list]");
    if (a == "--batch")
      batch = std::atoi(argv[++i]);
    else if (a == "--size")
      size = std::atoi(argv[++i]);
    else if (a == "--problems")
      max_problems = std::atoi(argv[++i]);
    else
      die("unknown option " + a);
  }
  std::vector<Problem> problems = step_problems(batch, size);
  if (int(problems.size()) > max_problems) problems.resize(size_t(max_problems));
  if (list) {
    double total = 0;
    for (size_t i = 0; i < problems.size(); ++i) {
      const rg::ConvGeometry& g = problems[i].geo;
      total += double(g.flops()) * 1e-9 * problems[i].count;
      rg::io::Json j = problem_json(i, problems[i]);
      j["gflop"] = rg::io::json_number(double(g.flops()) * 1e-9, 6);
      print_json(j);
    }
    print_json({{"problems", problems.size()}, {"step_conv_gflop", rg::io::json_number(total, 6)}});
    return 0;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) die("no CUDA device");
  cudnnHandle_t h;
  if (!ok(cudnnCreate(&h), "cudnnCreate")) return 1;
  size_t free_b = 0, total_b = 0;
  ck(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  const size_t ws_bytes = std::min<size_t>(size_t(1) << 30, free_b / 4);
  void* ws = nullptr;
  ck(cudaMalloc(&ws, ws_bytes), "cudaMalloc workspace");
  std::mt19937 rng(7);
  // Per configuration: the step's sum of the fastest deterministic and fastest overall.
  std::map<std::string, std::pair<double, double>> sums;
  std::map<std::string, int> missing;
  double step_gflop = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    const Problem& p = problems[i];
    const rg::ConvGeometry& g = p.geo;
    const double gflop = double(g.flops()) * 1e-9;
    step_gflop += gflop * p.count;
    for (const Config& c : kConfigs) {
      const std::vector<Row> rows = study(h, p, c, ws, ws_bytes, rng);
      double best_det = -1, best_any = -1;
      for (const Row& r : rows) {
        rg::io::Json j = {{"bench", "conv_study"}};
        j.update(problem_json(i, p));
        j["config"] = c.name, j["algo"] = r.algo, j["math"] = r.math, j["deterministic"] = r.deterministic;
        j["ms"] = rg::io::json_number(double(r.ms), 5);
        j["tflops"] = rg::io::json_number(r.ms > 0 ? gflop / double(r.ms) : 0.0, 4);
        j["workspace"] = r.workspace;
        print_json(j);
        if (r.deterministic && (best_det < 0 || r.ms < best_det)) best_det = r.ms;
        if (best_any < 0 || r.ms < best_any) best_any = r.ms;
      }
      auto& s = sums[c.name];
      if (best_det < 0) ++missing[c.name];
      s.first += std::max(best_det, 0.0) * p.count;
      s.second += std::max(best_any, 0.0) * p.count;
    }
    std::fflush(stdout);
  }
  for (const Config& c : kConfigs) {
    const auto& s = sums[c.name];
    print_json({{"bench", "conv_study_step"},
                {"config", c.name},
                {"problems", problems.size()},
                {"step_gflop", rg::io::json_number(step_gflop, 6)},
                {"best_deterministic_ms", rg::io::json_number(s.first, 5)},
                {"best_any_ms", rg::io::json_number(s.second, 5)},
                {"problems_without_deterministic", missing[c.name]}});
  }
  cudaFree(ws);
  cudnnDestroy(h);
  return 0;
}
