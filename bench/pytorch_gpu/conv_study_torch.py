#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch's side of the convolution study (bench/cuda/conv_study.cpp).

Times every convolution problem of the seed training step, read from
`conv_study --list` so the shapes are exactly ours, through the calls PyTorch
itself makes for them (F.conv2d; torch.nn.grad.conv2d_input, which is
ConvTranspose2d's and conv2d's input gradient; torch.nn.grad.conv2d_weight),
with cudnn.benchmark on, in each configuration:
  nchw/nhwc (channels_last) x f32 (no TF32) / tf32 / bf16 x deterministic or not.
Prints one JSON line per (problem, configuration) and, per configuration, the
step's sum (each problem's time times its count), to set against
conv_study's fastest cuDNN algorithms:
    conv_study --list > problems.jsonl
    conv_study_torch.py problems.jsonl [--device cuda] [--iters 20] [--problems N]
--device cpu is a dry run of the script (small iteration counts make sense there).
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

CONFIGS = [
    # name, memory format, dtype, allow_tf32, deterministic
    ("nchw-f32", torch.contiguous_format, torch.float32, False, True),
    ("nchw-tf32", torch.contiguous_format, torch.float32, True, True),
    ("nhwc-tf32", torch.channels_last, torch.float32, True, True),
    ("nchw-bf16", torch.contiguous_format, torch.bfloat16, False, True),
    ("nhwc-bf16", torch.channels_last, torch.bfloat16, False, True),
    ("nchw-tf32-nondet", torch.contiguous_format, torch.float32, True, False),
    ("nhwc-tf32-nondet", torch.channels_last, torch.float32, True, False),
    ("nhwc-bf16-nondet", torch.channels_last, torch.bfloat16, False, False),
]


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def run_problem(p, fmt, dtype, device, iters):
    n, ci, h, w = p["x"]
    _, co, ho, wo = p["y"]
    kh, kw = p["k"]
    stride, pad = tuple(p["stride"]), tuple(p["pad"])
    g = torch.Generator(device="cpu").manual_seed(p["problem"])

    def rand(*shape):
        t = torch.rand(*shape, generator=g) * 2 - 1
        t = t.to(device=device, dtype=dtype)
        return t.contiguous(memory_format=fmt) if t.dim() == 4 else t

    x, wt, dy = rand(n, ci, h, w), rand(co, ci, kh, kw), rand(n, co, ho, wo)
    if p["op"] == "forward":
        fn = lambda: F.conv2d(x, wt, stride=stride, padding=pad)
    elif p["op"] == "backward-data":
        fn = lambda: torch.nn.grad.conv2d_input(x.shape, wt, dy, stride=stride, padding=pad)
    else:
        fn = lambda: torch.nn.grad.conv2d_weight(x, wt.shape, dy, stride=stride, padding=pad)
    with torch.no_grad():
        for _ in range(3):  # cudnn.benchmark chooses on the first call
            fn()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync(device)
    return (time.perf_counter() - t0) * 1e3 / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("problems")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--problems", type=int, default=1000, dest="limit")
    a = ap.parse_args()
    problems = [json.loads(l) for l in open(a.problems) if l.startswith('{"problem"')][: a.limit]
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("conv_study_torch: no CUDA device")
    dev = torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"
    torch.backends.cudnn.benchmark = True
    for name, fmt, dtype, tf32, det in CONFIGS:
        if a.device == "cpu" and dtype == torch.bfloat16:
            continue
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.deterministic = det
        total, failed = 0.0, 0
        for p in problems:
            try:
                ms = run_problem(p, fmt, dtype, a.device, a.iters)
            except RuntimeError as e:  # say so, go on with the rest
                failed += 1
                print(json.dumps({"bench": "conv_study_torch", "problem": p["problem"], "config": name, "error": str(e)[:200]}))
                continue
            total += ms * p["count"]
            print(json.dumps({"bench": "conv_study_torch", "problem": p["problem"], "op": p["op"], "count": p["count"],
                              "config": name, "ms": round(ms, 5), "tflops": round(p["gflop"] / ms, 2) if ms > 0 else 0}))
            sys.stdout.flush()
        print(json.dumps({"bench": "conv_study_torch_step", "config": name, "deterministic": det, "device": dev,
                          "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "problems": len(problems),
                          "failed": failed, "step_ms": round(total, 3)}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
