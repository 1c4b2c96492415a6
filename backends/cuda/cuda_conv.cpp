// SPDX-License-Identifier: Apache-2.0
// Convolutions through cuDNN 9's legacy convolution API (cudnnConvolution*).
//
// Why the legacy API and not the graph (backend) API: the three operations of
// this graph (forward, backward-data, backward-filter, all NCHW, one group, no
// dilation) map one to one onto it; its heuristic query
// (cudnnGet*Algorithm_v7) reports each algorithm's determinism, math type and
// workspace without running anything, which is exactly the compile-time choice
// the plan needs; and it is what PyTorch's own cuDNN path resolves to for these
// shapes. It is deprecated in cuDNN 9 but still shipped (libcudnn_cnn); moving to
// the graph API later is local to this file (one ConvOp per node).
//
// Roles (as PyTorch, aten/src/ATen/native/cudnn/ConvShared.cpp):
//   conv2d                 -> cudnnConvolutionForward
//   conv_transpose2d       -> cudnnConvolutionBackwardData (its input is dy, its output dx)
//   conv2d_backward_weight -> cudnnConvolutionBackwardFilter; conv_transpose2d's weight
//                             gradient is this node with input and output roles swapped
//                             (autodiff already builds it that way).
// conv_transpose2d's input gradient is a conv2d node, so it runs forward.
#include <cudnn.h>

#include <algorithm>
#include <iterator>
#include <sstream>

#include "backends/cuda/cuda_internal.h"

namespace rg::cuda {
namespace {

void ck(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) fail(std::string(what) + ": " + cudnnGetErrorString(s));
}

const char* fwd_name(int a) {
  static const char* n[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return a >= 0 && a < 8 ? n[a] : "?";
}
const char* bwd_data_name(int a) {
  static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return a >= 0 && a < 6 ? n[a] : "?";
}
const char* bwd_filter_name(int a) {
  static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  return a >= 0 && a < 7 ? n[a] : "?";
}
const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH: return "default";
    case CUDNN_TENSOR_OP_MATH: return "tensor_op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor_op_conv";
    case CUDNN_FMA_MATH: return "fma(f32)";
  }
  return "?";
}

// The first of cuDNN's heuristic ranking that fits the options.
template <typename Perf>
bool pick(const Perf* perf, int n, const CudaOptions& opt, Perf& chosen) {
  for (int i = 0; i < n; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    if (opt.deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    if (p.memory > opt.max_workspace_bytes) continue;
    if (opt.precision == CudaPrecision::kF32 && p.mathType != CUDNN_FMA_MATH && p.mathType != CUDNN_DEFAULT_MATH) continue;
    if (p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;  // would round f32 to f16
    chosen = p;
    return true;
  }
  return false;
}

}  // namespace

void* TuneScratch::get(int i, size_t bytes) {
  bytes = std::max<size_t>(bytes, 256);
  if (n_[i] >= bytes) return p_[i];
  if (p_[i]) cudaFree(p_[i]);
  p_[i] = nullptr, n_[i] = 0;
  if (cudaMalloc(&p_[i], bytes) != cudaSuccess) {
    cudaGetLastError();
    p_[i] = nullptr;
    return nullptr;
  }
  n_[i] = bytes;
  if (cudaMemsetAsync(p_[i], 0, bytes, stream_) != cudaSuccess || cudaStreamSynchronize(stream_) != cudaSuccess) {
    cudaGetLastError();
    release();
    return nullptr;
  }
  return p_[i];
}

void TuneScratch::release() {
  bool any = false;
  for (void* p : p_) any |= p != nullptr;
  if (!any) return;
  cudaStreamSynchronize(stream_);
  for (int i = 0; i < 4; ++i) {
    if (p_[i]) cudaFree(p_[i]);
    p_[i] = nullptr, n_[i] = 0;
  }
}

namespace {

// Timing: cudnnFind*AlgorithmEx runs every algorithm on scratch buffers (sorted
// by time); the first that fits the options is kept. False (heuristics are used
// instead) when scratch memory or the call fails.
template <typename Perf, typename FindFn>
bool timed_pick(TuneScratch* tune, const CudaOptions& opt, size_t a_bytes, size_t b_bytes, size_t out_bytes, FindFn find,
                Perf& chosen, int& candidates) {
  if (!tune || !opt.conv_autotune) return false;
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return cudaGetLastError(), false;
  void* a = tune->get(0, a_bytes);
  void* b = a ? tune->get(1, b_bytes) : nullptr;
  void* out = b ? tune->get(2, out_bytes) : nullptr;
  if (!out) return false;
  size_t ws_bytes = std::min(opt.max_workspace_bytes, free_b / 4);
  void* ws = ws_bytes ? tune->get(3, ws_bytes) : nullptr;
  if (!ws) ws_bytes = 0;
  Perf perf[16];
  int n = 0;
  if (find(a, b, out, ws, ws_bytes, int(std::size(perf)), &n, perf) != CUDNN_STATUS_SUCCESS) return false;
  candidates = 0;
  for (int i = 0; i < n; ++i) candidates += perf[i].status == CUDNN_STATUS_SUCCESS;
  return pick(perf, n, opt, chosen);
}

}  // namespace

ConvOp::ConvOp(void* handle, OpKind op, const ConvGeometry& g, DType t, const CudaOptions& opt, TuneScratch* tune)
    : h_(handle), op_(op), t_(t) {
  cudnnHandle_t h = static_cast<cudnnHandle_t>(handle);
  // bf16: bf16 tensors with f32 accumulation (cuDNN's "pseudo bf16"
  // configuration: x, w, y bf16, the convolution's compute type float).
  const bool bf16 = opt.precision == CudaPrecision::kBF16 && t == DType::f32;
  const cudnnDataType_t dt = t == DType::f64 ? CUDNN_DATA_DOUBLE : bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  const cudnnDataType_t compute = t == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t c;
  ck(cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor");
  ck(cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor");
  ck(cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor");
  ck(cudnnCreateConvolutionDescriptor(&c), "cudnnCreateConvolutionDescriptor");
  x_ = x, y_ = y, w_ = w, conv_ = c;
  ck(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, dt, int(g.n), int(g.c_in), int(g.h), int(g.w)), "x descriptor");
  ck(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, dt, int(g.n), int(g.c_out), int(g.ho), int(g.wo)), "y descriptor");
  ck(cudnnSetFilter4dDescriptor(w, dt, CUDNN_TENSOR_NCHW, int(g.c_out), int(g.group_in()), int(g.kh), int(g.kw)), "w descriptor");
  ck(cudnnSetConvolution2dDescriptor(c, g.ph, g.pw, g.sh, g.sw, g.dh, g.dw, CUDNN_CROSS_CORRELATION, compute),
     "conv descriptor");
  ck(cudnnSetConvolutionGroupCount(c, int(g.groups)), "cudnnSetConvolutionGroupCount");
  const bool tensor_cores = (opt.precision == CudaPrecision::kTF32 || bf16) && t == DType::f32;
  const cudnnMathType_t base_math = tensor_cores ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  ck(cudnnSetConvolutionMathType(c, base_math), "cudnnSetConvolutionMathType");
  cudnnMathType_t math = base_math;
  const size_t es = bf16 ? 2 : dtype_size(t);
  const size_t xb = size_t(g.n * g.c_in * g.h * g.w) * es, yb = size_t(g.n * g.c_out * g.ho * g.wo) * es,
               wb = size_t(g.c_out * g.c_in * g.kh * g.kw) * es;
  std::ostringstream d;
  int n = 0, candidates = 0;
  bool timed = false;
  float ms = 0;
  if (op == OpKind::kConv2d) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT], p{};
    timed = timed_pick(tune, opt, xb, wb, yb,
                       [&](void* a, void* b, void* o, void* ws, size_t wsb, int req, int* got, cudnnConvolutionFwdAlgoPerf_t* pf) {
                         return cudnnFindConvolutionForwardAlgorithmEx(h, x, a, w, b, c, y, o, req, got, pf, ws, wsb);
                       },
                       p, candidates);
    if (timed) algo_ = p.algo, math = p.mathType, ms = p.time;
    else {
      ck(cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, c, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf), "forward heuristics");
      if (pick(perf, n, opt, p)) algo_ = p.algo, math = p.mathType;
      else algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;  // deterministic, no workspace
    }
    if (!tensor_cores) math = CUDNN_FMA_MATH;
    ck(cudnnSetConvolutionMathType(c, math), "cudnnSetConvolutionMathType");
    ck(cudnnGetConvolutionForwardWorkspaceSize(h, x, w, c, y, cudnnConvolutionFwdAlgo_t(algo_), &ws_), "forward workspace");
    d << "cudnn forward " << fwd_name(algo_);
  } else if (op == OpKind::kConvTranspose2d) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT], p{};
    // a = dy (y-shaped), b = w, out = dx (x-shaped)
    timed = timed_pick(tune, opt, yb, wb, xb,
                       [&](void* a, void* b, void* o, void* ws, size_t wsb, int req, int* got, cudnnConvolutionBwdDataAlgoPerf_t* pf) {
                         return cudnnFindConvolutionBackwardDataAlgorithmEx(h, w, b, y, a, c, x, o, req, got, pf, ws, wsb);
                       },
                       p, candidates);
    if (timed) algo_ = p.algo, math = p.mathType, ms = p.time;
    else {
      ck(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, y, c, x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf), "backward-data heuristics");
      if (pick(perf, n, opt, p)) algo_ = p.algo, math = p.mathType;
      else algo_ = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;  // deterministic
    }
    if (!tensor_cores) math = CUDNN_FMA_MATH;
    ck(cudnnSetConvolutionMathType(c, math), "cudnnSetConvolutionMathType");
    ck(cudnnGetConvolutionBackwardDataWorkspaceSize(h, w, y, c, x, cudnnConvolutionBwdDataAlgo_t(algo_), &ws_), "backward-data workspace");
    d << "cudnn backward-data " << bwd_data_name(algo_);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT], p{};
    // a = x, b = dy (y-shaped), out = dw
    timed = timed_pick(tune, opt, xb, yb, wb,
                       [&](void* a, void* b, void* o, void* ws, size_t wsb, int req, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* pf) {
                         return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, x, a, y, b, c, w, o, req, got, pf, ws, wsb);
                       },
                       p, candidates);
    if (timed) algo_ = p.algo, math = p.mathType, ms = p.time;
    else {
      ck(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x, y, c, w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf), "backward-filter heuristics");
      if (pick(perf, n, opt, p)) algo_ = p.algo, math = p.mathType;
      else algo_ = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;  // deterministic
    }
    if (!tensor_cores) math = CUDNN_FMA_MATH;
    ck(cudnnSetConvolutionMathType(c, math), "cudnnSetConvolutionMathType");
    ck(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x, y, c, w, cudnnConvolutionBwdFilterAlgo_t(algo_), &ws_), "backward-filter workspace");
    d << "cudnn backward-filter " << bwd_filter_name(algo_);
  }
  d << " " << (t == DType::f64 ? "f64" : bf16 ? "bf16" : "f32") << " math=" << math_name(math) << " ws=" << ws_ << (opt.deterministic ? " deterministic" : "");
  if (timed) d << " timed " << ms << "ms of " << candidates;
  else d << " heuristic";
  desc_ = d.str();
}

ConvOp::~ConvOp() {
  if (x_) cudnnDestroyTensorDescriptor(static_cast<cudnnTensorDescriptor_t>(x_));
  if (y_) cudnnDestroyTensorDescriptor(static_cast<cudnnTensorDescriptor_t>(y_));
  if (w_) cudnnDestroyFilterDescriptor(static_cast<cudnnFilterDescriptor_t>(w_));
  if (conv_) cudnnDestroyConvolutionDescriptor(static_cast<cudnnConvolutionDescriptor_t>(conv_));
}

void ConvOp::run(const void* a, const void* b, void* out, void* ws) const {
  cudnnHandle_t h = static_cast<cudnnHandle_t>(h_);
  auto x = static_cast<cudnnTensorDescriptor_t>(x_), y = static_cast<cudnnTensorDescriptor_t>(y_);
  auto w = static_cast<cudnnFilterDescriptor_t>(w_);
  auto c = static_cast<cudnnConvolutionDescriptor_t>(conv_);
  const float f1 = 1.f, f0 = 0.f;
  const double d1 = 1.0, d0 = 0.0;
  const void* one = t_ == DType::f64 ? static_cast<const void*>(&d1) : &f1;
  const void* zero = t_ == DType::f64 ? static_cast<const void*>(&d0) : &f0;
  if (op_ == OpKind::kConv2d)
    ck(cudnnConvolutionForward(h, one, x, a, w, b, c, cudnnConvolutionFwdAlgo_t(algo_), ws, ws_, zero, y, out), "cudnnConvolutionForward");
  else if (op_ == OpKind::kConvTranspose2d)
    ck(cudnnConvolutionBackwardData(h, one, w, b, y, a, c, cudnnConvolutionBwdDataAlgo_t(algo_), ws, ws_, zero, x, out), "cudnnConvolutionBackwardData");
  else
    ck(cudnnConvolutionBackwardFilter(h, one, x, a, y, b, c, cudnnConvolutionBwdFilterAlgo_t(algo_), ws, ws_, zero, w, out), "cudnnConvolutionBackwardFilter");
}

}  // namespace rg::cuda
