# SPDX-License-Identifier: Apache-2.0
"""Golden data for the engine's training-step test (docs/contracts.md §3).

Run as: python3 tools/golden/make_step_golden.py [--search FIRST LAST]
(any PyTorch >= 1.13; the files record the version).
Writes tests/data/golden/step_f64.safetensors, step_f32.safetensors and
step_spread.txt. One RaLSGAN step (D update, then G update through D) at
size 64, width 0.125, nz 32, batch 4, from a float64 initial state that is also
stored, so the C++ side needs no RNG agreement.

The seeds are chosen so that the data stay clear of the step's kinks
(margins.py): every ReLU / LeakyReLU input of every forward pass, and every
D gradient (Adam's first step is about lr * sign(g), and D's update feeds
C_f2 and G's gradients), is at least MIN_MARGIN times PyTorch's own f32
error away from 0. Then any correct f32 implementation, on any CPU, lands on
the same side of every kink, and the C++ tests can hold it to rounding-level
bounds. The generator asserts the margin; --search lists seeds that meet it.
G's gradients are too many to keep clear (their signs decide only G's own
first Adam update): the tests compare those updates where the sign is
determined (see tests/onednn/test_onednn.cpp).

Tensor names:
  init.G.<key>, init.D.<key>   state_dict before the step (incl. running stats,
                               num_batches_tracked as I64)
  x_real [4,3,64,64], z [4,32] inputs (G reshapes z to [4,32,1,1])
  C_r, C_f, C_f2 [4]           D outputs: real, fake (detached), fake after D's update
  loss_d, loss_g               shape [] (0-dim)
  grad.D.<param>               d loss_d / d D params (before optD.step)
  grad.G.<param>               d loss_g / d G params
  grad.fake [4,3,64,64]        d loss_g / d G(z)
  new.G.<key>, new.D.<key>     state_dict after the step
  adam.D.<param>.exp_avg / .exp_avg_sq, adam.G.<param>.exp_avg / .exp_avg_sq
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dcgan  # noqa: E402
import margins  # noqa: E402
import st  # noqa: E402

CFG = dict(size=64, width=0.125, nz=32, batch=4, lr=8e-4, beta1=0.5, beta2=0.999, eps=1e-8,
           real_label=0.8, bn_momentum=0.1, bn_eps=1e-5, seed=7)
MIN_MARGIN = 10.0
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "golden")


def check_param_counts():
    assert dcgan.count_params(dcgan.make_G(128, 1.0, 128)) == 13_275_939
    d = dcgan.make_D(128, 1.0)
    assert dcgan.count_params(d) == 2_796_800
    assert list(d.state_dict())[-1] == "model.13.weight"
    assert list(dcgan.make_G(128, 1.0, 128).state_dict())[-1] == "model.18.bias"


def make_init(seed):
    """Model seed 100*seed, x_real seed 100*seed+1, z seed 100*seed+2 (seed 0: the
    first version of this file's data, 0/1/2)."""
    G, D = dcgan.make_models_f64(CFG["size"], CFG["width"], CFG["nz"], 100 * seed)
    torch.manual_seed(100 * seed + 1)
    x_real = torch.rand(CFG["batch"], 3, CFG["size"], CFG["size"], dtype=torch.float64) * 2 - 1
    torch.manual_seed(100 * seed + 2)
    z = torch.randn(CFG["batch"], CFG["nz"], dtype=torch.float64)
    return G, D, x_real, z


def run_both(seed):
    """The step in f64 and in f32 from the same (rounded) state, with the kink
    margins: returns r64, r32, (pre-activation margin, name), (D-gradient margin, name)."""
    G, D, x_real, z = make_init(seed)
    G32, D32 = copy.deepcopy(G).float(), copy.deepcopy(D).float()
    with margins.record_preactivations(G, D) as p64:
        r64 = run_step(G, D, x_real, z)
    with margins.record_preactivations(G32, D32) as p32:
        r32 = run_step(G32, D32, x_real.float(), z.float())
    assert len(p64) == len(p32)
    pre = margins.worst_margin(("%s #%d" % (a[0], i), a[1], b[1]) for i, (a, b) in enumerate(zip(p64, p32)))
    dgr = margins.worst_margin((n, r64[n], r32[n]) for n in r64 if n.startswith("grad.D."))
    return r64, r32, pre, dgr


def capture_states(out, prefix, **nets):
    """Copies each net's state_dict into out as "<prefix><tag>.<key>" (tag: the keyword)."""
    for tag, net in nets.items():
        for n, t in net.state_dict().items():
            out[prefix + tag + "." + n] = t.clone()


def run_step(G, D, x_real, z):
    """One training step, exactly docs/contracts.md §3. Returns {name: tensor}."""
    out = {}
    capture_states(out, "init.", G=G, D=D)
    out["x_real"], out["z"] = x_real.clone(), z.clone()
    G.train()
    D.train()
    betas = (CFG["beta1"], CFG["beta2"])
    optD = torch.optim.Adam(D.parameters(), lr=CFG["lr"], betas=betas, eps=CFG["eps"])
    optG = torch.optim.Adam(G.parameters(), lr=CFG["lr"], betas=betas, eps=CFG["eps"])
    y = CFG["real_label"]

    def d_grads():
        for n, p in D.named_parameters():
            out["grad.D." + n] = p.grad.detach().clone()

    def g_grads(fake):
        for n, p in G.named_parameters():
            out["grad.G." + n] = p.grad.detach().clone()
        out["grad.fake"] = fake.grad.detach().clone()

    _, C_r, C_f, C_f2, loss_d, loss_g = dcgan.rals_step(G, D, optG, optD, x_real, z, y, on_d_grads=d_grads,
                                                        on_g_grads=g_grads)

    out["C_r"], out["C_f"], out["C_f2"] = C_r.detach().clone(), C_f.detach().clone(), C_f2.detach().clone()
    out["loss_d"], out["loss_g"] = loss_d.detach().clone(), loss_g.detach().clone()
    capture_states(out, "new.", G=G, D=D)
    for tag, net, opt in (("D", D, optD), ("G", G, optG)):
        for n, p in net.named_parameters():
            s = opt.state[p]
            out[f"adam.{tag}.{n}.exp_avg"] = s["exp_avg"].clone()
            out[f"adam.{tag}.{n}.exp_avg_sq"] = s["exp_avg_sq"].clone()
    return out


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    check_param_counts()
    if len(sys.argv) == 4 and sys.argv[1] == "--search":
        for seed in range(int(sys.argv[2]), int(sys.argv[3])):
            _, _, pre, dgr = run_both(seed)
            ok = min(pre[0], dgr[0]) >= MIN_MARGIN
            print("seed %d: pre-activation margin %.2f (%s), D gradient margin %.2f (%s)%s" % (
                seed, pre[0], pre[1], dgr[0], dgr[1], "  <- meets %g" % MIN_MARGIN if ok else ""), flush=True)
        return
    r64, r32, pre, dgr = run_both(CFG["seed"])
    print("kink margins (x PyTorch's max f32 error): pre-activations %.2f at %s, D gradients %.2f at %s" % (
        pre[0], pre[1], dgr[0], dgr[1]))
    assert pre[0] >= MIN_MARGIN and dgr[0] >= MIN_MARGIN, "seed too close to a kink: use --search"
    # The f32 run starts from exactly the f64 initial values, rounded.
    for n, t in r64.items():
        if n.startswith("init.") or n in ("x_real", "z"):
            assert torch.equal(r32[n], t.to(r32[n].dtype)), n

    meta = {k: repr(v) for k, v in CFG.items()}
    meta.update(torch=torch.__version__, step="RaLSGAN docs/contracts.md §3, one step, train mode",
                init="PyTorch default init, torch.manual_seed(100*seed), float64; BN weight=1+0.1*randn, "
                     "bias=0.1*randn, running_mean=0.1*randn, running_var=1+0.1*rand",
                inputs="x_real=rand*2-1 (seed 100*seed+1), z=randn [batch,nz] (seed 100*seed+2), "
                       "G input z.view(batch,nz,1,1)",
                kink_margin="pre-activations %.3g x f32 error (%s), D gradients %.3g (%s); required %g" % (
                    pre[0], pre[1], dgr[0], dgr[1], MIN_MARGIN),
                loss_shape="[]")
    os.makedirs(OUT, exist_ok=True)
    st.save_file(r64, os.path.join(OUT, "step_f64.safetensors"), dict(meta, dtype="float64"))
    st.save_file(r32, os.path.join(OUT, "step_f32.safetensors"), dict(meta, dtype="float32"))

    lines = ["# PyTorch %s: f32 vs f64 for one step. rel = ||t32 - t64|| / ||t64||;" % torch.__version__,
             "# for new.* also rel_update = ||(new32-init32) - (new64-init64)|| / ||new64-init64||"]
    worst = ("", 0.0)
    worst_upd = ("", 0.0)
    for n in sorted(r64):
        t64 = r64[n]
        if not t64.is_floating_point() or not (n.startswith("grad.") or n.startswith("new.") or
                                               n in ("C_r", "C_f", "C_f2", "loss_d", "loss_g")):
            continue
        t32 = r32[n].double()
        den = t64.norm().item()
        rel = (t32 - t64).norm().item() / den if den > 0 else (t32 - t64).norm().item()
        line = "%-40s rel %.3e" % (n, rel)
        if rel > worst[1]:
            worst = (n, rel)
        if n.startswith("new."):
            key = n[4:]
            d64 = t64 - r64["init." + key]
            d32 = t32 - r32["init." + key].double()
            dn = d64.norm().item()
            ru = (d32 - d64).norm().item() / dn if dn > 0 else 0.0
            line += "  rel_update %.3e" % ru
            if ru > worst_upd[1]:
                worst_upd = (n, ru)
        lines.append(line)
    lines.append("max rel %.3e (%s)" % (worst[1], worst[0]))
    lines.append("max rel_update %.3e (%s)" % (worst_upd[1], worst_upd[0]))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(os.path.join(OUT, "step_spread.txt"), "w") as f:
        f.write(text)
    for name in ("step_f64.safetensors", "step_f32.safetensors"):
        p = os.path.join(OUT, name)
        print("%s: %d bytes" % (p, os.path.getsize(p)))


if __name__ == "__main__":
    main()
