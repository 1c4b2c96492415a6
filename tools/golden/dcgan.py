# SPDX-License-Identifier: Apache-2.0
"""The seed's DCGAN generator and discriminator (docs/contracts.md §2), generalised to other
image sizes and channel widths. State-dict keys are `model.<index>.<name>`."""
import contextlib
import math

import torch
import torch.nn as nn


def _nblocks(size):
    n = int(round(math.log2(size / 4)))
    assert size == 4 * 2 ** n and n >= 1, f"unsupported image size {size}"
    return n


def _ch(c, width):
    return max(1, int(round(c * width)))


class Generator(nn.Module):
    def __init__(self, size=128, width=1.0, nz=128):
        super().__init__()
        nb = _nblocks(size)
        layers = [nn.ConvTranspose2d(nz, _ch(32 * 2 ** nb, width), 4, 1, 0, bias=False),
                  nn.BatchNorm2d(_ch(32 * 2 ** nb, width)), nn.ReLU(True)]
        for i in range(nb, 0, -1):
            cin, cout = _ch(32 * 2 ** i, width), _ch(32 * 2 ** (i - 1), width)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(_ch(32, width), 3, 3, 1, 1, bias=True), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z):
        if z.dim() == 2:
            z = z.view(z.shape[0], z.shape[1], 1, 1)
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self, size=128, width=1.0):
        super().__init__()
        nb = _nblocks(size)
        layers = []
        cin = 3
        for j in range(nb):
            cout = _ch(32 * 2 ** j, width)
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
            if j >= 2:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers.append(nn.Conv2d(_ch(32 * 2 ** (nb - 1), width), 1, 4, 1, 0, bias=False))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x).view(-1)


def randomize_bn(m):
    """Gives every BatchNorm2d of `m` non-trivial state (float64 draws from torch's
    global generator): weight 1 + 0.1 randn, bias 0.1 randn, running_mean 0.1 randn,
    running_var 1 + 0.1 rand. Golden data use it so BN's affine and running
    statistics are exercised, not the identity of a fresh layer."""
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            assert mod.momentum == 0.1 and mod.eps == 1e-5
            with torch.no_grad():
                c = mod.num_features
                mod.weight.copy_(1 + 0.1 * torch.randn(c, dtype=torch.float64))
                mod.bias.copy_(0.1 * torch.randn(c, dtype=torch.float64))
                mod.running_mean.copy_(0.1 * torch.randn(c, dtype=torch.float64))
                mod.running_var.copy_(1 + 0.1 * torch.rand(c, dtype=torch.float64))


def make_models_f64(size, width, nz, seed):
    """G and D in float64 from torch.manual_seed(seed): PyTorch's default init,
    then randomize_bn on G, then on D. The golden step generators' starting state."""
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        G = make_G(size, width, nz)
        D = make_D(size, width)
        randomize_bn(G)
        randomize_bn(D)
    finally:
        torch.set_default_dtype(torch.float32)
    return G, D


def make_G(size, width, nz):
    return Generator(size, width, nz)


def make_D(size, width):
    return Discriminator(size, width)


def rals_loss(c_a, c_b, y):
    """docs/contracts.md §3's relativistic least-squares loss with margin y: c_a should
    score y above c_b on average. D's loss is rals_loss(C_r, C_f, y); G's is
    rals_loss(C_f', C_r, y) with C_r a constant. The one copy every script uses."""
    return (torch.mean((c_a - torch.mean(c_b) - y) ** 2) + torch.mean((c_b - torch.mean(c_a) + y) ** 2)) / 2


def rals_step(G, D, optG, optD, x_real, z, y, autocast=None, on_d_grads=None, on_g_grads=None, augment=None):
    """One training step of docs/contracts.md §3: C_r = D(x_r), C_f = D(x_f) with x_f = G(z)
    held constant, D's loss, Adam on D; then C_f' = D(x_f) with the updated D
    and C_r a constant, G's loss, Adam on G. The one copy the golden
    generators and the benchmarks run.
      autocast:   a context-manager factory around each forward pass and loss
                  (mixed precision); backward passes and Adam run outside it.
      on_d_grads: called after D's backward, before its Adam step (to read .grad).
      on_g_grads: called with x_f after G's backward, before its Adam step;
                  x_f.grad is kept for it.
      augment:    (x, evaluation) -> what D sees (DiffAugment), evaluation 0 for
                  the reals, 1 for the held fakes, 2 for the fakes G learns through.
    Returns (x_f, C_r, C_f, C_f', loss_d, loss_g)."""
    ctx = autocast or contextlib.nullcontext
    aug = augment or (lambda x, k: x)
    with ctx():
        fake = G(z)
        C_r = D(aug(x_real, 0))
        C_f = D(aug(fake.detach(), 1))
        loss_d = rals_loss(C_r, C_f, y)
    optD.zero_grad()
    loss_d.backward()
    if on_d_grads:
        on_d_grads()
    optD.step()
    if on_g_grads:
        fake.retain_grad()
    with ctx():
        C_f2 = D(aug(fake, 2))
        Cr = C_r.detach()
        loss_g = rals_loss(C_f2, Cr, y)
    optG.zero_grad()
    loss_g.backward()
    if on_g_grads:
        on_g_grads(fake)
    optG.step()
    return fake, C_r, C_f, C_f2, loss_d, loss_g


def count_params(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    g, d = make_G(128, 1.0, 128), make_D(128, 1.0)
    print(count_params(g), count_params(d))
