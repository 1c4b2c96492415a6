// SPDX-License-Identifier: Apache-2.0
// Batch normalisation on a CUDA backend: the statistics as deterministic
// two-level reductions, the normalisation as the head of the group's
// elementwise kernel, the backward pass as one reduction and one elementwise
// kernel, each printed from graph/batch_norm_rules.h; group norm likewise.
#include "backends/cuda/ops/cuda_ops.h"
#include "graph/batch_norm_rules.h"
#include "graph/state_update_rules.h"

namespace rg::cuda {
namespace {

void build_statistics(CudaKernel& k, const Node& n) {
  const std::string& T = k.T();
  const Shape& xs = k.graph().shape(n.inputs[0]);
  const int64_t M = xs[0] * xs[2] * xs[3];
  k.place(n.outputs[1]);
  k.place(n.outputs[2]);
  RedSpec mean{T, xs, {true, false, true, true}, {k.home(n.inputs[0])}, {}, {}, {"x0"}, {}, {}, {}};
  mean.outs.push_back({k.home(n.outputs[1]), "a0 / " + literal(double(M), T)});
  const RedPlan p = plan_reduction(mean, k.target().sms());
  const Arg partials = Arg::scratch(k.alloc(p.partial_bytes));
  mean.partials = partials;
  k.add_reduction(mean, p);
  // Two passes as the reference (mean, then the centred sum of squares).
  const std::string square = batch_norm_centred_square(CExpr("x0"), CExpr("q0")).text;
  RedSpec var{T,
              xs,
              {true, false, true, true},
              {k.home(n.inputs[0])},
              {k.home(n.outputs[1])},
              {},
              {square},
              {},
              {},
              partials};
  var.outs.push_back({k.home(n.outputs[2]), "a0 / " + literal(double(M), T)});
  k.add_reduction(var, p);
}

void lower_forward(CudaKernel& k, const Node& n) {
  const std::string& T = k.T();
  const bool train = n.op == OpKind::kBatchNormTrain;
  if (train) build_statistics(k, n);
  EwSpec s{T, k.graph().shape(n.inputs[0]), {}, {}, {}, {}};
  s.loads.push_back({k.home(n.inputs[0]), {}, true, {}});
  const std::string x = "l0";
  std::map<ValueId, std::string> regs{{n.inputs[0], x}};
  const std::string mean =
      CudaKernel::channel_load(s, train ? k.home(n.outputs[1]) : k.home(n.inputs[3]));
  const std::string var =
      CudaKernel::channel_load(s, train ? k.home(n.outputs[2]) : k.home(n.inputs[4]));
  const std::string gamma = CudaKernel::channel_load(s, k.home(n.inputs[1]));
  const std::string beta = CudaKernel::channel_load(s, k.home(n.inputs[2]));
  const std::string y = "v" + std::to_string(n.outputs[0]);
  const CExpr inv =
      batch_norm_inv_std(CExpr(var), CExpr(literal(n.attrs.eps, T)), CExpr("(" + T + ")1"));
  s.body.push_back(
      "const " + T + " " + y + " = " +
      batch_norm_normalize(CExpr(x), CExpr(mean), inv, CExpr(gamma), CExpr(beta)).text + ";");
  regs[n.outputs[0]] = y;
  if (!k.group().is_internal(n.outputs[0])) s.stores.push_back({Arg::val(n.outputs[0]), y});
  k.build_chain(1, s, regs);
}

// (dy, x, gamma, mean, var) -> (dx, dgamma, dbeta)
void lower_backward(CudaKernel& k, const Node& n) {
  const std::string& T = k.T();
  const Shape& xs = k.graph().shape(n.inputs[1]);
  const int64_t M = xs[0] * xs[2] * xs[3];
  for (ValueId v : n.outputs) k.place(v);
  const CExpr eps(literal(n.attrs.eps, T)), one("(" + T + ")1");
  const std::string inv_q =
      "const " + T + " inv = " + batch_norm_inv_std(CExpr("q1"), eps, one).text + ";";
  RedSpec r{T,
            xs,
            {true, false, true, true},
            {k.home(n.inputs[0]), k.home(n.inputs[1])},
            {k.home(n.inputs[3]), k.home(n.inputs[4])},
            {inv_q},
            {"x0", batch_norm_dy_xhat(CExpr("x0"), CExpr("x1"), CExpr("q0"), CExpr("inv")).text},
            {},
            {},
            {}};
  r.outs.push_back({k.home(n.outputs[2]), "a0"});
  r.outs.push_back({k.home(n.outputs[1]), "a1"});
  const RedPlan p = plan_reduction(r, k.target().sms());
  r.partials = Arg::scratch(k.alloc(p.partial_bytes));
  k.add_reduction(r, p);
  if (k.group().is_internal(n.outputs[0])) return;  // dx unused
  EwSpec s{T, xs, {}, {}, {}, {}};
  s.loads.push_back({k.home(n.inputs[0]), {}, true, {}});
  s.loads.push_back({k.home(n.inputs[1]), {}, true, {}});
  const std::string gamma = CudaKernel::channel_load(s, k.home(n.inputs[2]));
  const std::string mean = CudaKernel::channel_load(s, k.home(n.inputs[3]));
  const std::string var = CudaKernel::channel_load(s, k.home(n.inputs[4]));
  const std::string sdy = CudaKernel::channel_load(s, k.home(n.outputs[2]));
  const std::string sdyx = CudaKernel::channel_load(s, k.home(n.outputs[1]));
  s.body.push_back("const " + T + " inv = " + batch_norm_inv_std(CExpr(var), eps, one).text + ";");
  s.stores.push_back(
      {k.home(n.outputs[0]),
       batch_norm_input_gradient(CExpr("l0"), CExpr("l1"), CExpr(mean), CExpr("inv"), CExpr(gamma),
                                 CExpr(sdy), CExpr(sdyx), CExpr(literal(double(M), T)))
           .text});
  k.add_ew(s);
}

void lower_running_update(CudaKernel& k, const Node& n) {
  const std::string& T = k.T();
  EwSpec s{T, k.graph().shape(n.inputs[0]), {}, {}, {}, {}};
  s.loads.push_back({k.home(n.inputs[0]), {}, true, {}});
  s.loads.push_back({k.home(n.inputs[1]), {}, true, {}});
  const CExpr r =
      running_update_element(CExpr{"(double)l0"}, CExpr{"(double)l1"}, running_update(n.attrs));
  s.stores.push_back({k.home(n.outputs[0]), "(" + T + ")" + r.text});
  k.add_ew(s);
}

// Group norm: the statistics of each (sample, group) as two reductions over
// the [N, G, C/G * H * W] view of x (the batch norm rules, two passes), then
// one elementwise kernel over [N, G, C/G, H * W] with per-group statistics
// and per-channel scale and bias.
void lower_group_norm(CudaKernel& k, const Node& n) {
  const std::string& T = k.T();
  const Shape& xs = k.graph().shape(n.inputs[0]);
  const int64_t G = n.attrs.groups, per = xs[1] / G, HW = xs[2] * xs[3];
  const Shape domain{xs[0], G, per * HW};
  const Arg mean = Arg::scratch(k.alloc(size_t(xs[0] * G) * dtype_size(k.graph().float_type())));
  const Arg var = Arg::scratch(k.alloc(size_t(xs[0] * G) * dtype_size(k.graph().float_type())));
  const Arg x = k.home(n.inputs[0]);
  RedSpec m{T, domain, {false, false, true}, {x}, {}, {}, {"x0"}, {}, {}, {}};
  m.outs.push_back({mean, "a0 / " + literal(double(per * HW), T)});
  const RedPlan p = plan_reduction(m, k.target().sms());
  const Arg partials = Arg::scratch(k.alloc(p.partial_bytes));
  m.partials = partials;
  k.add_reduction(m, p);
  const std::string square = batch_norm_centred_square(CExpr("x0"), CExpr("q0")).text;
  RedSpec v{T, domain, {false, false, true}, {x}, {mean}, {}, {square}, {}, {}, partials};
  v.outs.push_back({var, "a0 / " + literal(double(per * HW), T)});
  k.add_reduction(v, p);
  EwSpec s{T, {xs[0], G, per, HW}, {}, {}, {}, {}};
  s.loads.push_back({x, {}, true, {}});
  s.loads.push_back({mean, {G, 1, 0, 0}, false, {}});
  s.loads.push_back({var, {G, 1, 0, 0}, false, {}});
  s.loads.push_back({k.home(n.inputs[1]), {0, per, 1, 0}, false, {}});
  s.loads.push_back({k.home(n.inputs[2]), {0, per, 1, 0}, false, {}});
  const CExpr inv =
      batch_norm_inv_std(CExpr("l2"), CExpr(literal(n.attrs.eps, T)), CExpr("(" + T + ")1"));
  s.stores.push_back(
      {k.home(n.outputs[0]),
       batch_norm_normalize(CExpr("l0"), CExpr("l1"), inv, CExpr("l3"), CExpr("l4")).text});
  k.add_ew(s);
}

void lower_lrn(CudaKernel& k, const Node& n) {
  const CudaTarget& be = k.target();
  k.add_launch(make_lrn(lrn_geometry(k.graph(), n), k.T(), k.home(n.inputs[0]),
                        k.home(n.outputs[0]), be.sms(), be.block()));
}

const CudaOp kOps[] = {
    {OpKind::kLrn, lower_lrn},
    {OpKind::kBatchNormTrain, lower_forward},
    {OpKind::kBatchNormInference, lower_forward},
    {OpKind::kBatchNormBackward, lower_backward},
    {OpKind::kBatchNormRunningUpdate, lower_running_update},
    {OpKind::kGroupNorm, lower_group_norm},
};

}  // namespace

std::span<const CudaOp> normalization_ops() {
  return kOps;
}

}  // namespace rg::cuda
