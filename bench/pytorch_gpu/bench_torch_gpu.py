#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch GPU baseline for the CUDA backend's benchmark (bench/cuda/bench_cuda.cpp).

Same shapes and measurements, one JSON object per line on stdout:
  train_step: the seed model (docs/contracts.md §2, size 128, width 1, nz 128), the whole
              RaLSGAN step of docs/contracts.md §3 at batch 64 (D step on C(x_r), C(G(z))
              with x_f detached; Adam on D; G step on C(x_f) with the updated D
              and C(x_r) from before the update as a constant; Adam on G; BN in
              training mode). As the seed, the G step's backward also fills D's
              .grad, which the next step's zero_grad discards.
  generate:   G in eval mode under torch.inference_mode, --gen-count images in
              batches of --gen-batch; "with_copy" uploads host latents and copies
              float images to the host, the plain way (G(z.to(dev)).cpu(), pageable
              memory, one batch at a time); "with_copy_pinned" does the same as
              bench_cuda's with_copy (pinned buffers, non_blocking copies, each
              batch's download on a copy stream overlapping the next batch);
              "device" does neither.
              PNG encoding is excluded.
Modes (--mode): eager_f32 (cudnn.allow_tf32 = False), eager_tf32 (PyTorch's
default: cudnn.allow_tf32 = True), eager_bf16 (mixed precision as the AMP
recipe has it: forward passes and losses under
torch.autocast(dtype=torch.bfloat16), backward and Adam outside it, f32
weights; no GradScaler, which bf16 does not need), compile (torch.compile of
G and D with PyTorch's default precision, i.e. TF32 convolutions).
"""
import argparse
import contextlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "golden"))
import dcgan  # noqa: E402


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def emit(d):
    print(json.dumps(d), flush=True)


def set_precision(mode):
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.allow_tf32 = mode != "eager_f32"
    torch.backends.cuda.matmul.allow_tf32 = False


def autocast(mode, dev):
    if mode == "eager_bf16":
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_models(size, dev):
    torch.manual_seed(1)
    G = dcgan.make_G(size, 1.0, 128).to(dev)
    D = dcgan.make_D(size, 1.0).to(dev)
    return G, D


def bench_step(mode, batch, size, iters, dev):
    G, D = make_models(size, dev)
    G.train()
    D.train()
    optG = torch.optim.Adam(G.parameters(), lr=8e-4, betas=(0.5, 0.999), eps=1e-8)
    optD = torch.optim.Adam(D.parameters(), lr=8e-4, betas=(0.5, 0.999), eps=1e-8)
    Gm, Dm = (torch.compile(G), torch.compile(D)) if mode == "compile" else (G, D)
    y = 0.8
    x_r = torch.rand(batch, 3, size, size, device=dev) * 2 - 1
    z = torch.randn(batch, 128, device=dev)

    def step():  # zero_grad sets the gradients to None (the default since torch 2.0)
        *_, loss_d, loss_g = dcgan.rals_step(Gm, Dm, optG, optD, x_r, z, y, autocast=lambda: autocast(mode, dev))
        return loss_d, loss_g

    t0 = time.perf_counter()
    step()
    sync(dev)
    first = time.perf_counter() - t0
    for _ in range(3):
        step()
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(iters):
        ld, lg = step()
    sync(dev)
    ms = (time.perf_counter() - t0) * 1e3 / iters
    gflop = 424.0 * batch / 64.0 * (size * size) / (128.0 * 128.0)
    emit(dict(bench="train_step", impl="pytorch", mode=mode, batch=batch, size=size, iters=iters, ms_per_step=round(ms, 4),
              steps_per_s=round(1e3 / ms, 3), tflops=round(gflop / ms, 2), first_run_s=round(first, 3),
              loss_d=float(ld.detach()), loss_g=float(lg.detach())))


def bench_generate(mode, size, count, batch, dev):
    G, _ = make_models(size, dev)
    G.eval()
    Gc = torch.compile(G) if mode == "compile" else G

    def Gm(z):  # f32 images, as ours (bf16: G under autocast, images widened to f32)
        with autocast(mode, dev):
            return Gc(z).float()

    batches = (count + batch - 1) // batch
    g = torch.Generator().manual_seed(7)
    zs = [torch.randn(batch, 128, generator=g) for _ in range(batches)]
    with torch.inference_mode():
        zd = zs[0].to(dev)
        for _ in range(3):
            Gm(zd)
        sync(dev)
        t0 = time.perf_counter()
        checksum = 0.0
        for b in range(batches):
            img = Gm(zs[b].to(dev)).cpu()
            checksum += float(img[0, 0, 0, 0])
        with_copy = batches * batch / (time.perf_counter() - t0)
        # The same with pinned host buffers and two batches in flight (as
        # bench_cuda's with_copy): latents up non_blocking, each batch's images
        # down on a copy stream while the next batch computes.
        with_copy_pinned = None
        if dev.type == "cuda":
            zpin = torch.stack(zs).pin_memory()
            out = [torch.empty(batch, 3, size, size).pin_memory() for _ in range(2)]
            copy_stream = torch.cuda.Stream()
            done = [None, None]
            sync(dev)
            t0 = time.perf_counter()
            checksum2 = 0.0
            for b in range(batches):
                s = b % 2
                if done[s] is not None:  # batch b - 2 is on the host; its buffer may be reused
                    done[s].synchronize()
                    checksum2 += float(out[s][0, 0, 0, 0])
                img = Gm(zpin[b].to(dev, non_blocking=True))
                computed = torch.cuda.Event()
                computed.record()
                with torch.cuda.stream(copy_stream):
                    copy_stream.wait_event(computed)
                    out[s].copy_(img, non_blocking=True)
                    img.record_stream(copy_stream)
                    done[s] = torch.cuda.Event()
                    done[s].record(copy_stream)
            for s in range(2):
                if done[s] is not None:
                    done[s].synchronize()
            with_copy_pinned = batches * batch / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for b in range(batches):
            Gm(zd)
        sync(dev)
        device = batches * batch / (time.perf_counter() - t0)
    emit(dict(bench="generate", impl="pytorch", mode=mode, size=size, count=batches * batch, batch=batch,
              images_per_s_with_copy=round(with_copy, 1),
              images_per_s_with_copy_pinned=round(with_copy_pinned, 1) if with_copy_pinned else None,
              images_per_s_device=round(device, 1),
              tflops_device=round(device * 1.375e-3 * (size * size) / (128.0 * 128.0), 2), note="PNG encoding excluded"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", action="append", choices=["eager_f32", "eager_tf32", "eager_bf16", "compile"],
                    help="repeatable; default: eager_f32 and eager_tf32")
    ap.add_argument("--what", default="all", choices=["all", "step", "generate"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--step-iters", type=int, default=20)
    ap.add_argument("--gen-count", type=int, default=10000)
    ap.add_argument("--gen-batch", type=int, default=500)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script (timings meaningless)")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("bench_torch_gpu: no CUDA GPU", file=sys.stderr)
        return 1
    dev = torch.device(a.device)
    emit(dict(device=torch.cuda.get_device_name(0) if a.device == "cuda" else a.device, torch=torch.__version__,
              cudnn=torch.backends.cudnn.version()))
    for mode in a.mode or ["eager_f32", "eager_tf32"]:
        set_precision(mode)
        if a.what in ("all", "step"):
            bench_step(mode, a.batch, a.size, a.step_iters, dev)
        if a.what in ("all", "generate"):
            bench_generate(mode, a.size, a.gen_count, a.gen_batch, dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
