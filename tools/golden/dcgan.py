"""The seed's DCGAN generator and discriminator (DESIGN B2), generalised to other
image sizes and channel widths. State-dict keys are `model.<index>.<name>`."""
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


def make_G(size, width, nz):
    return Generator(size, width, nz)


def make_D(size, width):
    return Discriminator(size, width)


def rals_loss(c_a, c_b, y):
    """DESIGN B3's relativistic least-squares loss with margin y: c_a should
    score y above c_b on average. D's loss is rals_loss(C_r, C_f, y); G's is
    rals_loss(C_f', C_r, y) with C_r a constant. The one copy every script uses."""
    return (torch.mean((c_a - torch.mean(c_b) - y) ** 2) + torch.mean((c_b - torch.mean(c_a) + y) ** 2)) / 2


def count_params(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    g, d = make_G(128, 1.0, 128), make_D(128, 1.0)
    print(count_params(g), count_params(d))
