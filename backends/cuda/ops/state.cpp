// SPDX-License-Identifier: Apache-2.0
// State updates on a CUDA backend: Adam as a multi-tensor kernel (the
// tensors of one horizontal run of Adam groups in one launch,
// CudaKernel::set_adam), and the step counter's increment.
#include <sstream>

#include "backends/cuda/ops/cuda_ops.h"
#include "graph/state_update_rules.h"

namespace rg::cuda {
namespace {

// torch.optim.Adam's single-tensor path, operation for operation (as the
// reference), in a multi-tensor kernel: the tensors of consecutive Adam groups
// with the same hyperparameters and step counter (one network's) are updated
// by one launch, made by the first group of the run.
void lower_adam(CudaKernel& k, const Node& n) {
  const OpAttrs& a = n.attrs;
  const std::string& T = k.T();
  const int block = k.target().block();
  constexpr int kMax = CudaKernel::kAdamMaxTensors;
  std::ostringstream o;
  o << "struct KNAME_t { int n; int pad; i64 start[" << kMax + 1 << "]; " << T << "* p[" << kMax
    << "]; const " << T << "* g[" << kMax << "]; " << T << "* m[" << kMax << "]; " << T << "* v["
    << kMax << "]; };\n";
  o << "extern \"C\" __global__ void __launch_bounds__(" << block
    << ") KNAME(const KNAME_t tb, const i64* __restrict__ step) {\n";
  o << "  const double t = (double)step[0];\n";
  o << "  const double bc1 = 1.0 - pow(" << literal(a.beta1, "double") << ", t), bc2 = 1.0 - pow("
    << literal(a.beta2, "double") << ", t);\n";
  o << "  const " << T << " step_size = (" << T << ")(" << literal(a.lr, "double")
    << " / bc1), bc2_sqrt = (" << T << ")sqrt(bc2);\n";
  o << "  const i64 total = tb.start[tb.n];\n";
  o << "  for (i64 e = (i64)blockIdx.x * " << block
    << " + threadIdx.x; e < total; e += (i64)gridDim.x * " << block << ") {\n";
  o << "    int lo = 0, hi = tb.n - 1;\n";
  o << "    while (lo < hi) { const int mid = (lo + hi + 1) >> 1; if (tb.start[mid] <= e) lo = "
       "mid; else hi = mid - "
       "1; }\n";
  o << "    const i64 j = e - tb.start[lo];\n";
  // The element update printed from the one Adam rule (graph/state_update_rules.h).
  auto lit = [&](double v) { return CExpr{literal(v, T)}; };
  const AdamScalars<CExpr> sc{CExpr{"step_size"}, CExpr{"bc2_sqrt"},  lit(a.beta1),   lit(a.beta2),
                              lit(1.0 - a.beta1), lit(1.0 - a.beta2), lit(a.adam_eps)};
  CExpr p{"tb.p[lo][j]"}, m{"tb.m[lo][j]"}, v{"tb.v[lo][j]"};
  adam_element(p, m, v, CExpr{"tb.g[lo][j]"}, sc);
  o << "    const " << T << " m = " << m.text << ", v = " << v.text << ";\n";
  o << "    tb.p[lo][j] = " << p.text << ";\n";
  o << "    tb.m[lo][j] = m;\n    tb.v[lo][j] = v;\n  }\n}\n";
  std::string src = o.str();
  const std::string name = "adam_mt_" + hex64(fnv1a(src));
  size_t pos;
  while ((pos = src.find("KNAME")) != std::string::npos) src.replace(pos, 5, name);
  k.target().jit().add(name, src);
  k.set_adam(name, n);
}

void lower_increment(CudaKernel& k, const Node& n) {
  LaunchSpec l;
  l.name = "rg_increment_i64";
  l.source = "extern \"C\" __global__ void rg_increment_i64(i64* c) { *c += 1; }\n";
  l.args = {k.home(n.outputs[0])};
  k.add_launch(std::move(l));
}

// A copy into the variable's storage, as an elementwise kernel.
void lower_assign(CudaKernel& k, const Node& n) {
  EwSpec s{k.T(), k.graph().shape(n.inputs[0]), {}, {}, {}, {}};
  s.loads.push_back({k.home(n.inputs[1]), {}, true, {}});
  s.stores.push_back({k.home(n.outputs[0]), "l0"});
  k.add_ew(s);
}

const CudaOp kOps[] = {
    {OpKind::kAdamUpdate, lower_adam},
    {OpKind::kIncrement, lower_increment},
    {OpKind::kAssign, lower_assign},
};

}  // namespace

std::span<const CudaOp> state_ops() {
  return kOps;
}

}  // namespace rg::cuda
