// The CUDA backend: one CudaKernel per fusion group, a list of steps (cuDNN
// convolutions and NVRTC kernels) with every argument resolved at bind(), run
// on the backend's stream; a Session's GraphRunner runs them eagerly once,
// captures them into a CUDA graph on the second run and replays that graph
// afterwards.
#include <cudnn.h>
#include <nvrtc.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "backends/cuda/cuda_internal.h"
#include "backends/ref/conv_ref.h"
#include "engine/host_memory.h"
#include "engine/lowered_chain.h"
#include "engine/schedule.h"
#include "graph/elementwise_ops.h"
#include "graph/batch_norm_rules.h"
#include "graph/state_update_rules.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rg {
namespace cuda {
namespace {

class CudaBackend;

class CudaKernel final : public Kernel {
 public:
  CudaKernel(CudaBackend& be, const Graph& g, const FusionGroup& grp);
  size_t scratch_bytes() const override { return scratch_.bytes(); }
  void bind(const KernelBinding& b) override;
  // Another Session's copy, compiled again (the NVRTC module and cuDNN's
  // heuristic, deterministic algorithm choice are shared or repeat). Its
  // Session captures it in a CUDA graph of its own (GraphRunner); its Adam
  // launches group with that Session's earlier kernels.
  std::unique_ptr<Kernel> clone() const override { return std::make_unique<CudaKernel>(be_, g_, grp_); }
  void run() override;
  std::string describe() const override;

 private:
  struct Launch {
    LaunchSpec spec;
    cudaKernel_t fn = nullptr;
    Jit::HostFn host = nullptr;
    std::vector<void*> vals, ptrs;
  };
  struct Conv {
    std::unique_ptr<ConvOp> op;  // null in host emulation
    OpKind kind = OpKind::kConv2d;
    ConvGeometry geo{};     // host emulation: the reference im2col kernels
    Arg a, b, out;
    size_t ws = 0;
    const void *pa = nullptr, *pb = nullptr;
    void *po = nullptr, *pws = nullptr;
    // CudaPrecision::kBF16: a, b and out are bf16 scratch copies (converted by
    // the launches around this step). Host emulation widens them into f32
    // scratch (tmp: a, b, out), runs the f32 reference and rounds the result.
    bool bf16 = false;
    size_t numel[3] = {};  // elements of a, b and out (the node's inputs and output)
    size_t tmp[3] = {};
    void* ptmp[3] = {};
  };

  size_t alloc(size_t bytes) { return scratch_.take(bytes); }
  Arg home(ValueId v) const {
    auto it = home_.find(v);
    return it == home_.end() ? Arg::val(v) : it->second;
  }
  // An anchor's output: in scratch when the group keeps it internal.
  void place(ValueId v) {
    if (grp_.is_internal(v)) home_[v] = Arg::scratch(alloc(g_.desc(v).bytes()));
  }
  void add_launch(LaunchSpec s);
  void add_ew(EwSpec s);
  void add_reduction(RedSpec r, const RedPlan& p);
  void build_conv(const Node& n);
  void build_chain(size_t first, EwSpec spec, std::map<ValueId, std::string> regs);
  void build_batch_norm_stats(const Node& n);
  void build_batch_norm_backward(const Node& n);
  void build_reduce(const Node& n);
  void build_adam(const Node& n);
  static std::string channel_load(EwSpec& s, Arg a);
  void* resolve(const Arg& a, const KernelBinding& b) const;
  static void emulate_bf16_conv(const Conv& c) {
    const size_t* n = c.numel;
    const uint16_t* in[2] = {static_cast<const uint16_t*>(c.pa), static_cast<const uint16_t*>(c.pb)};
    float* f[3] = {static_cast<float*>(c.ptmp[0]), static_cast<float*>(c.ptmp[1]), static_cast<float*>(c.ptmp[2])};
    for (int k = 0; k < 2; ++k)
      for (size_t i = 0; i < n[k]; ++i) f[k][i] = float_from_bf16(in[k][i]);
    emulate_conv<float>(c.kind, c.geo, f[0], f[1], f[2], c.pws);
    uint16_t* out = static_cast<uint16_t*>(c.po);
    for (size_t i = 0; i < n[2]; ++i) out[i] = bf16_from_float(f[2][i]);
  }
  template <typename T>
  static void emulate_conv(OpKind kind, const ConvGeometry& geo, const void* pa, const void* pb, void* po, void* pcol) {
    const T* a = static_cast<const T*>(pa);
    const T* b = static_cast<const T*>(pb);
    T* out = static_cast<T*>(po);
    T* col = static_cast<T*>(pcol);
    if (kind == OpKind::kConv2d) ref::conv2d_forward(geo, a, b, out, col);
    else if (kind == OpKind::kConvTranspose2d) ref::conv2d_backward_data(geo, a, b, out, col);
    else ref::conv2d_backward_weight(geo, a, b, out, col);
  }

  // Multi-tensor Adam: the host mirror of the kernel's table (same layout).
  static constexpr int kAdamMaxTensors = 64;
  struct AdamTable {
    int n = 0, pad = 0;
    int64_t start[kAdamMaxTensors + 1] = {};
    void *p[kAdamMaxTensors] = {}, *g[kAdamMaxTensors] = {}, *m[kAdamMaxTensors] = {}, *v[kAdamMaxTensors] = {};
  };
  bool adam_ = false;
  const Node* adam_node_ = nullptr;
  std::string adam_name_;
  AdamTable table_;
  void* step_ptr_ = nullptr;
  CudaKernel* adam_leader_ = nullptr;  // set: this group's tensors are updated by that group's launch
  unsigned adam_grid_ = 1;
  cudaKernel_t adam_fn_ = nullptr;
  Jit::HostFn adam_host_ = nullptr;
  void bind_adam(const KernelBinding& b);

  CudaBackend& be_;
  const Graph& g_;
  FusionGroup grp_;
  std::string T_;
  ScratchLayout scratch_;
  std::map<ValueId, Arg> home_;
  std::set<ValueId> bf16_values_;  // internal values kept as bf16 words (a bf16 convolution's result)
  std::vector<Launch> launches_;
  std::vector<Conv> convs_;
  std::vector<std::pair<bool, size_t>> steps_;  // (is conv, index)
};

class CudaBackend final : public Backend {
 public:
  struct Emulate {};
  // Host emulation (no device): make_cuda_host_emulator.
  explicit CudaBackend(Emulate, const CudaOptions& o) : opt_(o), sms_(4), block_(8), emulate_(true) {
    opt_.cache_dir = "-";
    jit_ = std::make_unique<Jit>(true);
  }
  // Code generation only (no device): cuda_codegen_check.
  CudaBackend(int cc, int sms, CudaPrecision p) : sms_(sms), dry_(true) {
    opt_.precision = p;
    opt_.cache_dir = "-";
    jit_ = std::make_unique<Jit>(cc / 10, cc % 10, "-");
  }
  explicit CudaBackend(const CudaOptions& o) : opt_(o) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
      cudaGetLastError();
      fail("no CUDA device");
    }
    if (o.device < 0 || o.device >= n) fail("no CUDA device " + std::to_string(o.device));
    check(cudaSetDevice(o.device), "cudaSetDevice");
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, o.device), "cudaGetDeviceProperties");
    sms_ = p.multiProcessorCount;
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    cudnnHandle_t h;
    const cudnnStatus_t st = cudnnCreate(&h);
    if (st != CUDNN_STATUS_SUCCESS) fail(std::string("cudnnCreate: ") + cudnnGetErrorString(st));
    cudnn_ = h;
    cudnnSetStream(h, stream_);
    tune_ = std::make_unique<TuneScratch>(stream_);
    jit_ = std::make_unique<Jit>(p.major, p.minor, o.cache_dir);
  }
  ~CudaBackend() override {
    if (dry_ || emulate_) return;
    cudaStreamSynchronize(stream_);
    tune_.reset();
    cudnnDestroy(static_cast<cudnnHandle_t>(cudnn_));
    jit_.reset();
    cudaStreamDestroy(stream_);
  }
  std::string name() const override { return "cuda"; }
  // Speed over memory: a GPU step keeps its activations (an H100 has room;
  // each recomputation is one more pass over an activation).
  Recompute default_recompute() const override { return Recompute::kNone; }
  void* allocate(size_t bytes) override {
    if (emulate_) {
      void* h = host_allocate(bytes);
      std::memset(h, 0xff, host_block_bytes(bytes));  // NaN-filled: unwritten reads show
      return h;
    }
    release_tuning();  // a session allocates its memory: compile is over
    void* p = nullptr;
    check(cudaMalloc(&p, std::max<size_t>(bytes, 256)), "cudaMalloc");
    return p;
  }
  void release(void* p) override {
    if (emulate_) return host_release(p);
    cudaStreamSynchronize(stream_);
    cudaFree(p);
  }
  void copy_in(void* dst, const void* src, size_t n) override {
    if (emulate_) return void(std::memcpy(dst, src, n));
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_), "copy_in");
    check(cudaStreamSynchronize(stream_), "copy_in");
  }
  void copy_out(void* dst, const void* src, size_t n) override {
    if (emulate_) return void(std::memcpy(dst, src, n));
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_), "copy_out");
    check(cudaStreamSynchronize(stream_), "copy_out");
  }
  void synchronize() override {
    if (emulate_) return;
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  std::unique_ptr<Kernel> compile(const Graph& g, const FusionGroup& grp) override {
    if (g.float_type() != DType::f32 && g.float_type() != DType::f64)
      fail(std::string("graphs of ") + dtype_name(g.float_type()) + " are not supported (f32, f64)");
    return std::make_unique<CudaKernel>(*this, g, grp);
  }
  std::unique_ptr<Runner> make_runner(std::vector<Kernel*> kernels) override;

  Jit& jit() { return *jit_; }
  void* cudnn() const { return cudnn_; }
  TuneScratch* tune() const { return tune_.get(); }
  void release_tuning() {
    if (tune_) tune_->release();
  }
  cudaStream_t stream() const { return stream_; }
  int sms() const { return sms_; }
  const CudaOptions& options() const { return opt_; }
  bool dry() const { return dry_; }
  bool emulate() const { return emulate_; }
  int block() const { return block_; }

 private:
  CudaOptions opt_;
  int sms_ = 1;
  int block_ = 256;
  bool dry_ = false, emulate_ = false;
  cudaStream_t stream_ = nullptr;
  void* cudnn_ = nullptr;
  std::unique_ptr<TuneScratch> tune_;
  std::unique_ptr<Jit> jit_;
};

// A Session's run: eager once (lazy module loading and cuDNN's first-call work
// happen outside any capture), captured into a CUDA graph on the second run,
// that graph replayed afterwards. The graph holds the session's pointers, so
// it is the session's and dies with it (Backend::make_runner).
class GraphRunner final : public Runner {
 public:
  GraphRunner(CudaBackend& be, std::vector<Kernel*> kernels) : be_(be), kernels_(std::move(kernels)) {}
  ~GraphRunner() override {
    if (!exec_) return;
    cudaStreamSynchronize(be_.stream());
    cudaGraphExecDestroy(exec_);
  }
  void run() override {
    if (runs_++ == 0 || eager_) return run_eagerly();
    if (!exec_ && !capture()) return run_eagerly();
    check(cudaGraphLaunch(exec_, be_.stream()), "cudaGraphLaunch");
  }

  // Events between the kernels, recorded inside one replay of a graph of the
  // run made for this (cudaEventRecordExternal nodes), so neither launch gaps
  // nor host syncs are timed; eagerly, with the same events, on the first run
  // or where the run cannot be captured. The run happens exactly once either
  // way (it may be a training step): where the device ran the graph but cannot
  // time its events, the times are NaN and later calls time eagerly.
  std::vector<double> run_timed() override {
    const cudaStream_t s = be_.stream();
    std::vector<cudaEvent_t> ev(kernels_.size() + 1, nullptr);
    std::vector<double> ms;
    try {
      for (cudaEvent_t& e : ev) check(cudaEventCreate(&e), "cudaEventCreate");
      if (runs_++ == 0 || eager_ || !graph_events_ || !timed_in_graph(ev, ms)) {
        check(cudaEventRecord(ev[0], s), "cudaEventRecord");
        for (size_t k = 0; k < kernels_.size(); ++k) {
          kernels_[k]->run();
          check(cudaEventRecord(ev[k + 1], s), "cudaEventRecord");
        }
        check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        ms = elapsed(ev);
      }
    } catch (...) {
      for (cudaEvent_t e : ev)
        if (e) cudaEventDestroy(e);
      throw;
    }
    for (cudaEvent_t e : ev) cudaEventDestroy(e);
    return ms;
  }

 private:
  static std::vector<double> elapsed(const std::vector<cudaEvent_t>& ev) {
    std::vector<double> ms;
    for (size_t k = 0; k + 1 < ev.size(); ++k) {
      float t = 0;
      check(cudaEventElapsedTime(&t, ev[k], ev[k + 1]), "cudaEventElapsedTime");
      ms.push_back(double(t));
    }
    return ms;
  }
  // The kernels captured into an instantiated graph; with `events`, an event
  // record node before the first kernel and after each. Null, with the reason
  // in `why`, where something cannot be captured: nothing ran.
  cudaGraphExec_t instantiate(const std::vector<cudaEvent_t>* events, std::string& why) {
    const cudaStream_t s = be_.stream();
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    if (e == cudaSuccess) {
      try {
        if (events) e = cudaEventRecordWithFlags((*events)[0], s, cudaEventRecordExternal);
        for (size_t k = 0; e == cudaSuccess && k < kernels_.size(); ++k) {
          kernels_[k]->run();
          if (events) e = cudaEventRecordWithFlags((*events)[k + 1], s, cudaEventRecordExternal);
        }
      } catch (const std::exception& ex) {
        why = ex.what();
      }
      const cudaError_t ended = cudaStreamEndCapture(s, &graph);
      if (e == cudaSuccess) e = ended;
      if (e == cudaSuccess && why.empty()) e = cudaGraphInstantiate(&exec, graph, 0);
      if (graph) cudaGraphDestroy(graph);
    }
    if (e == cudaSuccess && why.empty()) return exec;
    if (why.empty()) why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();
    if (exec) cudaGraphExecDestroy(exec);
    return nullptr;
  }

  // False where the graph cannot be made or launched: nothing ran. Throws
  // where it ran and failed.
  bool timed_in_graph(const std::vector<cudaEvent_t>& ev, std::vector<double>& ms) {
    const cudaStream_t s = be_.stream();
    std::string why;
    cudaGraphExec_t exec = instantiate(&ev, why);
    if (!exec) return false;
    if (cudaGraphLaunch(exec, s) != cudaSuccess) {
      cudaGetLastError();
      cudaGraphExecDestroy(exec);
      return false;
    }
    const cudaError_t done = cudaStreamSynchronize(s);
    cudaGraphExecDestroy(exec);
    check(done, "cudaStreamSynchronize");
    try {
      ms = elapsed(ev);
    } catch (const std::exception&) {
      cudaGetLastError();
      graph_events_ = false;
      ms.assign(kernels_.size(), std::nan(""));
    }
    return true;
  }

  void run_eagerly() {
    for (Kernel* k : kernels_) k->run();
  }
  // Instantiates the session's graph; false (said once, eager from now on,
  // still no allocation) when something in the plan cannot be captured.
  bool capture() {
    std::string why;
    exec_ = instantiate(nullptr, why);
    if (exec_) return true;
    eager_ = true;
    std::fprintf(stderr, "cuda backend: CUDA graph capture failed (%s); this session runs eagerly\n", why.c_str());
    return false;
  }

  CudaBackend& be_;
  std::vector<Kernel*> kernels_;
  cudaGraphExec_t exec_ = nullptr;
  size_t runs_ = 0;
  bool eager_ = false;        // capture failed
  bool graph_events_ = true;  // run_timed's events inside a graph can be timed
};

std::unique_ptr<Runner> CudaBackend::make_runner(std::vector<Kernel*> kernels) {
  if (!opt_.cuda_graphs || emulate_ || dry_) return std::make_unique<InOrderRunner>(std::move(kernels));
  return std::make_unique<GraphRunner>(*this, std::move(kernels));
}

// --- Kernel construction ----------------------------------------------------------

// One instruction of an elementwise formula (graph/elementwise_ops.h) as a C
// expression over its operands' expressions.
std::string instr_expr(EwInstrKind k, const std::string& x, const std::string& y, const std::string& z,
                       const std::string& T) {
  switch (k) {
    case EwInstrKind::kAdd: return x + " + " + y;
    case EwInstrKind::kSub: return x + " - " + y;
    case EwInstrKind::kMul: return x + " * " + y;
    case EwInstrKind::kDiv: return x + " / " + y;
    case EwInstrKind::kTanh: return "rg_tanh(" + x + ")";
    case EwInstrKind::kExp: return "rg_exp(" + x + ")";
    case EwInstrKind::kSelectPositive: return x + " > (" + T + ")0 ? " + y + " : " + z;
  }
  fail("unknown elementwise instruction");
}

// numpy broadcast strides of `small` against `big` (0 on broadcast dims).

CudaKernel::CudaKernel(CudaBackend& be, const Graph& g, const FusionGroup& grp)
    : be_(be), g_(g), grp_(grp), T_(g.float_type() == DType::f64 ? "double" : "float") {
  const Node& n = g.node(grp.nodes[0]);
  const std::string& T = T_;
  switch (n.op) {
    case OpKind::kConv2d:
    case OpKind::kConvTranspose2d:
    case OpKind::kConv2dBackwardWeight:
      build_conv(n);
      build_chain(1, EwSpec{T, grp.shape, {}, {}, {}, {}}, {});
      break;
    case OpKind::kBatchNormTrain:
    case OpKind::kBatchNormInference: {
      if (n.op == OpKind::kBatchNormTrain) build_batch_norm_stats(n);
      const bool train = n.op == OpKind::kBatchNormTrain;
      EwSpec s{T, g.shape(n.inputs[0]), {}, {}, {}, {}};
      s.loads.push_back({home(n.inputs[0]), {}, true, {}});
      const std::string x = "l0";
      std::map<ValueId, std::string> regs{{n.inputs[0], x}};
      const std::string mean = channel_load(s, train ? home(n.outputs[1]) : home(n.inputs[3]));
      const std::string var = channel_load(s, train ? home(n.outputs[2]) : home(n.inputs[4]));
      const std::string gamma = channel_load(s, home(n.inputs[1])), beta = channel_load(s, home(n.inputs[2]));
      const std::string y = "v" + std::to_string(n.outputs[0]);
      const CExpr inv = batch_norm_inv_std(CExpr(var), CExpr(literal(n.attrs.eps, T)), CExpr("(" + T + ")1"));
      s.body.push_back("const " + T + " " + y + " = " +
                       batch_norm_normalize(CExpr(x), CExpr(mean), inv, CExpr(gamma), CExpr(beta)).text + ";");
      regs[n.outputs[0]] = y;
      if (!grp.is_internal(n.outputs[0])) s.stores.push_back({Arg::val(n.outputs[0]), y});
      build_chain(1, s, regs);
      break;
    }
    case OpKind::kBatchNormBackward:
      build_batch_norm_backward(n);
      break;
    case OpKind::kMean:
    case OpKind::kSumTo:
      build_reduce(n);
      break;
    case OpKind::kBroadcastTo: {
      EwSpec s{T, g.shape(n.outputs[0]), {}, {}, {}, {}};
      s.loads.push_back({home(n.inputs[0]), broadcast_strides(g.shape(n.outputs[0]), g.shape(n.inputs[0])), false, {}});
      if (g.shape(n.inputs[0]) == g.shape(n.outputs[0])) s.loads.back().full = true;
      s.stores.push_back({home(n.outputs[0]), "l0"});
      add_ew(s);
      break;
    }
    case OpKind::kFill: {
      EwSpec s{T, g.shape(n.outputs[0]), {}, {}, {}, {}};
      s.stores.push_back({home(n.outputs[0]), literal(n.attrs.scalar, T)});
      add_ew(s);
      break;
    }
    case OpKind::kBatchNormRunningUpdate: {
      EwSpec s{T, g.shape(n.inputs[0]), {}, {}, {}, {}};
      s.loads.push_back({home(n.inputs[0]), {}, true, {}});
      s.loads.push_back({home(n.inputs[1]), {}, true, {}});
      const CExpr r = running_update_element(CExpr{"(double)l0"}, CExpr{"(double)l1"}, running_update(n.attrs));
      s.stores.push_back({home(n.outputs[0]), "(" + T + ")" + r.text});
      add_ew(s);
      break;
    }
    case OpKind::kAdamUpdate:
      build_adam(n);
      break;
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d:
      add_launch(make_pool2d(pool_geometry(g, n), T, home(n.inputs[0]), home(n.outputs[0]), be_.sms(), be_.block()));
      break;
    case OpKind::kMaxPool2dBackward:
      add_launch(make_max_pool2d_backward(pool_geometry(g, n), T, home(n.inputs[0]), home(n.inputs[1]), home(n.outputs[0]),
                                          be_.sms(), be_.block()));
      break;
    case OpKind::kMatMul:
      add_launch(make_matmul(matmul_geometry(g, n), T, home(n.inputs[0]), home(n.inputs[1]), home(n.outputs[0]), be_.sms(),
                             be_.block()));
      break;
    case OpKind::kLogSoftmax:
    case OpKind::kLogSoftmaxBackward: {
      const Arg y = n.inputs.size() > 1 ? home(n.inputs[1]) : Arg{};
      add_launch(make_log_softmax(row_geometry(g, n), T, home(n.inputs[0]), y, home(n.outputs[0]), be_.sms(), be_.block()));
      break;
    }
    case OpKind::kConcat: {
      std::vector<Arg> ins;
      for (ValueId v : n.inputs) ins.push_back(home(v));
      add_launch(make_concat(concat_geometry(g, n), T, ins, home(n.outputs[0]), be_.sms(), be_.block()));
      break;
    }
    case OpKind::kResizeBilinear:
      add_launch(make_resize_bilinear(resize_geometry(g, n), T, home(n.inputs[0]), home(n.outputs[0]), be_.sms(), be_.block()));
      break;
    case OpKind::kIncrement: {
      LaunchSpec l;
      l.name = "rg_increment_i64";
      l.source = "extern \"C\" __global__ void rg_increment_i64(i64* c) { *c += 1; }\n";
      l.args = {home(n.outputs[0])};
      add_launch(std::move(l));
      break;
    }
    default:
      if (!is_elementwise(n.op)) fail(std::string("no kernel for ") + op_name(n.op));
      build_chain(0, EwSpec{T, grp.shape, {}, {}, {}, {}}, {});
  }
}


void CudaKernel::add_launch(LaunchSpec s) {
  be_.jit().add(s.name, s.source);
  Launch l;
  l.spec = std::move(s);
  launches_.push_back(std::move(l));
  steps_.push_back({false, launches_.size() - 1});
}

void CudaKernel::add_ew(EwSpec s) {
  s.block = be_.block();
  add_launch(make_elementwise(s, be_.sms()));
}

void CudaKernel::add_reduction(RedSpec r, const RedPlan& p) {
  r.block = be_.block();
  for (LaunchSpec& l : make_reduction(r, p)) add_launch(std::move(l));
}

std::string CudaKernel::channel_load(EwSpec& s, Arg a) {
  std::vector<int64_t> st(s.shape.size(), 0);
  st.at(1) = 1;
  s.loads.push_back({a, st, false, {}});
  return "l" + std::to_string(s.loads.size() - 1);
}

void CudaKernel::build_chain(size_t first, EwSpec s, std::map<ValueId, std::string> regs) {
  const std::vector<NodeId> chain(grp_.nodes.begin() + std::ptrdiff_t(first), grp_.nodes.end());
  std::vector<ValueId> given;
  for (const auto& [v, text] : regs) given.push_back(v);
  const LoweredChain c = lower_chain(g_, grp_, chain, given);
  // The program printed as one expression per node: each register's text is
  // a given value's name, a load's, a literal, or the expression so far (each
  // instruction parenthesised); a node's result is then named vN.
  std::vector<std::string> text(size_t(c.program.num_regs));
  for (const auto& [v, r] : c.given) text[size_t(r)] = regs.at(v);
  for (const ChainLoad& l : c.loads) {
    s.loads.push_back({home(l.value), l.strides, l.full, {}});
    s.loads.back().bf16 = bf16_values_.count(l.value) > 0;
    text[size_t(l.reg)] = "l" + std::to_string(s.loads.size() - 1);
  }
  for (const auto& [r, v] : c.program.constants) text[size_t(r)] = literal(v, T_);
  auto at = [&](int r) { return r >= 0 ? text[size_t(r)] : std::string(); };
  size_t i = 0;
  for (const ChainNode& n : c.nodes) {
    for (; i < n.code_end; ++i) {
      const auto& in = c.program.code[i];
      text[size_t(in.out)] = "(" + instr_expr(in.op, at(in.x), at(in.y), at(in.z), T_) + ")";
    }
    const std::string name = "v" + std::to_string(g_.node(n.node).outputs[0]);
    s.body.push_back("const " + T_ + " " + name + " = " + text[size_t(n.result)] + ";");
    text[size_t(n.result)] = name;
  }
  for (const ChainStore& st : c.stores) s.stores.push_back({Arg::val(st.value), text[size_t(st.reg)]});
  if (!s.stores.empty()) add_ew(s);
}

void CudaKernel::build_conv(const Node& n) {
  const ConvGeometry geo = conv_geometry(g_, n);
  place(n.outputs[0]);
  Conv c;
  c.kind = n.op;
  c.bf16 = be_.options().precision == CudaPrecision::kBF16 && T_ == "float";
  if (be_.emulate()) {
    c.geo = geo;
    c.ws = alloc(size_t(c.geo.col_rows() * c.geo.col_cols()) * dtype_size(g_.float_type()));
  } else if (!be_.dry()) {  // code generation only: no cuDNN, but the bf16 conversions are generated
    c.op = std::make_unique<ConvOp>(be_.cudnn(), n.op, geo, g_.float_type(), be_.options(), be_.tune());
    c.ws = alloc(c.op->workspace_bytes());
  }
  c.a = home(n.inputs[0]);
  c.b = home(n.inputs[1]);
  c.out = home(n.outputs[0]);
  if (!c.bf16) {
    convs_.push_back(std::move(c));
    steps_.push_back({true, convs_.size() - 1});
    return;
  }
  // bf16: operands rounded to bf16 copies in scratch, cuDNN reads and writes
  // bf16 (accumulating in f32), the result is widened back into the f32 value.
  // Weights and everything outside convolutions stay f32 (f32 master weights
  // and Adam moments), as torch.autocast(dtype=torch.bfloat16) does.
  const int64_t na = g_.desc(n.inputs[0]).numel(), nb = g_.desc(n.inputs[1]).numel(), no = g_.desc(n.outputs[0]).numel();
  const Arg a16 = Arg::scratch(alloc(size_t(na) * 2)), b16 = Arg::scratch(alloc(size_t(nb) * 2)),
            o16 = Arg::scratch(alloc(size_t(no) * 2));
  // A result that only this group's elementwise chain reads stays bf16: the
  // chain widens it as it loads it (no conversion kernel, no f32 copy).
  const bool chain_widens = grp_.is_internal(n.outputs[0]);
  c.numel[0] = size_t(na), c.numel[1] = size_t(nb), c.numel[2] = size_t(no);
  if (be_.emulate())
    for (int k = 0; k < 3; ++k) c.tmp[k] = alloc(c.numel[k] * 4);
  add_launch(make_bf16_convert(na, true, c.a, a16, be_.sms(), be_.block()));
  add_launch(make_bf16_convert(nb, true, c.b, b16, be_.sms(), be_.block()));
  const Arg result = c.out;
  c.a = a16, c.b = b16, c.out = o16;
  convs_.push_back(std::move(c));
  steps_.push_back({true, convs_.size() - 1});
  if (chain_widens) {
    home_[n.outputs[0]] = o16;
    bf16_values_.insert(n.outputs[0]);
  } else {
    add_launch(make_bf16_convert(no, false, o16, result, be_.sms(), be_.block()));
  }
}

void CudaKernel::build_batch_norm_stats(const Node& n) {
  const Shape& xs = g_.shape(n.inputs[0]);
  const int64_t M = xs[0] * xs[2] * xs[3];
  place(n.outputs[1]);
  place(n.outputs[2]);
  RedSpec mean{T_, xs, {true, false, true, true}, {home(n.inputs[0])}, {}, {}, {"x0"}, {}, {}, {}};
  mean.outs.push_back({home(n.outputs[1]), "a0 / " + literal(double(M), T_)});
  const RedPlan p = plan_reduction(mean, be_.sms());
  const Arg partials = Arg::scratch(alloc(p.partial_bytes));
  mean.partials = partials;
  add_reduction(mean, p);
  // Two passes as the reference (mean, then the centred sum of squares).
  const std::string square = batch_norm_centred_square(CExpr("x0"), CExpr("q0")).text;
  RedSpec var{T_, xs, {true, false, true, true}, {home(n.inputs[0])}, {home(n.outputs[1])}, {}, {square}, {}, {}, partials};
  var.outs.push_back({home(n.outputs[2]), "a0 / " + literal(double(M), T_)});
  add_reduction(var, p);
}

void CudaKernel::build_batch_norm_backward(const Node& n) {
  // (dy, x, gamma, mean, var) -> (dx, dgamma, dbeta)
  const Shape& xs = g_.shape(n.inputs[1]);
  const int64_t M = xs[0] * xs[2] * xs[3];
  for (ValueId v : n.outputs) place(v);
  // graph/batch_norm_rules.h, printed.
  const CExpr eps(literal(n.attrs.eps, T_)), one("(" + T_ + ")1");
  const std::string inv_q = "const " + T_ + " inv = " + batch_norm_inv_std(CExpr("q1"), eps, one).text + ";";
  RedSpec r{T_, xs, {true, false, true, true}, {home(n.inputs[0]), home(n.inputs[1])}, {home(n.inputs[3]), home(n.inputs[4])},
            {inv_q}, {"x0", batch_norm_dy_xhat(CExpr("x0"), CExpr("x1"), CExpr("q0"), CExpr("inv")).text}, {}, {}, {}};
  r.outs.push_back({home(n.outputs[2]), "a0"});
  r.outs.push_back({home(n.outputs[1]), "a1"});
  const RedPlan p = plan_reduction(r, be_.sms());
  r.partials = Arg::scratch(alloc(p.partial_bytes));
  add_reduction(r, p);
  if (grp_.is_internal(n.outputs[0])) return;  // dx unused
  EwSpec s{T_, xs, {}, {}, {}, {}};
  s.loads.push_back({home(n.inputs[0]), {}, true, {}});
  s.loads.push_back({home(n.inputs[1]), {}, true, {}});
  const std::string gamma = channel_load(s, home(n.inputs[2])), mean = channel_load(s, home(n.inputs[3])),
                    var = channel_load(s, home(n.inputs[4])), sdy = channel_load(s, home(n.outputs[2])),
                    sdyx = channel_load(s, home(n.outputs[1]));
  s.body.push_back("const " + T_ + " inv = " + batch_norm_inv_std(CExpr(var), eps, one).text + ";");
  s.stores.push_back({home(n.outputs[0]), batch_norm_input_gradient(CExpr("l0"), CExpr("l1"), CExpr(mean), CExpr("inv"), CExpr(gamma),
                                                                    CExpr(sdy), CExpr(sdyx), CExpr(literal(double(M), T_)))
                                              .text});
  add_ew(s);
}

void CudaKernel::build_reduce(const Node& n) {
  const Shape& xs = g_.shape(n.inputs[0]);
  place(n.outputs[0]);
  RedSpec r{T_, xs, reduced_axes(n, xs), {home(n.inputs[0])}, {}, {}, {"x0"}, {}, {}, {}};
  const double ratio = double(numel(xs)) / double(std::max<int64_t>(1, g_.desc(n.outputs[0]).numel()));
  r.outs.push_back({home(n.outputs[0]), n.op == OpKind::kMean ? "a0 / " + literal(ratio, T_) : std::string("a0")});
  const RedPlan p = plan_reduction(r, be_.sms());
  r.partials = Arg::scratch(alloc(p.partial_bytes));
  add_reduction(r, p);
}

void CudaKernel::build_adam(const Node& n) {
  // torch.optim.Adam's single-tensor path, operation for operation (as the
  // reference), in a multi-tensor kernel: the tensors of consecutive Adam groups
  // with the same hyperparameters and step counter (one network's) are updated
  // by one launch, made by the first group of the run (see bind()).
  const OpAttrs& a = n.attrs;
  const std::string& T = T_;
  std::ostringstream o;
  o << "struct KNAME_t { int n; int pad; i64 start[" << kAdamMaxTensors + 1 << "]; " << T << "* p["
    << kAdamMaxTensors << "]; const " << T << "* g[" << kAdamMaxTensors << "]; " << T << "* m[" << kAdamMaxTensors << "]; "
    << T << "* v[" << kAdamMaxTensors << "]; };\n";
  o << "extern \"C\" __global__ void __launch_bounds__(" << be_.block() << ") KNAME(const KNAME_t tb, const i64* __restrict__ step) {\n";
  o << "  const double t = (double)step[0];\n";
  o << "  const double bc1 = 1.0 - pow(" << literal(a.beta1, "double") << ", t), bc2 = 1.0 - pow(" << literal(a.beta2, "double") << ", t);\n";
  o << "  const " << T << " step_size = (" << T << ")(" << literal(a.lr, "double") << " / bc1), bc2_sqrt = (" << T << ")sqrt(bc2);\n";
  o << "  const i64 total = tb.start[tb.n];\n";
  o << "  for (i64 e = (i64)blockIdx.x * " << be_.block() << " + threadIdx.x; e < total; e += (i64)gridDim.x * " << be_.block() << ") {\n";
  o << "    int lo = 0, hi = tb.n - 1;\n";
  o << "    while (lo < hi) { const int mid = (lo + hi + 1) >> 1; if (tb.start[mid] <= e) lo = mid; else hi = mid - 1; }\n";
  o << "    const i64 j = e - tb.start[lo];\n";
  // The element update printed from the one Adam rule (graph/state_update_rules.h).
  auto lit = [&](double v) { return CExpr{literal(v, T)}; };
  const AdamScalars<CExpr> sc{CExpr{"step_size"}, CExpr{"bc2_sqrt"}, lit(a.beta1), lit(a.beta2), lit(1.0 - a.beta1),
                              lit(1.0 - a.beta2), lit(a.adam_eps)};
  CExpr p{"tb.p[lo][j]"}, m{"tb.m[lo][j]"}, v{"tb.v[lo][j]"};
  adam_element(p, m, v, CExpr{"tb.g[lo][j]"}, sc);
  o << "    const " << T << " m = " << m.text << ", v = " << v.text << ";\n";
  o << "    tb.p[lo][j] = " << p.text << ";\n";
  o << "    tb.m[lo][j] = m;\n    tb.v[lo][j] = v;\n  }\n}\n";
  std::string src = o.str();
  adam_name_ = "adam_mt_" + hex64(fnv1a(src));
  size_t pos;
  while ((pos = src.find("KNAME")) != std::string::npos) src.replace(pos, 5, adam_name_);
  be_.jit().add(adam_name_, src);
  adam_ = true;
  adam_node_ = &n;
}

void* CudaKernel::resolve(const Arg& a, const KernelBinding& b) const {
  if (a.kind == Arg::kScratch) {
    if (!b.scratch) fail("group " + std::to_string(grp_.id) + ": no scratch memory bound");
    return static_cast<char*>(b.scratch) + a.offset;
  }
  void* p = b.values.at(size_t(a.value));
  if (!p) fail("group " + std::to_string(grp_.id) + ": value " + g_.value_label(a.value) + " is not materialised");
  return p;
}

void CudaKernel::bind(const KernelBinding& b) {
  be_.release_tuning();
  be_.jit().build();
  for (Launch& l : launches_) {
    if (be_.emulate()) l.host = be_.jit().get_host(l.spec.name);
    else l.fn = be_.jit().get(l.spec.name);
    l.vals.clear();
    for (const Arg& a : l.spec.args) l.vals.push_back(resolve(a, b));
    l.ptrs.clear();
    for (void*& v : l.vals) l.ptrs.push_back(&v);
  }
  for (Conv& c : convs_) {
    c.pa = resolve(c.a, b);
    c.pb = resolve(c.b, b);
    c.po = resolve(c.out, b);
    c.pws = !c.op || c.op->workspace_bytes() ? resolve(Arg::scratch(c.ws), b) : nullptr;
    if (c.bf16 && !c.op)
      for (int k = 0; k < 3; ++k) c.ptmp[k] = resolve(Arg::scratch(c.tmp[k]), b);
  }
  if (adam_) bind_adam(b);
}

void CudaKernel::bind_adam(const KernelBinding& b) {
  const Node& n = *adam_node_;
  if (be_.emulate()) adam_host_ = be_.jit().get_host(adam_name_);
  else adam_fn_ = be_.jit().get(adam_name_);
  step_ptr_ = resolve(home(n.inputs[4]), b);
  table_ = AdamTable{};
  adam_leader_ = nullptr;
  CudaKernel* lead = this;
  // Join the previous group's launch when the engine put both in one
  // horizontal run (same hyperparameters and counter); it is this session's
  // kernel bound just before this one. The kernel name check is a guard: the
  // engine's run implies it.
  CudaKernel* prev = grp_.horizontal_first >= 0 && grp_.horizontal_first < grp_.id && !b.earlier.empty()
                         ? dynamic_cast<CudaKernel*>(b.earlier.back())
                         : nullptr;
  if (prev && prev->adam_ && prev->grp_.id + 1 == grp_.id && prev->adam_name_ == adam_name_ &&
      prev->step_ptr_ == step_ptr_) {
    CudaKernel* l = prev->adam_leader_ ? prev->adam_leader_ : prev;
    if (l->table_.n < kAdamMaxTensors) lead = l, adam_leader_ = l;
  }
  AdamTable& t = lead->table_;
  const int k = t.n++;
  t.p[k] = resolve(home(n.outputs[0]), b);
  t.g[k] = resolve(home(n.inputs[1]), b);
  t.m[k] = resolve(home(n.outputs[1]), b);
  t.v[k] = resolve(home(n.outputs[2]), b);
  t.start[k + 1] = t.start[k] + g_.desc(n.inputs[0]).numel();
  const int64_t blocks = (t.start[t.n] + be_.block() - 1) / be_.block();
  lead->adam_grid_ = unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t(be_.sms()) * 16)));
}

void CudaKernel::run() {
  if (adam_ && !adam_leader_) {
    void* args[] = {&table_, &step_ptr_};
    if (adam_host_) adam_host_(args, adam_grid_, unsigned(be_.block()));
    else
      check(cudaLaunchKernel(reinterpret_cast<const void*>(adam_fn_), dim3(adam_grid_), dim3(unsigned(be_.block())), args, 0,
                             be_.stream()),
            "cudaLaunchKernel (adam)");
  }
  for (const auto& [is_conv, i] : steps_) {
    if (is_conv) {
      const Conv& c = convs_[i];
      if (c.op) c.op->run(c.pa, c.pb, c.po, c.pws);
      else if (c.bf16) emulate_bf16_conv(c);
      else if (T_ == "float") emulate_conv<float>(c.kind, c.geo, c.pa, c.pb, c.po, c.pws);
      else emulate_conv<double>(c.kind, c.geo, c.pa, c.pb, c.po, c.pws);
    } else {
      Launch& l = launches_[i];
      if (l.host) {
        l.host(l.ptrs.data(), l.spec.grid, l.spec.block);
        continue;
      }
      check(cudaLaunchKernel(reinterpret_cast<const void*>(l.fn), dim3(l.spec.grid), dim3(l.spec.block), l.ptrs.data(), 0,
                             be_.stream()),
            "cudaLaunchKernel");
    }
  }
}

std::string CudaKernel::describe() const {
  std::ostringstream o;
  o << "cuda:";
  for (NodeId id : grp_.nodes) o << " " << op_name(g_.node(id).op);
  o << " ->";
  if (adam_) {
    if (adam_leader_) o << " in the multi-tensor Adam launch of group " << adam_leader_->grp_.id;
    else o << " nvrtc " << adam_name_ << " (multi-tensor Adam, " << table_.n << " tensors)";
  }
  for (size_t k = 0; k < steps_.size(); ++k) {
    const auto& [is_conv, i] = steps_[k];
    o << (k ? " + " : " ") << (!is_conv ? "nvrtc " + launches_[i].spec.name : convs_[i].op ? convs_[i].op->describe() : "host conv");
  }
  return o.str();
}

}  // namespace
}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}

std::unique_ptr<Backend> make_cuda_host_emulator(const CudaOptions& options) {
  return std::make_unique<cuda::CudaBackend>(cuda::CudaBackend::Emulate{}, options);
}

struct CudaTransfers::Impl {
  cuda::CudaBackend* be = nullptr;
  bool emulate = false;
  cudaStream_t copy = nullptr;
  std::vector<cudaEvent_t> queued, done;  // per slot: backend stream reached the download; download finished
  std::vector<std::pair<void*, bool>> host;  // (pointer, pinned by CUDA)
  void slot(int s) {
    if (s < 0) cuda::fail("CudaTransfers: negative slot");
    while (int(done.size()) <= s) {
      cudaEvent_t a, b;
      cuda::check(cudaEventCreateWithFlags(&a, cudaEventDisableTiming), "cudaEventCreate");
      cuda::check(cudaEventCreateWithFlags(&b, cudaEventDisableTiming), "cudaEventCreate");
      queued.push_back(a);
      done.push_back(b);
    }
  }
};

CudaTransfers::CudaTransfers(Backend& backend) : impl_(std::make_unique<Impl>()) {
  impl_->be = dynamic_cast<cuda::CudaBackend*>(&backend);
  if (!impl_->be || impl_->be->dry()) cuda::fail("CudaTransfers: not a CUDA backend (" + backend.name() + ")");
  impl_->emulate = impl_->be->emulate();
  if (!impl_->emulate) cuda::check(cudaStreamCreateWithFlags(&impl_->copy, cudaStreamNonBlocking), "cudaStreamCreate (copies)");
}

CudaTransfers::~CudaTransfers() {
  Impl& m = *impl_;
  if (m.copy) cudaStreamSynchronize(m.copy);
  for (cudaEvent_t e : m.queued) cudaEventDestroy(e);
  for (cudaEvent_t e : m.done) cudaEventDestroy(e);
  for (auto& [p, pinned] : m.host) pinned ? void(cudaFreeHost(p)) : host_release(p);
  if (m.copy) cudaStreamDestroy(m.copy);
}

void* CudaTransfers::pinned(size_t bytes) {
  bytes = std::max<size_t>(bytes, 256);
  void* p = nullptr;
  if (impl_->emulate) {
    p = host_allocate(bytes);
    impl_->host.push_back({p, false});
    return p;
  }
  cuda::check(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), "cudaHostAlloc");
  impl_->host.push_back({p, true});
  return p;
}

void CudaTransfers::upload(void* device, const void* host, size_t bytes) {
  if (impl_->emulate) return void(std::memcpy(device, host, bytes));
  cuda::check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, impl_->be->stream()), "upload");
}

void CudaTransfers::download(int slot, void* host, const void* device, size_t bytes) {
  Impl& m = *impl_;
  if (m.emulate) return void(std::memcpy(host, device, bytes));
  m.slot(slot);
  cuda::check(cudaEventRecord(m.queued[size_t(slot)], m.be->stream()), "cudaEventRecord");
  cuda::check(cudaStreamWaitEvent(m.copy, m.queued[size_t(slot)], 0), "cudaStreamWaitEvent");
  cuda::check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, m.copy), "download");
  cuda::check(cudaEventRecord(m.done[size_t(slot)], m.copy), "cudaEventRecord");
}

void CudaTransfers::device_wait(int slot) {
  Impl& m = *impl_;
  if (m.emulate) return;
  m.slot(slot);
  cuda::check(cudaStreamWaitEvent(m.be->stream(), m.done[size_t(slot)], 0), "cudaStreamWaitEvent");
}

void CudaTransfers::host_wait(int slot) {
  Impl& m = *impl_;
  if (m.emulate) return;
  m.slot(slot);
  cuda::check(cudaEventSynchronize(m.done[size_t(slot)]), "cudaEventSynchronize");
}

int cuda_codegen_check(const Graph& g, const std::vector<FusionGroup>& groups, int cc, CudaPrecision precision) {
  cuda::CudaBackend be(cc, 132, precision);
  std::vector<std::unique_ptr<Kernel>> kernels;
  for (const FusionGroup& grp : groups) kernels.push_back(be.compile(g, grp));
  const int n = be.jit().pending();
  be.jit().build(false);
  return n;
}

const char* cuda_precision_name(CudaPrecision p) {
  switch (p) {
    case CudaPrecision::kF32: return "f32";
    case CudaPrecision::kTF32: return "tf32";
    case CudaPrecision::kBF16: return "bf16";
  }
  return "?";
}

bool parse_cuda_precision(const std::string& s, CudaPrecision& out) {
  for (CudaPrecision p : {CudaPrecision::kF32, CudaPrecision::kTF32, CudaPrecision::kBF16})
    if (s == cuda_precision_name(p)) return out = p, true;
  return false;
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string cuda_describe_device(int device) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return "no CUDA device";
  int rt = 0, drv = 0, nv_major = 0, nv_minor = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  nvrtcVersion(&nv_major, &nv_minor);
  std::ostringstream o;
  o << p.name << " sm_" << p.major << p.minor << " " << p.multiProcessorCount << " SMs, runtime " << rt << ", driver " << drv
    << ", cuDNN " << cudnnGetVersion() << ", NVRTC " << nv_major << "." << nv_minor;
  return o.str();
}

}  // namespace rg
