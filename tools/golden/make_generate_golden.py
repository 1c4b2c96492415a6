# SPDX-License-Identifier: Apache-2.0
"""Golden data for the generation path (docs/contracts.md §2 model, B4 latents, B5 pixels).

Run as: /usr/bin/python3 tools/golden/make_generate_golden.py
Writes tests/data/golden/gen_G.safetensors and gen_expected.safetensors.

gen_G.safetensors: state_dict of make_G(size=32, width=0.25, nz=128), float32,
  torch.manual_seed(11) PyTorch default init, then for every BatchNorm2d in
  module order: weight = 1 + 0.1*randn, bias = 0.1*randn, running_mean =
  0.1*randn, running_var = 1 + 0.2*rand (so eval-mode BN matters).
  Keys model.<i>.weight / .bias / .running_mean / .running_var (F32),
  model.<i>.num_batches_tracked (I64, value 0).
gen_expected.safetensors (G in eval mode, seed 3, stream 0):
  indices I64 [N]            0..7, 1000, 1001, 1002, 1003, 70000 (N = 13)
  raw     F32 [N, 3, 32, 32] G(z.view(N, 128, 1, 1)), z[j] = philox.latent(3, 0, indices[j])
  pixels  U8  [N, 32, 32, 3] HWC RGB, clamp(floor((x + 1) * 127.5 + 0.5), 0, 255)
                             computed in float64 from the float32 raw output
  z       F32 [N, 128]       the latents (for debugging)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dcgan  # noqa: E402
import philox  # noqa: E402
import st  # noqa: E402

CFG = dict(size=32, width=0.25, nz=128, init_seed=11, gen_seed=3, stream=0)
INDICES = [0, 1, 2, 3, 4, 5, 6, 7, 1000, 1001, 1002, 1003, 70000]
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "golden")


def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            with torch.no_grad():
                c = mod.num_features
                mod.weight.copy_(1 + 0.1 * torch.randn(c))
                mod.bias.copy_(0.1 * torch.randn(c))
                mod.running_mean.copy_(0.1 * torch.randn(c))
                mod.running_var.copy_(1 + 0.2 * torch.rand(c))


def quantise(raw):
    x = raw.double()
    return torch.clamp(torch.floor((x + 1) * 127.5 + 0.5), 0, 255).to(torch.uint8)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(CFG["init_seed"])
    G = dcgan.make_G(CFG["size"], CFG["width"], CFG["nz"]).float()
    randomize_bn(G)
    G.eval()
    sd = {k: v.detach().clone() for k, v in G.state_dict().items()}

    z = philox.latents(CFG["gen_seed"], CFG["stream"], INDICES, CFG["nz"])
    with torch.no_grad():
        raw = G(z.view(len(INDICES), CFG["nz"], 1, 1)).contiguous()
    assert raw.shape == (len(INDICES), 3, CFG["size"], CFG["size"]) and raw.dtype == torch.float32
    pixels = quantise(raw).permute(0, 2, 3, 1).contiguous()
    # Batch independence: one image at a time gives the same pixels.
    with torch.no_grad():
        for j in (0, len(INDICES) - 1):
            one = G(z[j:j + 1].view(1, CFG["nz"], 1, 1))
            assert (quantise(one)[0].permute(1, 2, 0).int() - pixels[j].int()).abs().max() <= 1

    meta = {k: repr(v) for k, v in CFG.items()}
    meta.update(torch=torch.__version__, mode="eval",
                init="PyTorch default init after torch.manual_seed(11), float32; per BN in module order: "
                     "weight=1+0.1*randn, bias=0.1*randn, running_mean=0.1*randn, running_var=1+0.2*rand",
                latents="philox.latent(seed=3, stream=0, index), G input z.view(N,128,1,1)",
                pixels="HWC RGB u8 = clamp(floor((x+1)*127.5+0.5),0,255) in float64 from float32 raw")
    os.makedirs(OUT, exist_ok=True)
    st.save_file(sd, os.path.join(OUT, "gen_G.safetensors"), dict(meta, content="G state_dict"))
    st.save_file({"indices": torch.tensor(INDICES, dtype=torch.int64), "raw": raw, "pixels": pixels, "z": z},
                 os.path.join(OUT, "gen_expected.safetensors"), meta)

    # Round trip and summary.
    back, _ = st.load_file(os.path.join(OUT, "gen_G.safetensors"))
    assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)
    dist = (raw.abs() > 0.999).float().mean().item()
    print("raw range [%.4f, %.4f], |x|>0.999: %.3f, pixel mean %.1f, std %.1f" % (
        raw.min().item(), raw.max().item(), dist, pixels.double().mean().item(), pixels.double().std().item()))
    # How close to a rounding boundary the values are (matters for the CPU/CUDA +-1 budget).
    v = (raw.double() + 1) * 127.5 + 0.5
    frac = (v - torch.floor(v))
    print("values within 1e-4 of a rounding boundary: %d of %d" % (
        int(((frac < 1e-4) | (frac > 1 - 1e-4)).sum()), v.numel()))
    for name in ("gen_G.safetensors", "gen_expected.safetensors"):
        p = os.path.join(OUT, name)
        print("%s: %d bytes" % (p, os.path.getsize(p)))


if __name__ == "__main__":
    main()
