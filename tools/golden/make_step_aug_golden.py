# SPDX-License-Identifier: Apache-2.0
"""Golden data for a training step with DiffAugment and the moving-average
generator (docs/contracts.md §3; apps/model/diffaugment.h).

Run as: python3 tools/golden/make_step_aug_golden.py
Writes tests/data/golden/step_aug_f64.safetensors: make_step_golden.py's
step (size 64, width 0.125, nz 32, batch 4, seed 7, float64) with
  - DiffAugment "color,translation,cutout" before each of the three D
    evaluations, computed by the reference implementation's arithmetic
    (DiffAugment_pytorch.py, Zhao et al. 2020: rand_brightness,
    rand_saturation, rand_contrast, rand_translation's padded gather,
    rand_cutout's clamped grid) with its torch.rand / torch.randint values
    replaced by our draws: Philox stream 8, counter index 3 * STEP + evaluation,
    k = 2j (u_brightness, u_saturation, u_contrast) and 2j + 1 (tx, ty, cutout
    row, cutout column) for sample j, as apps/model/diffaugment.cpp documents;
  - G_ema = a copy of G before the step, then after G's Adam step
    p_ema.copy_(p.lerp(p_ema, BETA)) for parameters and b_ema.copy_(b) for
    buffers, as StyleGAN2-ADA's training loop.
Tensor names: those of make_step_golden.py, plus new.G_ema.<key>, and the
metadata records DRAW_SEED, STEP and BETA.
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dcgan  # noqa: E402
import make_step_golden as base  # noqa: E402
import philox  # noqa: E402
import st  # noqa: E402

DRAW_SEED = 11
STEP = 5
BETA = 0.75
STREAM = 8


def uniform24(x):
    return torch.tensor((x >> 8) * (1.0 / 16777216.0), dtype=torch.float32)


def below(x, n):
    return (x * n) >> 32


def draws(evaluation, n, size):
    """Per sample: brightness, saturation, contrast (float32, as torch.rand - 0.5
    etc. would give), tx, ty, cutout offsets."""
    out = []
    shift = int(size * 0.125 + 0.5)
    cut = int(size * 0.5 + 0.5)
    for j in range(n):
        c = philox.words(DRAW_SEED, STREAM, 3 * STEP + evaluation, 2 * j)
        t = philox.words(DRAW_SEED, STREAM, 3 * STEP + evaluation, 2 * j + 1)
        out.append(dict(
            brightness=(uniform24(c[0]) - 0.5).item(), saturation=(uniform24(c[1]) * 2).item(),
            contrast=(uniform24(c[2]) + 0.5).item(),
            tx=below(t[0], 2 * shift + 1) - shift, ty=below(t[1], 2 * shift + 1) - shift,
            ox=below(t[2], size + 1 - cut % 2), oy=below(t[3], size + 1 - cut % 2)))
    return out


def diff_augment(x, evaluation):
    """DiffAugment_pytorch.py's color, translation and cutout, fed our draws."""
    d = draws(evaluation, x.size(0), x.size(2))
    col = lambda key: torch.tensor([s[key] for s in d], dtype=x.dtype).view(-1, 1, 1, 1)  # noqa: E731
    # rand_brightness, rand_saturation, rand_contrast
    x = x + col("brightness")
    x_mean = x.mean(dim=1, keepdim=True)
    x = (x - x_mean) * col("saturation") + x_mean
    x_mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - x_mean) * col("contrast") + x_mean
    # rand_translation (ratio 0.125)
    translation_x = torch.tensor([s["tx"] for s in d]).view(-1, 1, 1)
    translation_y = torch.tensor([s["ty"] for s in d]).view(-1, 1, 1)
    grid_batch, grid_x, grid_y = torch.meshgrid(torch.arange(x.size(0)), torch.arange(x.size(2)),
                                                torch.arange(x.size(3)), indexing="ij")
    grid_x = torch.clamp(grid_x + translation_x + 1, 0, x.size(2) + 1)
    grid_y = torch.clamp(grid_y + translation_y + 1, 0, x.size(3) + 1)
    x_pad = torch.nn.functional.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    x = x_pad.permute(0, 2, 3, 1).contiguous()[grid_batch, grid_x, grid_y].permute(0, 3, 1, 2)
    # rand_cutout (ratio 0.5)
    cutout_size = int(x.size(2) * 0.5 + 0.5), int(x.size(3) * 0.5 + 0.5)
    offset_x = torch.tensor([s["ox"] for s in d]).view(-1, 1, 1)
    offset_y = torch.tensor([s["oy"] for s in d]).view(-1, 1, 1)
    grid_batch, grid_x, grid_y = torch.meshgrid(torch.arange(x.size(0)), torch.arange(cutout_size[0]),
                                                torch.arange(cutout_size[1]), indexing="ij")
    grid_x = torch.clamp(grid_x + offset_x - cutout_size[0] // 2, min=0, max=x.size(2) - 1)
    grid_y = torch.clamp(grid_y + offset_y - cutout_size[1] // 2, min=0, max=x.size(3) - 1)
    mask = torch.ones(x.size(0), x.size(2), x.size(3), dtype=x.dtype)
    mask[grid_batch, grid_x, grid_y] = 0
    return x * mask.unsqueeze(1)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cfg = base.CFG
    G, D, x_real, z = base.make_init(cfg["seed"])
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    out = {}
    base.capture_states(out, "init.", G=G, D=D)
    out["x_real"], out["z"] = x_real.clone(), z.clone()
    G.train()
    D.train()
    betas = (cfg["beta1"], cfg["beta2"])
    optD = torch.optim.Adam(D.parameters(), lr=cfg["lr"], betas=betas, eps=cfg["eps"])
    optG = torch.optim.Adam(G.parameters(), lr=cfg["lr"], betas=betas, eps=cfg["eps"])
    _, C_r, C_f, C_f2, loss_d, loss_g = dcgan.rals_step(G, D, optG, optD, x_real, z, cfg["real_label"],
                                                        augment=diff_augment)
    with torch.no_grad():  # StyleGAN2-ADA's G_ema update
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.copy_(p.lerp(p_ema, BETA))
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)
    out["C_r"], out["C_f"], out["C_f2"] = C_r.detach(), C_f.detach(), C_f2.detach()
    out["loss_d"], out["loss_g"] = loss_d.detach(), loss_g.detach()
    base.capture_states(out, "new.", G=G, D=D, G_ema=G_ema)
    meta = {k: repr(v) for k, v in cfg.items()}
    meta.update(torch=torch.__version__, draw_seed=str(DRAW_SEED), step=str(STEP), ema_beta=repr(BETA),
                diffaugment="color,translation,cutout", dtype="float64")
    path = os.path.join(base.OUT, "step_aug_f64.safetensors")
    st.save_file(out, path, meta)
    print("wrote", path, "loss_d", loss_d.item(), "loss_g", loss_g.item())


if __name__ == "__main__":
    main()
