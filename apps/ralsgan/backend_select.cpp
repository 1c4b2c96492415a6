// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/backend_select.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <stdexcept>

#include "engine/backend.h"
#include "rg/backend_ref.h"
#if RALSGAN_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#if RALSGAN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace rg::app {

namespace {
bool cuda_usable() {
#if RALSGAN_HAVE_CUDA
  try {
    return cuda_device_count() > 0;
  } catch (const std::exception&) {
    return false;  // no driver, no device: not an error for `auto`
  }
#else
  return false;
#endif
}
}  // namespace

std::vector<std::string> available_backends() {
  std::vector<std::string> r;
  if (cuda_usable()) r.push_back("cuda");
#if RALSGAN_HAVE_ONEDNN
  r.push_back("cpu");
#endif
  r.push_back("ref");
  return r;
}

std::unique_ptr<Session> make_session(Plan& plan, const std::string& what) {
  try {
    return std::make_unique<Session>(plan);
  } catch (const std::bad_alloc&) {
    size_t bytes = plan.arena_bytes;
    for (const VariableInfo& v : plan.graph->variables()) bytes += v.desc.bytes();
    char mib[32];
    std::snprintf(mib, sizeof mib, "%.1f", double(bytes) / (1 << 20));
    throw std::runtime_error("out of memory: " + what + " needs " + mib +
                             " MiB for its buffers and weights, and could not get them; try a smaller --batch");
  }
}

void add_backend_flags(Flags& f) {
  f.value("backend", "auto|cuda|cpu|ref",
          "where to run: cuda (GPU), cpu (oneDNN), ref (portable reference); auto picks the first available", "auto");
  f.value("threads", "N", "CPU threads (cpu backend, data loading); 0 = all cores", "0");
  f.value("device", "N", "the CUDA device to run on (cuda backend; 0 is the first, as nvidia-smi numbers them)", "0");
  f.value("cuda-math", "f32|tf32|bf16",
          "convolution arithmetic on the cuda backend: f32 = strict IEEE f32 (matches the CPU backends; PyTorch with "
          "torch.backends.cudnn.allow_tf32 = False); tf32 = TF32 tensor cores, PyTorch's default for cuDNN "
          "convolutions; bf16 = bf16 operands with f32 accumulation, weights and Adam moments kept in f32 (as "
          "torch.autocast(dtype=torch.bfloat16)). Everything but convolutions is f32 in all three",
          "f32");
  f.value("cpu-math", "f32|bf16",
          "convolution arithmetic on the cpu backend: f32; bf16 = bf16 operands with f32 accumulation, "
          "activations between convolutions and batch norm stored as bf16, weights, Adam moments, batch-norm "
          "statistics, losses and the generator's output in f32 (as torch.autocast(\"cpu\", "
          "dtype=torch.bfloat16)). bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX-BF16)",
          "f32");
}

#if RALSGAN_HAVE_ONEDNN
namespace {
// A developer's switch, not a flag: let oneDNN emulate bf16 on an AVX-512 CPU
// without bf16 instructions, to check a bf16 run's results (slowly) where no
// such CPU is at hand. Announced on stderr whenever it is used.
bool bf16_emulation_allowed() {
  const char* e = std::getenv("RG_ONEDNN_EMULATE_BF16");
  return e && std::string(e) == "1";
}

// A developer's switch for A/B timing: RG_ONEDNN_WINOGRAD=0 runs the 4x4
// stride-2 convolutions on oneDNN's direct kernel instead of our Winograd one
// (OneDnnOptions::winograd).
bool winograd_allowed() {
  const char* e = std::getenv("RG_ONEDNN_WINOGRAD");
  return !e || std::string(e) != "0";
}
}  // namespace
#endif

BackendRequest backend_of(const Flags& f) {
  BackendRequest r;
  r.name = f.str("backend");
  if (r.name != "auto" && r.name != "cuda" && r.name != "cpu" && r.name != "ref")
    throw UsageError("--backend must be auto, cuda, cpu or ref, got '" + r.name + "'");
  r.threads = int(f.integer("threads", 0, 1024));
  r.device = int(f.integer("device", 0, 1023));
#if RALSGAN_HAVE_CUDA
  if (r.device > 0 && cuda_usable() && r.device >= cuda_device_count())
    throw UsageError("--device " + std::to_string(r.device) + ": this machine has " +
                     std::to_string(cuda_device_count()) + " CUDA device(s), numbered from 0");
#endif
  r.cuda_math = f.str("cuda-math");
  if (r.cuda_math != "f32" && r.cuda_math != "tf32" && r.cuda_math != "bf16")
    throw UsageError("--cuda-math must be f32, tf32 or bf16, got '" + r.cuda_math + "'");
  r.cpu_math = f.str("cpu-math");
  if (r.cpu_math != "f32" && r.cpu_math != "bf16")
    throw UsageError("--cpu-math must be f32 or bf16, got '" + r.cpu_math + "'");
  // A backend this build or machine lacks is a usage error before any work (not after decoding the data).
  if (r.name == "cuda" && !cuda_usable())
#if RALSGAN_HAVE_CUDA
    throw UsageError("--backend cuda: no usable CUDA GPU on this machine (available here: cpu, ref)");
#else
    throw UsageError("--backend cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
#if !RALSGAN_HAVE_ONEDNN
  if (r.name == "cpu") throw UsageError("--backend cpu: this build has no oneDNN backend");
#endif
#if RALSGAN_HAVE_ONEDNN
  // bf16 on a CPU that cannot do it is a usage error before any work, not a slow run.
  const bool on_cpu = r.name == "cpu" || (r.name == "auto" && !cuda_usable());
  if (r.cpu_math == "bf16" && on_cpu && !onednn_native_bf16() && !bf16_emulation_allowed())
    throw UsageError("--cpu-math bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX-BF16); this one has " +
                     onednn_cpu_isa() + " (oneDNN's best instruction set here)");
#endif
  return r;
}

std::string describe_processor(const SelectedBackend& be, const BackendRequest& req) {
#if RALSGAN_HAVE_CUDA
  if (be.name == "cuda") return cuda_describe_device(req.device);
#endif
  (void)be, (void)req;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown processor";
}

SelectedBackend make_backend(const BackendRequest& req) {
  const std::string& n = req.name;
  if (n != "auto" && n != "cuda" && n != "cpu" && n != "ref")
    throw std::invalid_argument("--backend must be auto, cuda, cpu or ref, got '" + n + "'");
  if (n == "cuda" || (n == "auto" && cuda_usable())) {
#if RALSGAN_HAVE_CUDA
    if (!cuda_usable()) throw std::runtime_error("--backend cuda: no usable CUDA GPU on this machine");
    CudaOptions o;
    o.device = req.device;
    if (!parse_cuda_precision(req.cuda_math, o.precision))
      throw std::invalid_argument("--cuda-math must be f32, tf32 or bf16, got '" + req.cuda_math + "'");
    return {make_cuda_backend(o), "cuda", req.cuda_math, "cuda " + req.cuda_math};
#else
    throw std::runtime_error("--backend cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
  }
  if (req.cuda_math != "f32")
    std::fprintf(stderr, "note: --cuda-math %s applies to the cuda backend only; this run is strict f32\n",
                 req.cuda_math.c_str());
  if (n == "cpu" || n == "auto") {
#if RALSGAN_HAVE_ONEDNN
    OneDnnOptions o;
    o.threads = req.threads;
    o.bf16 = req.cpu_math == "bf16";
    o.winograd = winograd_allowed();
    if (o.bf16 && !onednn_native_bf16() && bf16_emulation_allowed()) {
      o.allow_emulated_bf16 = true;
      std::fprintf(stderr, "note: RG_ONEDNN_EMULATE_BF16=1: oneDNN emulates bf16 on this %s CPU; results as with bf16 "
                           "instructions, speed not\n", onednn_cpu_isa().c_str());
    }
    try {
      return {make_onednn_backend(o), "cpu", req.cpu_math,
              "cpu " + req.cpu_math + ", " + onednn_cpu_isa() + ", " + std::to_string(onednn_threads(o.threads)) +
                  " thread(s)"};
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--cpu-math bf16 ") + e.what());  // bf16 without the instructions
    }
#else
    if (n == "cpu") throw std::runtime_error("--backend cpu: this build has no oneDNN backend");
#endif
  }
  if (req.cpu_math != "f32")
    std::fprintf(stderr, "note: --cpu-math %s applies to the cpu backend only; this run is f32\n", req.cpu_math.c_str());
  // Single-threaded; Eigen's kernels are chosen when this file's library is compiled.
#if defined(__AVX2__) && defined(__FMA__)
  return {make_ref_backend(), "ref", "f32", "ref f32, avx2+fma build"};
#else
  return {make_ref_backend(), "ref", "f32", "ref f32, baseline x86-64 build"};
#endif
}

}  // namespace rg::app
