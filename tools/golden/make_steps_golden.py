# SPDX-License-Identifier: Apache-2.0
"""Golden data for three consecutive training steps (docs/contracts.md §3): Adam's
moments and bias corrections past the first step, running statistics and
counters accumulating, G's update flowing through each freshly updated D.

Run as: python3 tools/golden/make_steps_golden.py [--search FIRST LAST]
(any PyTorch >= 1.13; the file records the version).
Writes tests/data/golden/steps3_f64.safetensors:
  init.G.<key>, init.D.<key>       state before step 0 (F64; counters I64); Adam starts at zero
  x_real.<s>, z.<s>                 inputs of step s = 0, 1, 2 ([4,3,32,32], [4,32])
  loss_d.<s>, loss_g.<s>            F64, shape []
  after.G.<key>, after.D.<key>      state after step 2
  after.adam.<G|D>.<param>.exp_avg / .exp_avg_sq
  spread.<name>                     F64 [1]: ||torch f32 - f64|| / ||f64|| for each
                                    tensor above (loss_*, after.*), PyTorch's own f32 run
                                    of the same three steps from the rounded f64 state
  spread_update.after.<G|D>.<key>   the same for the update after - init
Size 32, width 0.125, nz 32, batch 4, lr 8e-4, betas (0.5, 0.999), eps 1e-8.

The seed keeps the run clear of its kinks (margins.py): every ReLU /
LeakyReLU input of every forward pass of the three steps, and every gradient
of step 0 (Adam's first update is about lr * sign(g); later updates are
continuous in the gradients once the first one is decided) are at least
MIN_MARGIN times PyTorch's own f32 error away from 0. So any correct f32
implementation follows the f64 run without flipping a kink, and the C++ tests
(tests/ref/test_step_golden.cpp, GoldenSteps; tests/onednn/test_onednn.cpp,
GoldenStep.ThreeStepsStayWithinPyTorchsOwnF32Spread) can hold all of it to rounding-level bounds.
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dcgan  # noqa: E402
import margins  # noqa: E402
import st  # noqa: E402

CFG = dict(size=32, width=0.125, nz=32, batch=4, steps=3, lr=8e-4, beta1=0.5, beta2=0.999, eps=1e-8,
           real_label=0.8, bn_momentum=0.1, bn_eps=1e-5, seed=786)
MIN_MARGIN = 10.0
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "golden", "steps3_f64.safetensors")


def make_init(seed):
    """f64 models (seed 100*seed) and inputs of each step (seeds 100*seed + 10 + s, + 20 + s)."""
    G, D = dcgan.make_models_f64(CFG["size"], CFG["width"], CFG["nz"], 100 * seed)
    xs, zs = [], []
    for s in range(CFG["steps"]):
        torch.manual_seed(100 * seed + 10 + s)
        xs.append(torch.rand(CFG["batch"], 3, CFG["size"], CFG["size"], dtype=torch.float64) * 2 - 1)
        torch.manual_seed(100 * seed + 20 + s)
        zs.append(torch.randn(CFG["batch"], CFG["nz"], dtype=torch.float64))
    return G, D, xs, zs


def train(G, D, xs, zs, dtype):
    """The steps with one Adam per net kept across them. Returns results and the
    step-0 gradients (name -> tensor)."""
    G.train()
    D.train()
    betas = (CFG["beta1"], CFG["beta2"])
    optD = torch.optim.Adam(D.parameters(), lr=CFG["lr"], betas=betas, eps=CFG["eps"])
    optG = torch.optim.Adam(G.parameters(), lr=CFG["lr"], betas=betas, eps=CFG["eps"])
    out, grads0 = {}, {}
    for s in range(CFG["steps"]):
        def d_grads(s=s):
            if s == 0:
                grads0.update({"D." + n: p.grad.detach().clone() for n, p in D.named_parameters()})

        def g_grads(fake, s=s):
            if s == 0:
                grads0.update({"G." + n: p.grad.detach().clone() for n, p in G.named_parameters()})

        *_, loss_d, loss_g = dcgan.rals_step(G, D, optG, optD, xs[s].to(dtype), zs[s].to(dtype), CFG["real_label"],
                                             on_d_grads=d_grads, on_g_grads=g_grads)
        out["loss_d.%d" % s] = loss_d.detach().clone()
        out["loss_g.%d" % s] = loss_g.detach().clone()
    for tag, net, opt in (("G", G, optG), ("D", D, optD)):
        for n, t in net.state_dict().items():
            out["after.%s.%s" % (tag, n)] = t.clone()
        for n, p in net.named_parameters():
            out["after.adam.%s.%s.exp_avg" % (tag, n)] = opt.state[p]["exp_avg"].clone()
            out["after.adam.%s.%s.exp_avg_sq" % (tag, n)] = opt.state[p]["exp_avg_sq"].clone()
    return out, grads0


def run_both(seed):
    G, D, xs, zs = make_init(seed)
    G32, D32 = copy.deepcopy(G).float(), copy.deepcopy(D).float()
    init = {"init.G." + k: v.clone() for k, v in G.state_dict().items()}
    init.update({"init.D." + k: v.clone() for k, v in D.state_dict().items()})
    with margins.record_preactivations(G, D) as p64:
        r64, g64 = train(G, D, xs, zs, torch.float64)
    with margins.record_preactivations(G32, D32) as p32:
        r32, g32 = train(G32, D32, xs, zs, torch.float32)
    assert len(p64) == len(p32)
    pre = margins.worst_margin(("%s #%d" % (a[0], i), a[1], b[1]) for i, (a, b) in enumerate(zip(p64, p32)))
    grad = margins.worst_margin(("grad0." + n, g64[n], g32[n]) for n in g64)
    return init, xs, zs, r64, r32, pre, grad


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if len(sys.argv) == 4 and sys.argv[1] == "--search":
        for seed in range(int(sys.argv[2]), int(sys.argv[3])):
            *_, pre, grad = run_both(seed)
            ok = min(pre[0], grad[0]) >= MIN_MARGIN
            print("seed %d: pre-activations %.2f (%s), step-0 gradients %.2f (%s)%s" % (
                seed, pre[0], pre[1], grad[0], grad[1], "  <- meets %g" % MIN_MARGIN if ok else ""), flush=True)
        return
    init, xs, zs, r64, r32, pre, grad = run_both(CFG["seed"])
    print("kink margins (x PyTorch's max f32 error): pre-activations %.2f at %s, step-0 gradients %.2f at %s" % (
        pre[0], pre[1], grad[0], grad[1]))
    assert pre[0] >= MIN_MARGIN and grad[0] >= MIN_MARGIN, "seed too close to a kink: use --search"
    out = dict(init)
    for s in range(CFG["steps"]):
        out["x_real.%d" % s], out["z.%d" % s] = xs[s], zs[s]
    worst = ("", 0.0)
    for n, t in r64.items():
        out[n] = t
        if not t.is_floating_point():
            assert torch.equal(t, r32[n]), n
            continue
        den = t.norm().item()
        d = (r32[n].double() - t).norm().item()
        rel = d / den if den > 0 else d
        out["spread." + n] = torch.tensor([rel], dtype=torch.float64)
        if n.startswith("after.G.") or n.startswith("after.D."):  # the three steps' update, init -> after
            i = init["init." + n[len("after."):]]
            u64, u32 = t - i, r32[n].double() - i
            den = u64.norm().item()
            out["spread_update." + n] = torch.tensor([(u32 - u64).norm().item() / den if den > 0 else 0.0],
                                                     dtype=torch.float64)
        if rel > worst[1]:
            worst = (n, rel)
    meta = {k: repr(v) for k, v in CFG.items()}
    meta.update(torch=torch.__version__, dtype="float64",
                kink_margin="pre-activations %.3g x f32 error (%s), step-0 gradients %.3g (%s); required %g" % (
                    pre[0], pre[1], grad[0], grad[1], MIN_MARGIN),
                spread_max="%.3e (%s)" % (worst[1], worst[0]))
    st.save_file(out, OUT, meta)
    for s in range(CFG["steps"]):
        print("step %d: loss_d %.10f loss_g %.10f" % (s, r64["loss_d.%d" % s].item(), r64["loss_g.%d" % s].item()))
    print("PyTorch f32 vs f64 after %d steps: worst %.3e (%s)" % (CFG["steps"], worst[1], worst[0]))
    print("%s: %d bytes" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
