# SPDX-License-Identifier: Apache-2.0
"""PyTorch competitor for bench/onednn: the same convolutions (batch 64,
forward / backward-data / backward-weights), the whole RaLSGAN training step of
docs/contracts.md §3 (batch 64, size 128, seed model), and generator forward (batch 64
and 256) in its fastest variant among eager, channels_last, TorchScript
freeze, optimize_for_mobile and torch.compile (where available).

Usage: python bench_torch.py [--threads 2] [--only conv,train,gen] [--out FILE.json]
                             [--train-variants eager,channels_last] [--bf16]
Prints one JSON object: {"torch": version, "results": {name: seconds per iteration}, ...}.
The training step runs in each variant (eager NCHW, channels_last) and
train_step/64 is the faster; --bf16 wraps forward passes and losses in
torch.autocast("cpu", dtype=torch.bfloat16). Names match bench_onednn's.
The competitor is the current PyTorch from PyPI (bench/run_cpu_tiers.sh).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "golden"))
import dcgan  # noqa: E402


def timeit(fn, min_time=0.3, min_iters=1, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < min_iters or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def layers():
    L = [("G0_128x1024_1to4", True, 128, 1024, 1, 4, 1, 0)]
    h, c = 4, 1024
    while c > 32:
        L.append((f"G_{c}x{c // 2}_{h}to{2 * h}", True, c, c // 2, h, 4, 2, 1))
        c //= 2
        h *= 2
    L.append(("G6_32x3_128k3", True, 32, 3, 128, 3, 1, 1))
    cin, h, c = 3, 128, 32
    while c <= 512:
        L.append((f"D_{cin}x{c}_{h}to{h // 2}", False, cin, c, h, 4, 2, 1))
        cin = c
        c *= 2
        h //= 2
    L.append(("D5_512x1_4to1", False, 512, 1, 4, 4, 1, 0))
    return L


def bench_convs(res):
    N = 64
    with torch.no_grad():
        for name, tr, cin, cout, hin, k, s, p in layers():
            hout = (hin - 1) * s - 2 * p + k if tr else (hin + 2 * p - k) // s + 1
            x = torch.randn(N, cin, hin, hin)
            w = torch.randn(cin, cout, k, k) * 0.05 if tr else torch.randn(cout, cin, k, k) * 0.05
            dy = torch.randn(N, cout, hout, hout)
            fwd = (lambda: F.conv_transpose2d(x, w, stride=s, padding=p)) if tr else (lambda: F.conv2d(x, w, stride=s, padding=p))

            def bwd(mask):
                return torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], tr, [0, 0], 1, mask)

            # conv geometry: flops = 2 * numel(conv output) * Cin(conv) * k * k
            flops = 2.0 * (N * cin * hin * hin if tr else N * cout * hout * hout) * (cout if tr else cin) * k * k
            for tag, fn in (("fwd", fwd), ("bwd_data", lambda: bwd([True, False, False])),
                            ("bwd_weights", lambda: bwd([False, True, False]))):
                t = timeit(fn)
                res[f"conv/{name}/{tag}"] = {"s": t, "gflops": flops / t / 1e9}
                print(f"  conv/{name}/{tag}: {t * 1e3:.1f} ms {flops / t / 1e9:.1f} GFLOP/s", file=sys.stderr)


AUTOCAST = None  # --bf16: a torch.autocast factory around each forward pass and loss


def train_step_fn(batch, size=128, channels_last=False):
    torch.manual_seed(0)
    G, D = dcgan.make_G(size, 1.0, 128), dcgan.make_D(size, 1.0)
    G.train()
    D.train()
    x_real = torch.rand(batch, 3, size, size) * 2 - 1
    z = torch.randn(batch, 128, 1, 1)
    if channels_last:  # PyTorch's recommended layout for CNNs on CPU (oneDNN's blocked kernels)
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        x_real = x_real.contiguous(memory_format=torch.channels_last)
        z = z.contiguous(memory_format=torch.channels_last)
    optD = torch.optim.Adam(D.parameters(), lr=8e-4, betas=(0.5, 0.999), eps=1e-8)
    optG = torch.optim.Adam(G.parameters(), lr=8e-4, betas=(0.5, 0.999), eps=1e-8)
    y = 0.8

    def step():  # docs/contracts.md §3
        *_, loss_d, loss_g = dcgan.rals_step(G, D, optG, optD, x_real, z, y, autocast=AUTOCAST)
        return loss_d.item(), loss_g.item()

    return step


def bench_train(res, batch=64, iters=2, variants=("eager", "channels_last")):
    """The training step in each layout; train_step/<batch> is the faster (what a
    user who tried both would run)."""
    best = None
    for v in variants:
        step = train_step_fn(batch, channels_last=v == "channels_last")
        t = timeit(step, min_time=0, min_iters=iters, warmup=1)
        res[f"train_step/{batch}/{v}"] = {"s": t, "gflops": 424e9 * batch / 64 / t / 1e9, "img_per_s": batch / t}
        print(f"  train_step/{batch}/{v}: {t:.2f} s", file=sys.stderr)
        if best is None or t < best[1]:
            best = (v, t)
        del step
    res[f"train_step/{batch}"] = {"s": best[1], "gflops": 424e9 * batch / 64 / best[1] / 1e9,
                                  "img_per_s": batch / best[1], "variant": best[0]}


def generator_variants(batch):
    torch.manual_seed(0)
    G = dcgan.make_G(128, 1.0, 128).eval()
    z = torch.randn(batch, 128, 1, 1)
    out = {"eager": lambda: G(z)}
    Gc = dcgan.make_G(128, 1.0, 128).eval().to(memory_format=torch.channels_last)
    Gc.load_state_dict(G.state_dict())
    zc = z.contiguous(memory_format=torch.channels_last)
    out["channels_last"] = lambda: Gc(zc)
    try:
        fr = torch.jit.freeze(torch.jit.script(G))
        out["torchscript_freeze"] = lambda: fr(z)
    except Exception as e:  # noqa: BLE001
        print("  (torchscript freeze unavailable: %s)" % e, file=sys.stderr)
    try:
        from torch.utils.mobile_optimizer import optimize_for_mobile
        mo = optimize_for_mobile(torch.jit.script(G))
        out["optimize_for_mobile"] = lambda: mo(z)
    except Exception as e:  # noqa: BLE001
        print("  (optimize_for_mobile unavailable: %s)" % e, file=sys.stderr)
    if hasattr(torch, "compile") and not os.environ.get("RG_NO_COMPILE"):
        try:
            co = torch.compile(G)
            with torch.no_grad():
                co(z)
            out["torch_compile"] = lambda: co(z)
        except Exception as e:  # noqa: BLE001
            print("  (torch.compile unavailable: %s)" % str(e).splitlines()[0], file=sys.stderr)
    return out


def bench_gen(res, batches=(64, 256)):
    for b in batches:
        best = None
        with torch.no_grad():
            for vname, fn in generator_variants(b).items():
                t = timeit(fn, min_time=1.0 if b == 64 else 0, min_iters=2)
                res[f"generate/{b}/{vname}"] = {"s": t, "img_per_s": b / t, "gflops": 1.375 * b / t}
                print(f"  generate/{b}/{vname}: {t:.3f} s {b / t:.1f} img/s", file=sys.stderr)
                if best is None or t < best[1]:
                    best = (vname, t)
        res[f"generate/{b}"] = {"s": best[1], "img_per_s": b / best[1], "gflops": 1.375 * b / best[1], "variant": best[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="conv,train,gen")
    ap.add_argument("--out")
    ap.add_argument("--train-variants", default="eager,channels_last")
    ap.add_argument("--bf16", action="store_true", help="torch.autocast('cpu', dtype=torch.bfloat16) around the step")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    res = {}
    parts = a.only.split(",")
    if "conv" in parts:
        bench_convs(res)
    if "gen" in parts:
        bench_gen(res)
    if "train" in parts:
        if a.bf16:
            global AUTOCAST
            AUTOCAST = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
        bench_train(res, variants=tuple(a.train_variants.split(",")))
    blas = "?"
    try:
        cfg = torch.__config__.show()
        blas = [l.strip() for l in cfg.splitlines() if "BLAS_INFO" in l or "BLAS" in l][:1]
    except Exception:  # noqa: BLE001
        pass
    doc = {"torch": torch.__version__, "threads": a.threads, "blas": blas, "bf16": a.bf16,
           "cpu_capability": getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "?")(),
           "results": res}
    text = json.dumps(doc, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
