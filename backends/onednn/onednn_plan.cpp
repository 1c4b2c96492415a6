// SPDX-License-Identifier: Apache-2.0
#include "backends/onednn/onednn_plan.h"

#include "rg/log.h"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backends/onednn/bf16_storage.h"
#include "backends/onednn/onednn_kernel.h"

namespace rg::onednn {

using dnnl::memory;
using dt = memory::data_type;

OneDnnPlan::OneDnnPlan(std::shared_ptr<Ctx> ctx, Backend& device, const Graph& g,
                       const std::vector<FusionGroup>& groups, const std::vector<char>& on_fallback)
    : PlanCompiler(g, device), ctx_(std::move(ctx)) {
  LayoutOptions lo;
  lo.blocked = ctx_->opt.blocked_layouts;
  lo.rule_of = [](OpKind k) { return onednn_ops().at(k, "onednn").layout; };
  lo.on_fallback = on_fallback;
  table_ = std::make_shared<const LayoutTable>(choose_layouts(g, groups, ctx_->eng, lo));
  if (ctx_->opt.bf16 && ctx_->opt.bf16_activations)
    bf16_ = std::make_shared<const std::vector<char>>(
        choose_bf16_storage(g, groups, on_fallback, *table_, ctx_->opt));
  if (std::getenv("RG_LAYOUTS")) {
    std::string s = describe_layouts(g, *table_);
    if (bf16_)
      for (ValueId v = 0; v < g.num_values(); ++v)
        if (stored_bf16(v)) s += "  %" + std::to_string(v) + " stored as bf16\n";
    if (!s.empty() && s.back() == '\n') s.pop_back();
    log(LogLevel::kDebug, s);
  }
}

std::unique_ptr<Kernel> OneDnnPlan::compile(const FusionGroup& grp) {
  auto k = std::make_unique<OneDnnKernel>(
      g_, grp, ctx_, [t = table_](ValueId v) { return t->of(v); },
      [b = bf16_](ValueId v) { return b && (*b)[size_t(v)]; });
  for (const std::string& r : k->reference_impls()) reference_.push_back(r);
  return k;
}

void OneDnnPlan::finish() {
  if (reference_.empty()) return;
  std::string line =
      "onednn: " + std::to_string(reference_.size()) +
      " kernel(s) of this plan run a oneDNN reference implementation (slow on this CPU):";
  for (size_t i = 0; i < reference_.size() && i < 4; ++i) line += " " + reference_[i];
  if (reference_.size() > 4) line += " ...";
  log(LogLevel::kWarning, line);
}

size_t OneDnnPlan::value_bytes(ValueId v) const {
  return stored_bf16(v) ? size_t(g_.desc(v).numel()) * 2 : g_.desc(v).bytes();
}

void OneDnnPlan::write_value(ValueId v, void* device, const void* host) const {
  if (g_.value(v).variable >= 0) ++ctx_->variable_writes;
  convert(v, host, true, device, false);
}

void OneDnnPlan::read_value(ValueId v, void* host, const void* device) const {
  convert(v, device, false, host, true);
}

std::unique_ptr<Runner> OneDnnPlan::make_runner(std::vector<Kernel*> kernels) const {
  struct Threaded final : InOrderRunner {
    Threaded(std::vector<Kernel*> k, int threads)
        : InOrderRunner(std::move(k)), threads_(threads) {}
    void run() override {
      set_threads();
      InOrderRunner::run();
    }
    std::vector<double> run_timed() override {
      set_threads();
      return InOrderRunner::run_timed();
    }
    void set_threads() const {
      if (threads_ > 0 && omp_get_max_threads() != threads_) omp_set_num_threads(threads_);
    }
    int threads_;
  };
  return std::make_unique<Threaded>(std::move(kernels), ctx_->opt.threads);
}

// Host plain <-> device layout for one value.
void OneDnnPlan::convert(ValueId v, const void* src, bool src_plain, void* dst,
                         bool dst_plain) const {
  const TensorDesc& d = g_.desc(v);
  const Layout l = table_->of(v);
  if (l == Layout::plain || d.rank() != 4) {
    std::memcpy(dst, src, d.bytes());
    return;
  }
  const std::lock_guard<std::mutex> lock(transfers_mutex_);
  const std::pair<ValueId, bool> key{v, src_plain};
  auto t = transfers_.find(key);
  if (t == transfers_.end()) {
    const memory::desc plain(dims_of(d.shape), dt::f32, memory::format_tag::nchw),
        laid(dims_of(d.shape), dt::f32, tag_of(l, 4));
    Transfer x;
    x.from = memory(src_plain ? plain : laid, ctx_->eng, nullptr);
    x.to = memory(dst_plain ? plain : laid, ctx_->eng, nullptr);
    x.reorder = dnnl::reorder(x.from, x.to);
    t = transfers_.emplace(key, std::move(x)).first;
  }
  Transfer& x = t->second;
  x.from.set_data_handle(const_cast<void*>(src));
  x.to.set_data_handle(dst);
  const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, x.from.get()}, {DNNL_ARG_TO, x.to.get()}};
  if (dnnl_primitive_execute(x.reorder.get(), ctx_->strm.get(), 2, args) != dnnl_success)
    throw std::runtime_error("onednn backend: reorder of value %" + std::to_string(v) + " failed");
  ctx_->strm.wait();
}

}  // namespace rg::onednn
