// SPDX-License-Identifier: Apache-2.0
#include "apps/model/ralsgan_step.h"

#include "graph/graph.h"
#include "rg/autodiff.h"

namespace rg::model {

// ( mean((a - mean(b) - y)^2) + mean((b - mean(a) + y)^2) ) / 2.
// L_D = rals_loss(C_r, C_f, y); L_G = rals_loss(C_f', C_r, y) (the roles swap).
ValueId rals_loss(Graph& g, ValueId a, ValueId b, double y) {
  const ValueId t1 = g.mean(g.square(g.add_scalar(g.sub(a, g.mean(b)), -y)));
  const ValueId t2 = g.mean(g.square(g.add_scalar(g.sub(b, g.mean(a)), y)));
  return g.mul_scalar(g.add(t1, t2), 0.5);
}

namespace {

void adam_updates(Graph& g, const std::vector<ParamSpec>& specs, const std::string& prefix,
                  const std::map<ValueId, ValueId>& grads, const std::map<std::string, ValueId>& used, double lr,
                  const StepConfig& cfg) {
  const ValueId step = g.increment(g.variable("adam." + prefix + "step", {}, DType::i64));
  for (const ParamSpec& s : specs) {
    if (!s.trainable) continue;
    const std::string name = prefix + s.key;
    const ValueId p = g.current(g.find_variable(name));
    const ValueId m = g.variable("adam." + name + ".exp_avg", s.shape);
    const ValueId v = g.variable("adam." + name + ".exp_avg_sq", s.shape);
    g.adam_update(p, grads.at(used.at(name)), m, v, step, {lr, cfg.beta1, cfg.beta2, cfg.adam_eps});
  }
}

// The versions of a network's trainable variables as read right now.
std::map<std::string, ValueId> current_params(const Graph& g, const std::vector<ParamSpec>& specs,
                                              const std::string& prefix) {
  std::map<std::string, ValueId> r;
  for (const ParamSpec& s : specs)
    if (s.trainable) r[prefix + s.key] = g.current(g.find_variable(prefix + s.key));
  return r;
}

std::vector<ValueId> values_of(const std::map<std::string, ValueId>& m) {
  std::vector<ValueId> v;
  for (const auto& [k, id] : m) v.push_back(id);
  return v;
}

}  // namespace

StepGraph build_train_step(const StepConfig& cfg, DType float_type) {
  StepGraph s;
  s.graph = std::make_shared<Graph>(float_type);
  Graph& g = *s.graph;
  const ModelConfig& mc = cfg.model;
  s.g_params = generator_params(mc);
  s.d_params = discriminator_params(mc);
  s.x_real = g.input("x_real", {cfg.batch, 3, mc.size, mc.size});
  s.z = g.input("z", {cfg.batch, mc.nz});

  // 1. D step: C_r = D(x_r), x_f = G(z), C_f = D(x_f) with x_f constant.
  s.fake = build_generator(g, mc, s.z, true);
  const auto g_used = current_params(g, s.g_params, "G.");
  const DiffAugmentPolicy& aug = cfg.diffaugment;
  auto seen_by_d = [&](ValueId x, const char* which) {
    return aug.any() ? diffaugment(g, x, aug, std::string("daug.") + which) : x;
  };
  s.c_r = build_discriminator(g, mc, seen_by_d(s.x_real, "real"), true);
  const auto d_used = current_params(g, s.d_params, "D.");
  s.c_f = build_discriminator(g, mc, seen_by_d(g.stop_gradient(s.fake), "fake"), true);
  s.loss_d = rals_loss(g, s.c_r, s.c_f, cfg.real_label);
  // Every BN activation is offered for recomputation (GradientOptions'
  // default); compile() keeps G's, which live from the start of the step to
  // the end of G's backward pass (the plan's peak), and drops D's, which live
  // across one D forward and its backward only.
  const GradientOptions go;
  const auto d_grads = gradients(g, s.loss_d, values_of(d_used), go);
  adam_updates(g, s.d_params, "D.", d_grads, d_used, cfg.lr_d, cfg);

  // 2. G step: C_f' = D(x_f) with the updated D; C_r is a constant.
  s.c_f2 = build_discriminator(g, mc, seen_by_d(s.fake, "fake_g"), true);
  s.loss_g = rals_loss(g, s.c_f2, g.stop_gradient(s.c_r), cfg.real_label);
  std::vector<ValueId> wrt = values_of(g_used);
  wrt.push_back(s.fake);
  const auto g_grads = gradients(g, s.loss_g, wrt, go);
  adam_updates(g, s.g_params, "G.", g_grads, g_used, cfg.lr_g, cfg);
  if (cfg.ema) {
    // StyleGAN2-ADA: weights p_ema.copy_(p.lerp(p_ema, beta)), in PyTorch's
    // order for beta >= 0.5: ema - (ema - p) (1 - beta), written as
    // ema + (ema - p) (beta - 1); buffers (BatchNorm's running statistics)
    // copied from G. G's batch counters move by one a step, so G_ema's are
    // incremented alongside: equal to G's, as a copy would make them.
    const ValueId beta_minus_one = g.add_scalar(g.input("ema_beta", {1}), -1.0);
    for (const ParamSpec& p : s.g_params) {
      const ValueId w = g.current(g.find_variable("G." + p.key));
      const ValueId ema =
          g.variable("G_ema." + p.key, p.shape,
                     p.dtype == DType::i64 ? std::optional(DType::i64) : std::nullopt);
      if (p.dtype == DType::i64)
        g.increment(ema);
      else if (!p.trainable)
        g.assign(ema, w);
      else
        g.assign(ema, g.add(ema, g.mul(g.sub(ema, w), beta_minus_one)));
    }
  }

  for (auto [v, name] : {std::pair{s.loss_d, "loss_d"}, {s.loss_g, "loss_g"}, {s.c_r, "C_r"}, {s.c_f, "C_f"}, {s.c_f2, "C_f2"}})
    g.mark_output(v, name);
  if (cfg.expose_gradients) {
    for (const auto& [name, v] : d_used) s.grads["grad." + name] = d_grads.at(v);
    for (const auto& [name, v] : g_used) s.grads["grad." + name] = g_grads.at(v);
    s.grads["grad.fake"] = g_grads.at(s.fake);
    for (const auto& [name, v] : s.grads) g.mark_output(v);
  }
  return s;
}

}  // namespace rg::model

namespace rg::model {

GenerateGraph build_generate_graph(const ModelConfig& cfg, int batch, DType float_type) {
  GenerateGraph r;
  r.graph = std::make_shared<Graph>(float_type);
  r.z = r.graph->input("z", {batch, cfg.nz});
  r.images = build_generator(*r.graph, cfg, r.z, false);
  r.graph->mark_output(r.images, "images");
  r.g_params = generator_params(cfg);
  return r;
}

}  // namespace rg::model
