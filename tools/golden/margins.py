# SPDX-License-Identifier: Apache-2.0
"""Distance of golden data from the kinks of the computation.

A golden file compares our f32 results with PyTorch's. Where a value lies
within f32 rounding of a kink (the 0 of ReLU or LeakyReLU, the sign of a
gradient that Adam's first step turns into +-lr), two correct f32
implementations (another summation order, another CPU's kernels) may land
on different sides and then differ by far more than rounding. Golden inputs
must keep every such value clear of its kink: this module records them in
both precisions and measures, per tensor, how many times PyTorch's own
f32-vs-f64 deviation the closest value is from its kink.
"""
import contextlib

import torch


@contextlib.contextmanager
def record_preactivations(*nets):
    """Yields a list that collects, in call order, the input of every ReLU and
    LeakyReLU module of `nets` (before an in-place activation overwrites it)."""
    seen = []
    hooks = []

    def hook(module, args):
        seen.append((type(module).__name__, args[0].detach().clone()))

    for net in nets:
        for m in net.modules():
            if isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU)):
                hooks.append(m.register_forward_pre_hook(hook))
    try:
        yield seen
    finally:
        for h in hooks:
            h.remove()


def kink_margin(t64, t32):
    """min |t64| / max |t32 - t64| over one tensor: how many times PyTorch's
    own f32 error the value closest to 0 is away from it (inf if f32 is exact)."""
    t64 = t64.double()
    err = (t32.double() - t64).abs().max().item()
    closest = t64.abs().min().item()
    return float("inf") if err == 0 else closest / err


def worst_margin(pairs):
    """pairs: iterable of (name, t64, t32). Returns (margin, name) of the worst."""
    worst = (float("inf"), "")
    for name, a, b in pairs:
        m = kink_margin(a, b)
        if m < worst[0]:
            worst = (m, name)
    return worst
