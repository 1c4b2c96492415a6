# SPDX-License-Identifier: Apache-2.0
"""Golden data for multi-step training from PNG files (docs/contracts.md §3, §4, §6).

Run as: /usr/bin/python3 tools/golden/make_train_golden.py
Writes
  tests/data/train_images/img_000.png .. img_007.png   8-bit RGB 32x32, no alpha,
      smooth random patterns (numpy RandomState(1234 + i)), written by the small
      zlib PNG writer below (filter 0, one IDAT) and checked by decoding with PIL.
  tests/data/golden/train_init_G.safetensors, train_init_D.safetensors
      F32 state_dicts (num_batches_tracked I64) of make_G(32, 0.25, 128) and
      make_D(32, 0.25): torch.manual_seed(21); G = make_G(..); D = make_D(..)
      (PyTorch default init, float32); then for each BatchNorm2d of G, then of D,
      in module order: weight = 1 + 0.1*randn, bias = 0.1*randn; running stats
      default (mean 0, var 1, num_batches_tracked 0).
  tests/data/golden/train_golden.safetensors
      f64.loss_d.step{0,1,2}, f64.loss_g.step{0,1,2}    F64, shape []
      f64.after{0,2}.G.<key>, f64.after{0,2}.D.<key>     state_dicts after step 0
                                                         and after step 2 (F64, I64 counters)
      f32.loss_d.step0, f32.loss_g.step0                 F32, shape []
      f32.after0.G.<key>, f32.after0.D.<key>             state_dicts after step 0 (F32, I64)
      data.pixels U8 [8, 32, 32, 3]                      the decoded PNGs, sorted by name (HWC RGB)

Training (exactly make_step_golden.py's step, docs/contracts.md §3), train mode, batch 4,
Adam(lr 8e-4, betas (0.5, 0.999), eps 1e-8) for both nets, one optimizer per net
kept across steps, real label y = 0.8; no augmentation, no shuffling: files in
sorted-name order, step s uses images (4*s) % 8 .. +4 (2 steps per epoch).
Real x = pixels / 127.5 - 1 in NCHW, computed in the run's dtype (uint8 -> dtype,
then / 127.5, then - 1). Latent z[j] = philox.latent(seed=9, stream=1, index=s*4+j),
G input z.view(4, 128, 1, 1). The f64 run starts from the F32 init cast to float64.
"""
import copy
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dcgan  # noqa: E402
import philox  # noqa: E402
import st  # noqa: E402

CFG = dict(size=32, width=0.25, nz=128, batch=4, n_images=8, init_seed=21, latent_seed=9, latent_stream=1,
           lr=8e-4, beta1=0.5, beta2=0.999, eps=1e-8, real_label=0.8, bn_momentum=0.1, bn_eps=1e-5,
           f64_steps=3, f32_steps=1)
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "golden")
IMG_DIR = os.path.join(ROOT, "tests", "data", "train_images")


# ---------------------------------------------------------------- images
def write_png(path, rgb):
    """8-bit RGB PNG, colour type 2, no interlace, filter 0 on every row."""
    h, w, c = rgb.shape
    assert c == 3 and rgb.dtype == np.uint8

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)


def make_image(i, size):
    """Smooth pattern: a few sinusoids and Gaussian blobs per channel."""
    rs = np.random.RandomState(1234 + i)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    img = np.zeros((size, size, 3))
    for ch in range(3):
        v = np.full((size, size), rs.uniform(-0.3, 0.3))
        for _ in range(3):
            fx, fy = rs.uniform(-3, 3, 2)
            v += rs.uniform(0.1, 0.4) * np.sin(2 * np.pi * (fx * xx + fy * yy) + rs.uniform(0, 2 * np.pi))
        for _ in range(2):
            cx, cy = rs.uniform(0, 1, 2)
            s = rs.uniform(0.08, 0.25)
            v += rs.uniform(-0.8, 0.8) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        img[:, :, ch] = v
    return np.clip(np.round((img + 1) * 127.5), 0, 255).astype(np.uint8)


def make_images():
    os.makedirs(IMG_DIR, exist_ok=True)
    from PIL import Image
    pix = []
    for i in range(CFG["n_images"]):
        a = make_image(i, CFG["size"])
        p = os.path.join(IMG_DIR, "img_%03d.png" % i)
        write_png(p, a)
        with Image.open(p) as im:
            assert im.mode == "RGB" and im.size == (CFG["size"], CFG["size"])
            assert np.array_equal(np.asarray(im), a), p
        pix.append(a)
    names = sorted(os.listdir(IMG_DIR))
    assert names == ["img_%03d.png" % i for i in range(CFG["n_images"])], names
    return torch.from_numpy(np.stack(pix))  # [8, H, W, 3] u8


# ---------------------------------------------------------------- models
def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            assert mod.momentum == CFG["bn_momentum"] and mod.eps == CFG["bn_eps"]
            with torch.no_grad():
                c = mod.num_features
                mod.weight.copy_(1 + 0.1 * torch.randn(c))
                mod.bias.copy_(0.1 * torch.randn(c))


def make_init():
    torch.manual_seed(CFG["init_seed"])
    G = dcgan.make_G(CFG["size"], CFG["width"], CFG["nz"]).float()
    D = dcgan.make_D(CFG["size"], CFG["width"]).float()
    randomize_bn(G)
    randomize_bn(D)
    return G, D


def state(net, prefix):
    return {prefix + k: v.detach().clone() for k, v in net.state_dict().items()}


def real_batch(pixels, s, dtype):
    b, n = CFG["batch"], pixels.shape[0]
    start = (b * s) % n
    x = pixels[start:start + b].permute(0, 3, 1, 2).contiguous().to(dtype)
    return x / 127.5 - 1


def train(G, D, pixels, steps, dtype, tag, keep_after):
    """Runs `steps` RaLSGAN steps (docs/contracts.md §3, as make_step_golden.run_step)."""
    out = {}
    G.train()
    D.train()
    betas = (CFG["beta1"], CFG["beta2"])
    optD = torch.optim.Adam(D.parameters(), lr=CFG["lr"], betas=betas, eps=CFG["eps"])
    optG = torch.optim.Adam(G.parameters(), lr=CFG["lr"], betas=betas, eps=CFG["eps"])
    y = CFG["real_label"]
    b, nz = CFG["batch"], CFG["nz"]
    for s in range(steps):
        x_real = real_batch(pixels, s, dtype)
        z = philox.latents(CFG["latent_seed"], CFG["latent_stream"], range(s * b, s * b + b), nz).to(dtype)

        *_, loss_d, loss_g = dcgan.rals_step(G, D, optG, optD, x_real, z.view(b, nz, 1, 1), y)

        out["%s.loss_d.step%d" % (tag, s)] = loss_d.detach().clone()
        out["%s.loss_g.step%d" % (tag, s)] = loss_g.detach().clone()
        if s in keep_after:
            out.update(state(G, "%s.after%d.G." % (tag, s)))
            out.update(state(D, "%s.after%d.D." % (tag, s)))
    return out


def spread(init, r64, r32):
    """For information: f32 vs f64 after step 0, per weight tensor."""
    print("%-28s %8s %10s %10s %10s" % ("tensor after0", "numel", "sign_diff", "rel_upd", "rel_val"))
    for net in ("G", "D"):
        for k in sorted(init[net]):
            if not k.endswith("weight") and not k.endswith("bias"):
                continue
            i64 = init[net][k].double()
            t64 = r64["f64.after0.%s.%s" % (net, k)]
            t32 = r32["f32.after0.%s.%s" % (net, k)].double()
            u64, u32 = t64 - i64, t32 - i64
            sd = (torch.sign(u64) != torch.sign(u32)).double().mean().item()
            ru = ((u32 - u64).norm() / u64.norm()).item()
            rv = ((t32 - t64).norm() / t64.norm()).item()
            print("%-28s %8d %10.5f %10.3e %10.3e" % (net + "." + k, i64.numel(), sd, ru, rv))
    for n in ("loss_d", "loss_g"):
        a, c = r64["f64.%s.step0" % n].item(), r32["f32.%s.step0" % n].item()
        print("%s.step0: f64 %.10f  f32 %.10f  rel %.2e" % (n, a, c, abs(a - c) / abs(a)))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    pixels = make_images()

    G, D = make_init()
    init = {"G": {k: v.detach().clone() for k, v in G.state_dict().items()},
            "D": {k: v.detach().clone() for k, v in D.state_dict().items()}}
    meta = {k: repr(v) for k, v in CFG.items()}
    meta.update(torch=torch.__version__,
                init="torch.manual_seed(21); G=make_G(32,0.25,128); D=make_D(32,0.25) (PyTorch default init, "
                     "float32); then each BN of G, then of D: weight=1+0.1*randn, bias=0.1*randn; running stats default")
    os.makedirs(OUT, exist_ok=True)
    st.save_file(init["G"], os.path.join(OUT, "train_init_G.safetensors"), dict(meta, content="G state_dict"))
    st.save_file(init["D"], os.path.join(OUT, "train_init_D.safetensors"), dict(meta, content="D state_dict"))

    # The runs start from the files' contents.
    lg, _ = st.load_file(os.path.join(OUT, "train_init_G.safetensors"))
    ld, _ = st.load_file(os.path.join(OUT, "train_init_D.safetensors"))

    def from_files(dtype):
        g = dcgan.make_G(CFG["size"], CFG["width"], CFG["nz"]).to(dtype)
        d = dcgan.make_D(CFG["size"], CFG["width"]).to(dtype)
        g.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in lg.items()})
        d.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in ld.items()})
        return g, d

    G64, D64 = from_files(torch.float64)
    r64 = train(G64, D64, pixels, CFG["f64_steps"], torch.float64, "f64", keep_after=(0, 2))
    G32, D32 = from_files(torch.float32)
    r32 = train(G32, D32, pixels, CFG["f32_steps"], torch.float32, "f32", keep_after=(0,))
    for k, v in r64.items():
        assert v.dtype in (torch.float64, torch.int64), k
    for k, v in r32.items():
        assert v.dtype in (torch.float32, torch.int64), k

    golden = dict(r64)
    golden.update(r32)
    golden["data.pixels"] = pixels.contiguous()
    meta.update(step="RaLSGAN docs/contracts.md §3 as make_step_golden.py, train mode, Adam state kept across steps",
                data="tests/data/train_images sorted by name; step s uses images (4*s)%8..+4; "
                     "x = pixels/127.5-1 in the run's dtype, NCHW; no augmentation, no shuffling",
                latents="z[j] = philox.latent(seed=9, stream=1, index=s*4+j), G input z.view(4,128,1,1)",
                runs="f64: 3 steps from the F32 init cast to float64 (after0, after2 stored); f32: 1 step",
                loss_shape="[]")
    st.save_file(golden, os.path.join(OUT, "train_golden.safetensors"), meta)

    for s in range(CFG["f64_steps"]):
        print("f64 step %d: loss_d %.10f loss_g %.10f" % (
            s, r64["f64.loss_d.step%d" % s].item(), r64["f64.loss_g.step%d" % s].item()))
    spread(init, r64, r32)
    # Is x = p/127.5 - 1 in float32 the float32 rounding of the float64 value for every byte?
    p = torch.arange(256)
    n_diff = int((p.float() / 127.5 - 1 != (p.double() / 127.5 - 1).float()).sum())
    print("bytes where f32(p/127.5-1) != round_f32(f64(p/127.5-1)): %d of 256" % n_diff)
    for name in ("train_init_G.safetensors", "train_init_D.safetensors", "train_golden.safetensors"):
        q = os.path.join(OUT, name)
        print("%s: %d bytes" % (q, os.path.getsize(q)))


if __name__ == "__main__":
    main()
