# SPDX-License-Identifier: Apache-2.0
"""PyTorch eager competitor for bench/runtime: the DCGAN generator's forward
pass (eval mode, torch.no_grad, NCHW float32) with ONE thread, at the shapes
of bench_runtime: (size, width, batch) = (32, 0.25, 1), (32, 0.25, 64),
(128, 1, 1). Prints one JSON object {"torch": version, "threads": 1,
"results": {"gen/<size>/<width x 100>/<batch>": seconds per batch}}.

Usage: /root/torchvenv/bin/python bench/pytorch/bench_generator_eager.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "golden"))
from bench_torch import timeit  # noqa: E402
import dcgan  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.manual_seed(1)
    results = {}
    for size, width, batch in ((32, 0.25, 1), (32, 0.25, 64), (128, 1.0, 1)):
        G = dcgan.make_G(size, width, 128).eval()
        z = torch.randn(batch, 128, 1, 1)
        with torch.no_grad():
            results[f"gen/{size}/{int(width * 100)}/{batch}"] = timeit(lambda: G(z), min_time=2.0, min_iters=5)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
