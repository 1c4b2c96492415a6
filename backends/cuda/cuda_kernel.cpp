// SPDX-License-Identifier: Apache-2.0
#include "backends/cuda/cuda_kernel.h"

#include <algorithm>
#include <sstream>

#include "backends/cuda/cuda_target.h"
#include "backends/ref/conv_ref.h"
#include "engine/lowered_chain.h"

namespace rg::cuda {
namespace {

// One instruction of an elementwise formula (graph/elementwise_ops.h) as a C
// expression over its operands' expressions.
std::string instr_expr(EwInstrKind k, const std::string& x, const std::string& y,
                       const std::string& z, const std::string& T) {
  switch (k) {
    case EwInstrKind::kAdd:
      return x + " + " + y;
    case EwInstrKind::kSub:
      return x + " - " + y;
    case EwInstrKind::kMul:
      return x + " * " + y;
    case EwInstrKind::kDiv:
      return x + " / " + y;
    case EwInstrKind::kTanh:
      return "rg_tanh(" + x + ")";
    case EwInstrKind::kExp:
      return "rg_exp(" + x + ")";
    case EwInstrKind::kSelectPositive:
      return x + " > (" + T + ")0 ? " + y + " : " + z;
  }
  fail("unknown elementwise instruction");
}

}  // namespace

CudaKernel::CudaKernel(CudaTarget& be, const Graph& g, const FusionGroup& grp)
    : be_(be), g_(g), grp_(grp), T_(g.float_type() == DType::f64 ? "double" : "float") {
  const Node& n = g.node(grp.nodes[0]);
  if (is_elementwise(n.op))
    build_chain(0, EwSpec{T_, grp.shape, {}, {}, {}, {}}, {});
  else
    cuda_ops().at(n.op, "cuda").lower(*this, n);
}

void CudaKernel::add_conv(Conv c) {
  convs_.push_back(std::move(c));
  steps_.push_back({true, convs_.size() - 1});
}

void CudaKernel::set_adam(std::string name, const Node& n) {
  adam_name_ = std::move(name);
  adam_ = true;
  adam_node_ = &n;
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
  for (const ChainStore& st : c.stores)
    s.stores.push_back({Arg::val(st.value), text[size_t(st.reg)]});
  if (!s.stores.empty()) add_ew(s);
}

void CudaKernel::emulate_bf16_conv(const Conv& c) {
  const size_t* n = c.numel;
  const uint16_t* in[2] = {static_cast<const uint16_t*>(c.pa), static_cast<const uint16_t*>(c.pb)};
  float* f[3] = {static_cast<float*>(c.ptmp[0]), static_cast<float*>(c.ptmp[1]),
                 static_cast<float*>(c.ptmp[2])};
  for (int k = 0; k < 2; ++k)
    for (size_t i = 0; i < n[k]; ++i) f[k][i] = float_from_bf16(in[k][i]);
  emulate_conv<float>(c.kind, c.geo, f[0], f[1], f[2], c.pws);
  uint16_t* out = static_cast<uint16_t*>(c.po);
  for (size_t i = 0; i < n[2]; ++i) out[i] = bf16_from_float(f[2][i]);
}

template <typename T>
void CudaKernel::emulate_conv(OpKind kind, const ConvGeometry& geo, const void* pa, const void* pb,
                              void* po, void* pcol) {
  const T* a = static_cast<const T*>(pa);
  const T* b = static_cast<const T*>(pb);
  T* out = static_cast<T*>(po);
  T* col = static_cast<T*>(pcol);
  if (kind == OpKind::kConv2d)
    ref::conv2d_forward(geo, a, b, out, col);
  else if (kind == OpKind::kConvTranspose2d)
    ref::conv2d_backward_data(geo, a, b, out, col);
  else
    ref::conv2d_backward_weight(geo, a, b, out, col);
}

void* CudaKernel::resolve(const Arg& a, const KernelBinding& b) const {
  if (a.kind == Arg::kScratch) {
    if (!b.scratch) fail("group " + std::to_string(grp_.id) + ": no scratch memory bound");
    return static_cast<char*>(b.scratch) + a.offset;
  }
  void* p = b.values.at(size_t(a.value));
  if (!p)
    fail("group " + std::to_string(grp_.id) + ": value " + g_.value_label(a.value) +
         " is not materialised");
  return p;
}

void CudaKernel::bind(const KernelBinding& b) {
  be_.release_tuning();
  be_.jit().build();
  for (Launch& l : launches_) {
    if (be_.emulate())
      l.host = be_.jit().get_host(l.spec.name);
    else
      l.fn = be_.jit().get(l.spec.name);
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
  if (be_.emulate())
    adam_host_ = be_.jit().get_host(adam_name_);
  else
    adam_fn_ = be_.jit().get(adam_name_);
  step_ptr_ = resolve(home(n.inputs[4]), b);
  table_ = AdamTable{};
  adam_leader_ = nullptr;
  CudaKernel* lead = this;
  // Join the previous group's launch when the engine put both in one
  // horizontal run (same hyperparameters and counter); it is this session's
  // kernel bound just before this one. The kernel name check is a guard: the
  // engine's run implies it.
  CudaKernel* prev =
      grp_.horizontal_first >= 0 && grp_.horizontal_first < grp_.id && !b.earlier.empty()
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
  lead->adam_grid_ =
      unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t(be_.sms()) * 16)));
}

void CudaKernel::run() {
  if (adam_ && !adam_leader_) {
    void* args[] = {&table_, &step_ptr_};
    if (adam_host_)
      adam_host_(args, adam_grid_, unsigned(be_.block()));
    else
      check(cudaLaunchKernel(reinterpret_cast<const void*>(adam_fn_), dim3(adam_grid_),
                             dim3(unsigned(be_.block())), args, 0, be_.stream()),
            "cudaLaunchKernel (adam)");
  }
  for (const auto& [is_conv, i] : steps_) {
    if (is_conv) {
      const Conv& c = convs_[i];
      if (c.op)
        c.op->run(c.pa, c.pb, c.po, c.pws);
      else if (c.bf16)
        emulate_bf16_conv(c);
      else if (T_ == "float")
        emulate_conv<float>(c.kind, c.geo, c.pa, c.pb, c.po, c.pws);
      else
        emulate_conv<double>(c.kind, c.geo, c.pa, c.pb, c.po, c.pws);
    } else {
      Launch& l = launches_[i];
      if (l.host) {
        l.host(l.ptrs.data(), l.spec.grid, l.spec.block);
        continue;
      }
      check(cudaLaunchKernel(reinterpret_cast<const void*>(l.fn), dim3(l.spec.grid),
                             dim3(l.spec.block), l.ptrs.data(), 0, be_.stream()),
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
    if (adam_leader_)
      o << " in the multi-tensor Adam launch of group " << adam_leader_->grp_.id;
    else
      o << " nvrtc " << adam_name_ << " (multi-tensor Adam, " << table_.n << " tensors)";
  }
  for (size_t k = 0; k < steps_.size(); ++k) {
    const auto& [is_conv, i] = steps_[k];
    o << (k ? " + " : " ")
      << (!is_conv       ? "nvrtc " + launches_[i].spec.name
          : convs_[i].op ? convs_[i].op->describe()
                         : "host conv");
  }
  return o.str();
}

}  // namespace rg::cuda
