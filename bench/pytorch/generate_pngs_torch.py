#!/usr/bin/python3
"""The `ralsgan generate` job done in PyTorch, for the CPU comparison of issue 5.

Loads a generator state_dict (our generator.safetensors, PyTorch's names),
generates N images in batches in eval mode under torch.inference_mode, and
writes each as an 8-bit RGB PNG with PIL, as a competent PyTorch user would.
Quantisation as DESIGN B5. Prints one JSON line with images/s.

  /usr/bin/time -v /usr/bin/python3 bench/pytorch/generate_pngs_torch.py \
      --checkpoint RUN/checkpoint/generator.safetensors --out /tmp/torch_pngs --count 10000 --threads 2
"""
import argparse, json, math, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "golden"))
import numpy as np
import torch
from PIL import Image

import dcgan, st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variant", default="eager", choices=["eager", "channels_last", "script_freeze"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd, _ = st.load_file(a.checkpoint)
    nz = sd["model.0.weight"].shape[0]
    nb = sum(k.endswith("running_mean") for k in sd) - 1
    size = 4 << nb
    width = sd["model.0.weight"].shape[1] / (32 << nb)
    G = dcgan.make_G(size, width, nz)
    G.load_state_dict(sd)
    G.eval()
    if a.variant == "channels_last":
        G = G.to(memory_format=torch.channels_last)
    elif a.variant == "script_freeze":
        G = torch.jit.freeze(torch.jit.script(G))
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    t0 = time.time()
    net = 0.0
    with torch.inference_mode():
        for start in range(0, a.count, a.batch):
            n = min(a.batch, a.count - start)
            z = torch.randn(n, nz, 1, 1)
            t = time.time()
            x = G(z)
            net += time.time() - t
            px = torch.clamp(torch.floor((x.double() + 1) * 127.5 + 0.5), 0, 255).to(torch.uint8)
            px = px.permute(0, 2, 3, 1).contiguous().numpy()
            for j in range(n):
                Image.fromarray(px[j], "RGB").save(os.path.join(a.out, "image_%05d.png" % (start + j)))
    total = time.time() - t0
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "variant": a.variant, "count": a.count,
                      "size": size, "width": width, "threads": a.threads, "seconds": round(total, 3),
                      "images_per_s": round(a.count / total, 2), "network_seconds": round(net, 3)}))


if __name__ == "__main__":
    main()
