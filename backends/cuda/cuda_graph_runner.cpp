// SPDX-License-Identifier: Apache-2.0
#include "backends/cuda/cuda_graph_runner.h"

#include "rg/log.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "backends/cuda/cuda_target.h"

namespace rg::cuda {
namespace {

// A Session's run: eager once (lazy module loading and cuDNN's first-call work
// happen outside any capture), captured into a CUDA graph on the second run,
// that graph replayed afterwards. The graph holds the session's pointers, so
// it is the session's and dies with it (Backend::make_runner).
class GraphRunner final : public Runner {
 public:
  GraphRunner(CudaTarget& be, std::vector<Kernel*> kernels)
      : be_(be), kernels_(std::move(kernels)) {}
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
    log(LogLevel::kWarning, "cuda backend: CUDA graph capture failed (" + why + "); this session runs eagerly");
    return false;
  }

  CudaTarget& be_;
  std::vector<Kernel*> kernels_;
  cudaGraphExec_t exec_ = nullptr;
  size_t runs_ = 0;
  bool eager_ = false;        // capture failed
  bool graph_events_ = true;  // run_timed's events inside a graph can be timed
};

}  // namespace

std::unique_ptr<Runner> make_graph_runner(CudaTarget& target, std::vector<Kernel*> kernels) {
  return std::make_unique<GraphRunner>(target, std::move(kernels));
}

}  // namespace rg::cuda
