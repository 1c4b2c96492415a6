# SPDX-License-Identifier: Apache-2.0
"""pytorch-fid's Inception-v3 (fid_inception_v3 + InceptionV3 wrapper up to the
2048-d pool3 features) in plain torch, with a width multiplier.

At width 1 the module tree, parameter names and forward pass are those of
pytorch-fid 0.3 (torchvision's Inception3 with Mixed_5b..5d = FIDInceptionA,
6b..6e = FIDInceptionC, 7b = FIDInceptionE_1, 7c = FIDInceptionE_2), so the
public pt_inception-2015-12-05 state dict loads into it unchanged (minus fc).
With width w every BasicConv2d has int(c * w + 0.5) output channels; the C++
builder (apps/metrics/inception.cpp) uses the same rule.

Input: N x 3 x H x W in [0, 1]; the model resizes to 299 x 299 with
F.interpolate(bilinear, align_corners=False), scales to [-1, 1] as 2x - 1 and
returns N x C features (C = 2048 at width 1) after adaptive average pooling.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def ch(c, width):
    return max(1, int(c * width + 0.5))


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=False)


def avg3(x):  # TF's average pool ignores padded zeros
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):  # FIDInceptionA
    def __init__(self, cin, pool_features, w):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, ch(64, w), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, ch(48, w), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(ch(48, w), ch(64, w), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, ch(64, w), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(ch(64, w), ch(96, w), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(ch(96, w), ch(96, w), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, ch(pool_features, w), kernel_size=1)
        self.out_channels = ch(64, w) * 2 + ch(96, w) + ch(pool_features, w)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(avg3(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):  # torchvision's (Mixed_6a)
    def __init__(self, cin, w):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, ch(384, w), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, ch(64, w), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(ch(64, w), ch(96, w), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(ch(96, w), ch(96, w), kernel_size=3, stride=2)
        self.out_channels = ch(384, w) + ch(96, w) + cin

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):  # FIDInceptionC
    def __init__(self, cin, c7, w):
        super().__init__()
        c7 = ch(c7, w)
        self.branch1x1 = BasicConv2d(cin, ch(192, w), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, ch(192, w), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, ch(192, w), kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, ch(192, w), kernel_size=1)
        self.out_channels = 4 * ch(192, w)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(bd))))
        bp = self.branch_pool(avg3(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):  # torchvision's (Mixed_7a)
    def __init__(self, cin, w):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, ch(192, w), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(ch(192, w), ch(320, w), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, ch(192, w), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(ch(192, w), ch(192, w), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(ch(192, w), ch(192, w), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(ch(192, w), ch(192, w), kernel_size=3, stride=2)
        self.out_channels = ch(320, w) + ch(192, w) + cin

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):  # FIDInceptionE_1 (max_pool=False) / FIDInceptionE_2 (max_pool=True)
    def __init__(self, cin, w, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, ch(320, w), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, ch(384, w), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(ch(384, w), ch(384, w), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(ch(384, w), ch(384, w), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, ch(448, w), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(ch(448, w), ch(384, w), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(ch(384, w), ch(384, w), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(ch(384, w), ch(384, w), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, ch(192, w), kernel_size=1)
        self.out_channels = ch(320, w) + 4 * ch(384, w) + ch(192, w)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            p = avg3(x)
        bp = self.branch_pool(p)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionV3(nn.Module):
    def __init__(self, width=1.0):
        super().__init__()
        w = width
        self.Conv2d_1a_3x3 = BasicConv2d(3, ch(32, w), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(ch(32, w), ch(32, w), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(ch(32, w), ch(64, w), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(ch(64, w), ch(80, w), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(ch(80, w), ch(192, w), kernel_size=3)
        self.Mixed_5b = InceptionA(ch(192, w), 32, w)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, 64, w)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, 64, w)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, w)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out_channels, 128, w)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, 160, w)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, 160, w)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, 192, w)
        self.Mixed_7a = InceptionD(self.Mixed_6e.out_channels, w)
        self.Mixed_7b = InceptionE(self.Mixed_7a.out_channels, w, max_pool=False)
        self.Mixed_7c = InceptionE(self.Mixed_7b.out_channels, w, max_pool=True)
        self.out_channels = self.Mixed_7c.out_channels

    def forward(self, x):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                     "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
            x = getattr(self, name)(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def randomize(model, seed, calib_images=None):
    """Deterministic random weights: He-normal convs, random BN affine; the BN
    running statistics are then set to the batch statistics of `calib_images`
    (one training-mode pass with momentum 1), so every layer is well scaled."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
        if calib_images is not None:
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum = 1.0
            model.train()
            model(calib_images)
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum = 0.1
    model.eval()
    return model


def state_dict_f32(model):
    """Parameter and BN-statistic tensors by pytorch-fid's names (no counters)."""
    return {k: v.detach().float().contiguous() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}
