#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The `ralsgan generate` job done in PyTorch, for the CPU comparison.

Loads a generator state_dict (our generator.safetensors, PyTorch's names),
generates N images in batches in eval mode under torch.inference_mode, and
writes each as an 8-bit RGB PNG with PIL, as a competent PyTorch user would.
Quantisation as docs/contracts.md §5. Prints one JSON line with images/s.
On a GPU (--device cuda, against bench/app/bench_generate_pngs.cpp):
--precision picks the convolution arithmetic (f32, tf32 = PyTorch's default,
bf16 = autocast) and --save-threads N saves the PNGs of a batch on N threads
(PIL's zlib encoder releases the GIL), the faster way a user may write it.

  /usr/bin/time -v /usr/bin/python3 bench/pytorch/generate_pngs_torch.py \
      --checkpoint RUN/checkpoint/generator.safetensors --out /tmp/torch_pngs --count 10000 --threads 2
"""
import argparse, concurrent.futures, contextlib, json, math, os, struct, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "golden"))
import zlib
import numpy as np
import torch
try:
    from PIL import Image
except ImportError:  # e.g. a GPU machine's bare PyTorch environment: the same PNG, written by hand
    Image = None


def write_png_zlib(path, rgb):
    """8-bit RGB PNG, filter 0 on every row, zlib level 6 (PIL's default)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))

import dcgan, st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variant", default="eager", choices=["eager", "channels_last", "script_freeze"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="f32", choices=["f32", "tf32", "bf16"])
    ap.add_argument("--save-threads", type=int, default=1)
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = False
    autocast = (torch.autocast(device_type=dev.type, dtype=torch.bfloat16) if a.precision == "bf16"
                else contextlib.nullcontext())
    pool = concurrent.futures.ThreadPoolExecutor(a.save_threads) if a.save_threads > 1 else None
    torch.set_num_threads(a.threads)
    sd, _ = st.load_file(a.checkpoint)
    nz = sd["model.0.weight"].shape[0]
    nb = sum(k.endswith("running_mean") for k in sd) - 1
    size = 4 << nb
    width = sd["model.0.weight"].shape[1] / (32 << nb)
    G = dcgan.make_G(size, width, nz)
    G.load_state_dict(sd)
    G = G.to(dev)
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
            with autocast:
                x = G(z.to(dev)).float()
            net += time.time() - t
            px = torch.clamp(torch.floor((x.double() + 1) * 127.5 + 0.5), 0, 255).to(torch.uint8)
            px = px.permute(0, 2, 3, 1).contiguous().cpu().numpy()

            def save(j, px=px, start=start):
                path = os.path.join(a.out, "image_%05d.png" % (start + j))
                if Image is not None:
                    Image.fromarray(px[j], "RGB").save(path)
                else:
                    write_png_zlib(path, px[j])
            if pool:
                list(pool.map(save, range(n)))
            else:
                for j in range(n):
                    save(j)
    total = time.time() - t0
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "variant": a.variant, "count": a.count,
                      "size": size, "width": width, "threads": a.threads,
                      "device": a.device, "precision": a.precision, "save_threads": a.save_threads, "batch": a.batch,
                      "png_writer": "PIL" if Image is not None else "zlib", "seconds": round(total, 3),
                      "images_per_s": round(a.count / total, 2), "network_seconds": round(net, 3)}))


if __name__ == "__main__":
    main()
