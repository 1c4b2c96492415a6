# SPDX-License-Identifier: Apache-2.0
"""Golden data for the Fashion-MNIST classifier's training step (docs/classifier.md).

Run as: /root/torchvenv/bin/python tools/golden/make_classifier_golden.py
Writes tests/data/golden/classifier_step_f64.safetensors and
classifier_step_f32.safetensors: one step of the model in
examples/fashion_mnist/classifier_model.cpp (conv 3x3 + bias, ReLU, max-pool 2, conv
3x3 + bias, ReLU, max-pool 2, linear, log_softmax, NLL averaged over the
batch, torch.optim.Adam), in float64 and in float32 from the same initial
state (PyTorch's default init in float64, rounded for f32), so the C++ side
needs no RNG agreement.

The seed is chosen so that the data stay clear of the step's kinks: every
ReLU input and every max-pool window's gap between its two largest values is
at least MIN_MARGIN away from 0 (then any correct f32 implementation takes the
same branches as float64). Adam's first update is about lr * sign(grad): the
C++ f32 tests compare updates only where the gradient is not tiny.

Tensors:
  init.<param>                 parameters before the step
  images [B,1,28,28], labels [B,10] (one-hot)
  log_probs [B,10], loss []    forward pass before the update
  grad.<param>                 d loss / d param
  new.<param>                  parameters after optimizer.step()
  adam.<param>.exp_avg / .exp_avg_sq
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "golden")
BATCH, C1, C2 = 8, 4, 6
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
MIN_MARGIN = 2e-6


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, C1, 3, padding=1)
        self.conv2 = nn.Conv2d(C1, C2, 3, padding=1)
        self.fc = nn.Linear(C2 * 7 * 7, 10)

    def forward(self, x, record=None):
        h1 = self.conv1(x)
        p1 = F.max_pool2d(F.relu(h1), 2)
        h2 = self.conv2(p1)
        p2 = F.max_pool2d(F.relu(h2), 2)
        if record is not None:
            record += [h1, h2]
        return F.log_softmax(self.fc(p2.flatten(1)), dim=1)


def margin(pre):
    """Smallest |ReLU input| and smallest gap between a 2x2 window's two largest ReLU outputs."""
    m = pre.abs().min().item()
    r = F.relu(pre)
    n, c, h, w = r.shape
    win = r[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    top = win.topk(2, dim=1).values
    gap = top[:, 0] - top[:, 1]
    # Windows whose maximum is 0 (all inputs <= 0) pass no gradient: their ties do not matter.
    gap = gap[top[:, 0] > 0]
    return min(m, gap.min().item() if gap.numel() else float("inf"))


def step(model, images, labels):
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    record = []
    logp = model(images, record)
    loss = -(logp * labels).sum() / images.shape[0]
    opt.zero_grad()
    loss.backward()
    out = {"log_probs": logp.detach(), "loss": loss.detach()}
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach().clone()
    opt.step()
    for name, p in model.named_parameters():
        out["new." + name] = p.detach().clone()
        s = opt.state[p]
        out["adam." + name + ".exp_avg"] = s["exp_avg"].clone()
        out["adam." + name + ".exp_avg_sq"] = s["exp_avg_sq"].clone()
    return out, min(margin(t.detach()) for t in record)


def main():
    for seed in range(100):
        torch.manual_seed(seed)
        model = Classifier().double()
        images = torch.rand(BATCH, 1, 28, 28, dtype=torch.float64)
        labels = F.one_hot(torch.randint(0, 10, (BATCH,)), 10).double()
        init = {"init." + k: v.detach().clone() for k, v in model.state_dict().items()}
        m32 = Classifier()
        m32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
        r64, margin64 = step(model, images, labels)
        r32, _ = step(m32, images.float(), labels.float())
        if margin64 >= MIN_MARGIN:
            break
    else:
        raise SystemExit("no seed in range(100) keeps the data %g clear of the kinks" % MIN_MARGIN)
    meta = dict(batch=BATCH, conv1_channels=C1, conv2_channels=C2, lr=LR, beta1=BETAS[0], beta2=BETAS[1], eps=EPS,
                seed=seed, margin="%.3g" % margin64, torch=torch.__version__,
                step="examples/fashion_mnist/classifier_model.cpp: one training step, docs/classifier.md")
    common = dict(init, images=images, labels=labels)
    st.save_file(dict(common, **r64), os.path.join(OUT, "classifier_step_f64.safetensors"), dict(meta, dtype="float64"))
    r32 = dict({k: v.float() for k, v in common.items()}, **r32)
    st.save_file(r32, os.path.join(OUT, "classifier_step_f32.safetensors"), dict(meta, dtype="float32"))
    rel = (r32["new.fc.weight"].double() - r64["new.fc.weight"]).norm() / r64["new.fc.weight"].norm()
    print("seed %d, margin %.3g, loss %.6f, PyTorch f32 vs f64 new fc.weight rel %.2e" % (seed, margin64, r64["loss"], rel))


if __name__ == "__main__":
    main()
