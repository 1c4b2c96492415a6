#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch throughput of the same network (FIDInceptionV3, random weights) for
comparison with apps/metrics/inception_bench. Usage:
    python3 tools/inception/bench_torch.py [images=16] [batch=8] [size=128] [threads=2]"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fid_inception import FIDInceptionV3, randomize  # noqa: E402

n, batch, size, threads = [int(a) for a in (sys.argv[1:] + ["16", "8", "128", "2"][len(sys.argv) - 1:])][:4]
torch.set_num_threads(threads)
model = randomize(FIDInceptionV3(1.0), 5)
x = torch.rand(n, 3, size, size)
with torch.no_grad():
    model(x[:batch])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        model(x[i:i + batch])
    dt = time.perf_counter() - t0
print(f"pytorch {torch.__version__}: {n} images {size}x{size}, batch {batch}, {threads} threads: "
      f"{dt:.2f} s, {n / dt:.3f} images/s")
