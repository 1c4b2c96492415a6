# SPDX-License-Identifier: Apache-2.0
"""Golden data for the conv-net op set (tests/ops/test_op_golden.cpp): each op
run by PyTorch in float64 on fixed random inputs.

Run as: /root/torchvenv/bin/python tools/golden/make_op_golden.py
Writes tests/ops/golden/ops.safetensors. Tensors, per case NAME:
  NAME.x, NAME.<input>   the inputs (float64)
  NAME.y                 the op's output (float64)
Adding an op: a case here, the same case in test_op_golden.cpp.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

torch.manual_seed(20261207)
out = {}


def case(name, inputs, fn):
    for k, v in inputs.items():
        out[f"{name}.{k}"] = v
    out[f"{name}.y"] = fn(**inputs)


def randn(*shape, scale=1.0, shift=0.0):
    return torch.randn(*shape, dtype=torch.float64) * scale + shift


# GroupNormalization (ONNX opset 21, torch.nn.functional.group_norm) and
# InstanceNormalization (one group per channel); inputs with an offset and a
# scale so that the mean and variance matter.
case("group_norm_g2", {"x": randn(2, 6, 5, 7, scale=3.0, shift=1.5), "scale": randn(6), "bias": randn(6)},
     lambda x, scale, bias: F.group_norm(x, 2, scale, bias, eps=1e-5))
case("group_norm_g1", {"x": randn(3, 4, 3, 3, scale=0.5, shift=-2.0), "scale": randn(4), "bias": randn(4)},
     lambda x, scale, bias: F.group_norm(x, 1, scale, bias, eps=1e-3))
case("instance_norm", {"x": randn(2, 5, 9, 8, scale=2.0, shift=0.7), "scale": randn(5), "bias": randn(5)},
     lambda x, scale, bias: F.instance_norm(x, weight=scale, bias=bias, eps=1e-5))

# Convolutions with groups (depthwise too) and dilation, and a grouped,
# dilated transposed convolution with output padding (weights as PyTorch
# stores them: OIHW [c_out, c_in / groups, kh, kw], IOHW [c_in, c_out / groups, kh, kw]).
case("conv_groups2_dilation2", {"x": randn(2, 4, 9, 8), "w": randn(6, 2, 3, 3)},
     lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2))
case("conv_depthwise", {"x": randn(2, 8, 7, 7), "w": randn(8, 1, 3, 3)},
     lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=8))
case("conv_transpose_groups2_dilation2", {"x": randn(2, 4, 3, 4), "w": randn(4, 3, 3, 2)},
     lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=(1, 0), output_padding=(1, 0), dilation=2, groups=2))

# Pooling with ceil_mode (PyTorch's rule: a last window starting in the
# trailing padding is dropped; the average's divisor stops at the padding).
case("max_pool_k3s2p1_ceil", {"x": randn(2, 3, 10, 9)},
     lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True))
case("avg_pool_k3s2p1_ceil_incl", {"x": randn(2, 3, 10, 9)},
     lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True))
case("avg_pool_k3s2p1_ceil_excl", {"x": randn(2, 3, 10, 9)},
     lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False))
case("avg_pool_k2s2_ceil_incl", {"x": randn(1, 4, 7, 5)},
     lambda x: F.avg_pool2d(x, 2, stride=2, ceil_mode=True, count_include_pad=True))

# Activations of the set (ONNX Elu, Clip, HardSigmoid, HardSwish, PRelu).
case("elu", {"x": randn(2, 3, 5, 4, scale=2.0)}, lambda x: F.elu(x, alpha=0.7))
case("clip", {"x": randn(2, 3, 5, 4, scale=2.0)}, lambda x: torch.clamp(x, -1.0, 1.5))
case("hard_sigmoid", {"x": randn(2, 3, 5, 4, scale=4.0)}, lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0))
case("hard_swish", {"x": randn(2, 3, 5, 4, scale=4.0)}, lambda x: F.hardswish(x))
case("prelu", {"x": randn(2, 3, 5, 4), "slope": randn(3, 1, 1, scale=0.3)},
     lambda x, slope: F.prelu(x, slope.reshape(3)))

# Softmax along the last axis; transpose (ShuffleNet's channel shuffle is a
# reshape, transpose, reshape).
case("softmax", {"x": randn(4, 3, 10, scale=3.0)}, lambda x: torch.softmax(x, -1))
case("softmax_axis1", {"x": randn(2, 5, 3, 4, scale=3.0)}, lambda x: torch.softmax(x, 1))
case("log_softmax_axis1", {"x": randn(2, 5, 3, 4, scale=3.0)}, lambda x: torch.log_softmax(x, 1))
case("transpose_1023", {"x": randn(2, 3, 4, 5)}, lambda x: x.permute(1, 0, 2, 3).contiguous())
case("channel_shuffle", {"x": randn(2, 6, 3, 3)},
     lambda x: x.reshape(2, 2, 3, 3, 3).transpose(1, 2).reshape(2, 6, 3, 3).contiguous())

# Pad (ONNX modes constant, reflect, edge = PyTorch's constant, reflect,
# replicate) and nearest resize (F.interpolate's "nearest": floor(d * in / out)).
case("pad_constant", {"x": randn(2, 3, 4, 5)}, lambda x: F.pad(x, (1, 3, 2, 0), value=0.5))
case("pad_reflect", {"x": randn(2, 3, 4, 5)}, lambda x: F.pad(x, (2, 1, 3, 1), mode="reflect"))
case("pad_edge", {"x": randn(2, 3, 4, 5)}, lambda x: F.pad(x, (0, 2, 1, 3), mode="replicate"))
# ONNX's asymmetric pads (pads = [top, left, bottom, right]; auto_pad
# SAME_UPPER / SAME_LOWER come to this): PyTorch pads explicitly (F.pad takes
# left, right, top, bottom), then runs the op without padding. The excluding
# average divides the padded sum by the padded count of real elements.
def asym(x, t, l, b, r, value=0.0):
    return F.pad(x, (l, r, t, b), value=value)


case("conv_pads_1021_s2", {"x": randn(2, 3, 8, 7), "w": randn(4, 3, 3, 3)},
     lambda x, w: F.conv2d(asym(x, 1, 0, 2, 1), w, stride=2))
case("conv_same_lower_k2", {"x": randn(1, 4, 5, 6), "w": randn(4, 2, 2, 2)},
     lambda x, w: F.conv2d(asym(x, 1, 1, 0, 0), w, groups=2))
# ConvTranspose: the full output cropped by the pads at each side.
case("conv_transpose_pads_0112_s2", {"x": randn(2, 3, 4, 3), "w": randn(3, 2, 3, 3)},
     lambda x, w: F.conv_transpose2d(x, w, stride=2)[:, :, 0:9 - 1, 1:7 - 2])
case("max_pool_pads_0101_k3s2", {"x": randn(2, 3, 8, 8)},
     lambda x: F.max_pool2d(asym(x, 0, 0, 1, 1, value=float("-inf")), 3, stride=2))
case("avg_pool_pads_1001_k2s2_incl", {"x": randn(2, 3, 7, 6)},
     lambda x: F.avg_pool2d(asym(x, 1, 0, 0, 1), 2, stride=2))
case("avg_pool_pads_1001_k2s2_excl", {"x": randn(2, 3, 7, 6)},
     lambda x: F.avg_pool2d(asym(x, 1, 0, 0, 1), 2, stride=2, divisor_override=1)
     / F.avg_pool2d(asym(torch.ones_like(x), 1, 0, 0, 1), 2, stride=2, divisor_override=1))
case("resize_nearest_up2", {"x": randn(2, 3, 4, 5)}, lambda x: F.interpolate(x, scale_factor=2, mode="nearest"))
case("resize_nearest_7x3", {"x": randn(2, 3, 4, 5)}, lambda x: F.interpolate(x, size=(7, 3), mode="nearest"))

# ONNX Resize's modes against the F.interpolate calls that compute them:
# align_corners (bilinear, align_corners=True); half_pixel with
# round_prefer_ceil ("nearest-exact"); a model's own scale of 1.7 (5 -> 8,
# 6 -> 10), with half_pixel (bilinear) and asymmetric floor (nearest), as
# scale_factor without recompute_scale_factor.
case("resize_linear_align_corners", {"x": randn(2, 3, 5, 4)},
     lambda x: F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=True))
case("resize_nearest_half_pixel_ceil", {"x": randn(2, 3, 4, 5)},
     lambda x: F.interpolate(x, size=(7, 3), mode="nearest-exact"))
case("resize_linear_scale_1p7", {"x": randn(1, 2, 5, 6)},
     lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=False, recompute_scale_factor=False))
case("resize_nearest_scale_1p7", {"x": randn(1, 2, 5, 6)},
     lambda x: F.interpolate(x, scale_factor=1.7, mode="nearest", recompute_scale_factor=False))


# MatMul with batch dimensions, broadcast as numpy's (ONNX MatMul).
case("matmul_batch_broadcast", {"a": randn(2, 1, 3, 4), "b": randn(3, 4, 5)}, lambda a, b: torch.matmul(a, b))


# Pooling with dilation (ONNX's dilations): max against PyTorch; average
# (PyTorch has no dilated average) by a loop written here from ONNX's
# definition: the taps inside the input, summed, divided by their count.
def avg_pool_dilated(x, k, s, p, d):
    n, c, h, w = x.shape
    ho = (h + 2 * p[0] - (k[0] - 1) * d[0] - 1) // s[0] + 1
    wo = (w + 2 * p[1] - (k[1] - 1) * d[1] - 1) // s[1] + 1
    y = torch.zeros(n, c, ho, wo, dtype=torch.float64)
    for oh in range(ho):
        for ow in range(wo):
            taps = [(oh * s[0] - p[0] + i * d[0], ow * s[1] - p[1] + j * d[1]) for i in range(k[0]) for j in range(k[1])]
            taps = [(a, b) for a, b in taps if 0 <= a < h and 0 <= b < w]
            y[:, :, oh, ow] = sum(x[:, :, a, b] for a, b in taps) / len(taps)
    return y


case("max_pool_dilated_ceil", {"x": randn(2, 3, 11, 10)},
     lambda x: F.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 3), ceil_mode=True))
case("avg_pool_dilated_excl", {"x": randn(2, 2, 8, 9)}, lambda x: avg_pool_dilated(x, (2, 3), (1, 2), (1, 2), (3, 2)))


# LRN across channels: an odd size against torch's local_response_norm; an
# even one against ONNX's definition (the window has floor((size-1)/2)
# channels before, ceil after; torch puts the extra one before).
def lrn_onnx(x, size, alpha, beta, bias):
    c = x.shape[1]
    sq = x * x
    out = torch.empty_like(x)
    for ch in range(c):
        lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + size // 2)
        out[:, ch] = x[:, ch] / (bias + alpha / size * sq[:, lo:hi + 1].sum(1)) ** beta
    return out


case("lrn_size5", {"x": randn(2, 10, 4, 3, scale=2.0)}, lambda x: F.local_response_norm(x, 5, alpha=0.4, beta=0.75, k=2.0))
case("lrn_size4", {"x": randn(2, 6, 3, 3, scale=2.0)}, lambda x: lrn_onnx(x, 4, 0.3, 0.6, 1.0))

path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ops", "golden", "ops.safetensors")
st.save_file(out, os.path.normpath(path), metadata={"torch": torch.__version__})
print(f"wrote {len(out)} tensors to {os.path.normpath(path)}")
