// SPDX-License-Identifier: Apache-2.0
// The oneDNN backend's device (host memory) and factory; each plan's
// compiler is a OneDnnPlan (onednn_plan.h), its kernels OneDnnKernels
// (onednn_kernel.h) lowering the ops of its registry (ops/*.cpp).
#include "rg/backend_onednn.h"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>

#include "backends/onednn/onednn_kernel.h"
#include "backends/onednn/onednn_plan.h"
#include "engine/backend.h"
#include "rg/backend_ref.h"
#include "engine/host_memory.h"

namespace rg {
namespace {

// What make_onednn_backend() returns: the options and oneDNN's engine and
// stream; each plan gets its own OneDnnPlan from prepare(). Groups with an op
// outside its registry run on the reference backend, on the same memory.
class OneDnnBackend final : public HostMemoryBackend {
 public:
  explicit OneDnnBackend(const OneDnnOptions& o) : ctx_(std::make_shared<onednn::Ctx>()) {
    ctx_->opt = o;
    if (o.threads > 0) omp_set_num_threads(o.threads);
  }
  std::string name() const override { return "onednn"; }
  bool lowers(OpKind op) const override { return onednn::onednn_ops().lowers(op); }
  Backend* host_fallback() override {
    if (!ref_) ref_ = make_ref_backend();
    return ref_.get();
  }
  std::unique_ptr<PlanCompiler> prepare(const Graph& g, const std::vector<FusionGroup>& groups,
                                        const std::vector<char>& on_fallback) override {
    if (g.float_type() != DType::f32) {
      std::string op = "graph";
      for (const FusionGroup& grp : groups)
        if (!grp.nodes.empty()) {
          op = op_name(g.node(grp.nodes[0]).op);
          break;
        }
      throw std::invalid_argument(
          std::string("onednn backend: only f32 graphs are supported (got ") +
          dtype_name(g.float_type()) + " graph; first op " + op + ")");
    }
    return std::make_unique<onednn::OneDnnPlan>(ctx_, *this, g, groups, on_fallback);
  }

 private:
  std::shared_ptr<onednn::Ctx> ctx_;
  std::unique_ptr<Backend> ref_;  // host_fallback()
};

}  // namespace

std::unique_ptr<Backend> make_onednn_backend(const OneDnnOptions& options) {
  if (options.bf16 && !onednn_native_bf16()) {
    // oneDNN's ISA values are bit sets: each one contains the bits of those it extends.
    const int core = int(dnnl::cpu_isa::avx512_core);
    const bool emulable = (int(dnnl::get_effective_cpu_isa()) & core) == core;
    if (!(options.allow_emulated_bf16 && emulable))
      throw std::invalid_argument(
          "bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX-BF16); this one has " +
          onednn_cpu_isa() + " (oneDNN's best instruction set here)");
  }
  return std::make_unique<OneDnnBackend>(options);
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string onednn_cpu_isa() {
  using isa = dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case isa::sse41:
      return "sse41";
    case isa::avx:
      return "avx";
    case isa::avx2:
      return "avx2";
    case isa::avx2_vnni:
      return "avx2_vnni";
    case isa::avx512_core:
      return "avx512_core";
    case isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "isa #" + std::to_string(int(dnnl::get_effective_cpu_isa()));
  }
}

int onednn_threads(int requested) {
  return requested > 0 ? requested : omp_get_max_threads();
}

bool onednn_native_bf16() {
  const int bf16 = int(dnnl::cpu_isa::avx512_core_bf16);  // AMX's value contains these bits too
  return (int(dnnl::get_effective_cpu_isa()) & bf16) == bf16;
}

}  // namespace rg
