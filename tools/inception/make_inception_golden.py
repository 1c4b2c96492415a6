#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Golden files for tests/metrics (PyTorch 1.13, CPU), all regenerable:

  tests/metrics/golden/ops_golden.safetensors   max/avg pooling, bilinear resize, concat
  tests/metrics/golden/inception_w8.safetensors pytorch-fid's Inception-v3 at width 1/8
      with random weights (seed 7), 3 input images (64x64 RGB uint8) and their
      features from PyTorch in float32 and float64.

    python3 tools/inception/make_inception_golden.py            # writes both files
    python3 tools/inception/make_inception_golden.py --check-torchvision
        # also checks that FIDInceptionV3(1.0) equals pytorch-fid's construction
        # (torchvision Inception3 + FID blocks) on the same random weights
    python3 tools/inception/make_inception_golden.py --full-weights /tmp/inception_random.safetensors
        # full-width random weights (96 MB, not committed) for benchmarks
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import st  # noqa: E402
from fid_inception import FIDInceptionV3, randomize, state_dict_f32  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "metrics", "golden")


def ops_golden():
    g = torch.Generator().manual_seed(3)
    t = {}
    x = torch.randn(2, 3, 9, 8, generator=g, dtype=torch.float64)
    t["pool.x"] = x
    t["pool.max_k3s2p0"] = F.max_pool2d(x, 3, 2, 0)
    t["pool.max_k3s1p1"] = F.max_pool2d(x, 3, 1, 1)
    t["pool.avg_k3s1p1_excl"] = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    t["pool.avg_k3s1p1_incl"] = F.avg_pool2d(x, 3, 1, 1, count_include_pad=True)
    t["pool.avg_k3s2p1_excl"] = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    t["pool.avg_k2s2p0"] = F.avg_pool2d(x, 2, 2, 0)
    r = torch.rand(1, 2, 64, 64, generator=g, dtype=torch.float64)
    t["resize.x"] = r
    # Stored as F32 to keep the file small (computed in float64).
    t["resize.up_299"] = F.interpolate(r, size=(299, 299), mode="bilinear", align_corners=False).float()
    t["resize.down_23x40"] = F.interpolate(r, size=(23, 40), mode="bilinear", align_corners=False)
    a = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    b = torch.randn(2, 1, 4, 5, generator=g, dtype=torch.float64)
    c = torch.randn(2, 2, 4, 5, generator=g, dtype=torch.float64)
    t["concat.a"], t["concat.b"], t["concat.c"] = a, b, c
    t["concat.axis1"] = torch.cat([a, b, c], 1)
    t["concat.axis3"] = torch.cat([a, a[..., :2]], 3)
    st.save_file({k: v.numpy() for k, v in t.items()}, os.path.join(OUT, "ops_golden.safetensors"),
                 metadata={"generator": "tools/inception/make_inception_golden.py", "torch": torch.__version__})


def golden_images(n=3, size=64):
    g = torch.Generator().manual_seed(11)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij")
    imgs = []
    for i in range(n):
        chans = []
        for c in range(3):
            f = 0.05 + 0.1 * (i + 1) + 0.03 * c
            base = 0.5 + 0.35 * torch.sin(f * xx + 0.7 * c) * torch.cos(0.6 * f * yy + i)
            chans.append(base + 0.1 * torch.randn(size, size, generator=g, dtype=torch.float64))
        img = torch.stack(chans, -1).clamp(0, 1)
        imgs.append((img * 255).round().to(torch.uint8))
    return torch.stack(imgs)  # N H W 3


def to_input(u8, dtype):  # as torchvision's ToTensor: float(x) / 255, NCHW
    return u8.permute(0, 3, 1, 2).to(dtype).div(255)


def make_model(width, seed):
    torch.manual_seed(seed)
    model = FIDInceptionV3(width)
    calib = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(seed + 1))
    return randomize(model, seed, calib)


def inception_golden(width=0.125, seed=7):
    model = make_model(width, seed)
    imgs = golden_images()
    with torch.no_grad():
        f32 = model(to_input(imgs, torch.float32))
        m64 = make_model(width, seed).double()
        f64 = m64(to_input(imgs, torch.float64))
    t = {k: v.numpy() for k, v in state_dict_f32(model).items()}
    t["golden.images"] = imgs.numpy()
    t["golden.features_f32"] = f32.numpy()
    t["golden.features_f64"] = f64.numpy()
    st.save_file(t, os.path.join(OUT, "inception_w8.safetensors"),
                 metadata={"width": str(width), "seed": str(seed), "torch": torch.__version__,
                          "generator": "tools/inception/make_inception_golden.py"})
    print("features", tuple(f32.shape), "max |f32 - f64|", float((f32.double() - f64).abs().max()),
          "max |f|", float(f64.abs().max()))


def check_torchvision():
    """pytorch-fid's fid_inception_v3() rebuilt from torchvision 0.14 (its FID
    block classes re-typed here), compared with FIDInceptionV3(1.0)."""
    import torchvision.models.inception as tvi

    class A(tvi.InceptionA):
        def forward(self, x):
            b1 = self.branch1x1(x)
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b5, b3, bp], 1)

    class C(tvi.InceptionC):
        def forward(self, x):
            b1 = self.branch1x1(x)
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))))
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b7, bd, bp], 1)

    def e_forward(self, x, pool):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        return torch.cat([b1, b3, bd, self.branch_pool(pool(x))], 1)

    class E1(tvi.InceptionE):
        def forward(self, x):
            return e_forward(self, x, lambda t: F.avg_pool2d(t, 3, 1, 1, count_include_pad=False))

    class E2(tvi.InceptionE):
        def forward(self, x):
            return e_forward(self, x, lambda t: F.max_pool2d(t, 3, 1, 1))

    inc = tvi.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    inc.Mixed_5b, inc.Mixed_5c, inc.Mixed_5d = A(192, pool_features=32), A(256, pool_features=64), A(288, pool_features=64)
    inc.Mixed_6b, inc.Mixed_6c = C(768, channels_7x7=128), C(768, channels_7x7=160)
    inc.Mixed_6d, inc.Mixed_6e = C(768, channels_7x7=160), C(768, channels_7x7=192)
    inc.Mixed_7b, inc.Mixed_7c = E1(1280), E2(2048)
    ours = make_model(1.0, 5)
    sd = state_dict_f32(ours)
    missing, unexpected = inc.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith("fc.") and not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    inc.eval()

    def fid_forward(x):  # pytorch-fid InceptionV3(output_blocks=[3]) forward
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for m in [inc.Conv2d_1a_3x3, inc.Conv2d_2a_3x3, inc.Conv2d_2b_3x3, inc.maxpool1, inc.Conv2d_3b_1x1,
                  inc.Conv2d_4a_3x3, inc.maxpool2, inc.Mixed_5b, inc.Mixed_5c, inc.Mixed_5d, inc.Mixed_6a,
                  inc.Mixed_6b, inc.Mixed_6c, inc.Mixed_6d, inc.Mixed_6e, inc.Mixed_7a, inc.Mixed_7b, inc.Mixed_7c]:
            x = m(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)

    x = to_input(golden_images(2), torch.float32)
    with torch.no_grad():
        a, b = ours(x), fid_forward(x)
    print("torchvision check: features", tuple(a.shape), "max abs diff", float((a - b).abs().max()),
          "params", sum(v.numel() for v in sd.values()))
    assert a.shape == (2, 2048) and torch.equal(a, b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-torchvision", action="store_true")
    ap.add_argument("--full-weights", metavar="PATH")
    ap.add_argument("--skip-golden", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not args.skip_golden:
        os.makedirs(OUT, exist_ok=True)
        ops_golden()
        inception_golden()
    if args.check_torchvision:
        check_torchvision()
    if args.full_weights:
        st.save_file({k: v.numpy() for k, v in state_dict_f32(make_model(1.0, 5)).items()}, args.full_weights,
                     metadata={"width": "1", "seed": "5", "random": "true"})


if __name__ == "__main__":
    main()
