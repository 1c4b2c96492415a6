// SPDX-License-Identifier: Apache-2.0
// The reference backend: host memory, plain row-major values, one RefKernel
// per group (ref_kernel.h), the ops of its registry (ops/ref_ops.cpp).
#include "engine/backend.h"
#include "rg/backend_ref.h"

#include "backends/ref/ref_kernel.h"
#include "engine/host_memory.h"

namespace rg {
namespace {

class RefPlan final : public PlanCompiler {
 public:
  using PlanCompiler::PlanCompiler;
  std::unique_ptr<Kernel> compile(const FusionGroup& grp) override {
    if (g_.float_type() == DType::f64) return std::make_unique<ref::RefKernel<double>>(g_, grp);
    return std::make_unique<ref::RefKernel<float>>(g_, grp);
  }
};

class RefBackend final : public HostMemoryBackend {
 public:
  std::string name() const override { return "ref"; }
  bool lowers(OpKind op) const override { return ref::ref_ops().lowers(op); }
  std::unique_ptr<PlanCompiler> prepare(const Graph& g, const std::vector<FusionGroup>&,
                                        const std::vector<char>&) override {
    return std::make_unique<RefPlan>(g, *this);
  }
};

}  // namespace

std::unique_ptr<Backend> make_ref_backend() {
  return std::make_unique<RefBackend>();
}

}  // namespace rg
