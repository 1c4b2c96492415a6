#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Makes detectors with known outputs for `ralsgan preprocess --detector` tests,
and YOLO-sized Darknet networks with deterministic weights for timing.

    make_detectors.py tiny OUT_DIR     # tiny_v5.onnx, tiny_v8.onnx, tiny.cfg, tiny.weights,
                                       # bad_shape.onnx, and images/ to run them on
    make_detectors.py yolov3 OUT_DIR   # yolov3.cfg + weights (Darknet-53, 416 px, 248 MB)
    make_detectors.py yolov3-tiny OUT_DIR

The tiny detectors see a 64x64 RGB input (values 0..1) as an 8x8 grid of
8-pixel cells. Every cell proposes one 16x16 box centred on the cell. With
r, g, b the mean red, green and blue of a cell (max for Darknet, whose pooling
is max):
  ONNX YOLOv5 layout [1, 64, 85]: cx, cy, w, h, obj = 1, class scores:
    person (0) = g - b, motorcycle (3) = r - b, every other class 0.
  ONNX YOLOv8 layout [1, 84, 64]: cx, cy, w, h, then the same class scores.
  Darknet (a [yolo] layer, one anchor 16x16): logits tx = ty = tw = th = 0,
    obj = 8(r + g) - 4, person = 8(g - b) - 4, motorcycle = 8(r - b) - 4,
    others -10; Darknet's sigmoid and exp give the boxes above.
So a red square gives motorcycle boxes on the cells it covers (score: the red
fraction of the cell), a green one person boxes, grey (the letterbox's bars)
nothing: the tests compute what the detector must return from the image.
Offline and deterministic (PyTorch for the ONNX files, numpy for Darknet's).
"""
import struct
import sys
from pathlib import Path

import numpy as np

CLASSES = 80
GRID = 8
CELL = 8
SIZE = GRID * CELL
BOX = 16.0
PERSON, MOTORCYCLE = 0, 3


def onnx_models(out: Path):
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self, v8: bool):
            super().__init__()
            self.v8 = v8
            rows = 4 + CLASSES + (0 if v8 else 1)
            w = torch.zeros(rows, 3, 1, 1)
            const = torch.zeros(1, rows, GRID, GRID)
            ys, xs = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
            const[0, 0] = xs * CELL + CELL / 2
            const[0, 1] = ys * CELL + CELL / 2
            const[0, 2] = BOX
            const[0, 3] = BOX
            first_class = 4 if v8 else 5
            if not v8:
                const[0, 4] = 1.0  # objectness
            w[first_class + PERSON, 1] = 1.0
            w[first_class + PERSON, 2] = -1.0
            w[first_class + MOTORCYCLE, 0] = 1.0
            w[first_class + MOTORCYCLE, 2] = -1.0
            self.register_buffer("w", w)
            self.register_buffer("const", const)

        def forward(self, x):
            cells = torch.nn.functional.avg_pool2d(x, CELL)
            y = torch.nn.functional.conv2d(cells, self.w) + self.const
            y = y.reshape(1, y.shape[1], GRID * GRID)
            return y if self.v8 else y.transpose(1, 2)

    for name, v8 in (("tiny_v5.onnx", False), ("tiny_v8.onnx", True)):
        torch.onnx.export(Tiny(v8), torch.zeros(1, 3, SIZE, SIZE), str(out / name),
                          input_names=["images"], output_names=["output0"], opset_version=12,
                          dynamo=False)


def bad_shape_model(out: Path):
    """An ONNX model whose output is no YOLO layout ([1, 8, 3])."""
    import torch

    class Bad(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.avg_pool2d(x, (8, 64))[:, :, :, 0].transpose(1, 2)  # [1, 8, 3]

    torch.onnx.export(Bad(), torch.zeros(1, 3, SIZE, SIZE), str(out / "bad_shape.onnx"),
                      input_names=["images"], output_names=["output0"], opset_version=12, dynamo=False)


def test_images(out: Path):
    """Images whose detections the tests work out from the model's definition."""
    from PIL import Image, ImageDraw

    out.mkdir(exist_ok=True)
    red, green = (255, 0, 0), (0, 255, 0)

    def image(name, size, rects):
        im = Image.new("RGB", size)
        d = ImageDraw.Draw(im)
        for box, colour in rects:
            d.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=colour)
        im.save(out / name)
        return im

    im = image("red_square.png", (64, 64), [((16, 8, 32, 16), red)])
    im.putpixel((63, 63), (40, 40, 40))  # not the same file, nearly the same picture
    im.save(out / "red_square_again.png")
    image("wide_red.png", (128, 64), [((64, 16, 96, 48), red)])
    image("green.png", (64, 64), [((40, 40, 56, 56), green)])
    image("black.png", (64, 64), [])
    image("two_red.png", (64, 64), [((8, 8, 16, 16), red), ((40, 40, 48, 48), red)])
    image("small_red.png", (64, 64), [((48, 16, 52, 20), red)])
    jpeg = out / "broken.jpg"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(jpeg, quality=90)
    jpeg.write_bytes(jpeg.read_bytes()[:300])  # cut short: no decodable image


def darknet_weights(path: Path, layers):
    """layers: (biases, scales, mean, var, weights) with None for absent parts."""
    with open(path, "wb") as f:
        f.write(struct.pack("<iiiq", 0, 2, 0, 0))  # major, minor, revision, images seen
        for parts in layers:
            for p in parts:
                if p is not None:
                    f.write(np.asarray(p, dtype="<f4").tobytes())


def tiny_darknet(out: Path):
    rows = 5 + CLASSES
    (out / "tiny.cfg").write_text(f"""[net]
width={SIZE}
height={SIZE}
channels=3

[maxpool]
size={CELL}
stride={CELL}
padding=0

[convolutional]
size=1
stride=1
pad=0
filters={rows}
activation=linear

[yolo]
mask=0
anchors={int(BOX)},{int(BOX)}
classes={CLASSES}
num=1
""")
    w = np.zeros((rows, 3), np.float32)
    b = np.full(rows, -10.0, np.float32)
    b[:4] = 0
    w[4, 0] = w[4, 1] = 8
    b[4] = -4
    w[5 + PERSON, 1], w[5 + PERSON, 2] = 8, -8
    b[5 + PERSON] = -4
    w[5 + MOTORCYCLE, 0], w[5 + MOTORCYCLE, 2] = 8, -8
    b[5 + MOTORCYCLE] = -4
    darknet_weights(out / "tiny.weights", [(b, None, None, None, w)])


def big_darknet(out: Path, tiny: bool):
    """A Darknet YOLOv3 (Darknet-53 + three [yolo] heads, 416 px) or YOLOv3-tiny
    layout with deterministic random weights: their cost, not their accuracy."""
    rng = np.random.default_rng(0)
    lines = ["[net]", "width=416", "height=416", "channels=3", ""]
    convs = []  # (in, out, k, bn)
    channels = [3]  # output channels of every layer, for routes

    def conv(c_out, k, stride=1, bn=True, act="leaky"):
        c_in = channels[-1]
        lines.extend(["[convolutional]", f"batch_normalize={int(bn)}", f"filters={c_out}",
                      f"size={k}", f"stride={stride}", f"pad={1 if k > 1 else 0}",
                      f"activation={act}", ""])
        convs.append((c_in, c_out, k, bn))
        channels.append(c_out)

    def layer(text, c):
        lines.extend(text + [""])
        channels.append(c)

    anchors = "10,13,16,30,33,23,30,61,62,45,59,119,116,90,156,198,373,326"
    rows = 3 * (5 + CLASSES)

    def yolo(mask):
        layer(["[yolo]", f"mask={mask}", f"anchors={anchors}", f"classes={CLASSES}", "num=9"],
              channels[-1])

    def idx():
        return len(channels) - 2  # index of the last layer (channels[0] is the input)

    if tiny:
        for c in (16, 32, 64, 128, 256):
            conv(c, 3)
            layer(["[maxpool]", "size=2", "stride=2"], channels[-1])
        conv(512, 3)
        layer(["[maxpool]", "size=2", "stride=1"], channels[-1])
        conv(1024, 3)
        conv(256, 1)
        route_a = idx()
        conv(512, 3)
        conv(rows, 1, bn=False, act="linear")
        yolo("3,4,5")
        layer(["[route]", f"layers={route_a}"], channels[route_a + 1])
        conv(128, 1)
        layer(["[upsample]", "stride=2"], channels[-1])
        layer(["[route]", f"layers=-1,8"], channels[-1] + channels[9])
        conv(256, 3)
        conv(rows, 1, bn=False, act="linear")
        yolo("0,1,2")
        lines[lines.index("anchors=" + anchors)] = "anchors=10,14,23,27,37,58,81,82,135,169,344,319"
        for i, l in enumerate(lines):
            if l.startswith("anchors="):
                lines[i] = "anchors=10,14,23,27,37,58,81,82,135,169,344,319"
            if l == "num=9":
                lines[i] = "num=6"
    else:
        conv(32, 3)
        taps = []
        for c, blocks in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
            conv(c, 3, 2)
            for _ in range(blocks):
                conv(c // 2, 1)
                conv(c, 3)
                layer(["[shortcut]", "from=-3", "activation=linear"], c)
            taps.append(idx())
        for scale, (c, mask) in enumerate(((512, "6,7,8"), (256, "3,4,5"), (128, "0,1,2"))):
            if scale:
                layer(["[route]", "layers=-4"], channels[-4])
                conv(c, 1)
                layer(["[upsample]", "stride=2"], c)
                tap = taps[4 - scale]
                layer(["[route]", f"layers=-1,{tap}"], c + channels[tap + 1])
            for _ in range(3):
                conv(c, 1)
                conv(2 * c, 3)
            conv(rows, 1, bn=False, act="linear")
            yolo(mask)
    name = "yolov3-tiny" if tiny else "yolov3"
    (out / f"{name}.cfg").write_text("\n".join(lines))
    layers = []
    for c_in, c_out, k, bn in convs:
        w = (rng.standard_normal(c_out * c_in * k * k, dtype=np.float32) *
             np.float32((2.0 / (c_in * k * k)) ** 0.5))
        if bn:
            layers.append((np.zeros(c_out), np.ones(c_out), np.zeros(c_out), np.ones(c_out), w))
        else:
            layers.append((np.zeros(c_out), None, None, None, w))
    darknet_weights(out / f"{name}.weights", layers)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("tiny", "yolov3", "yolov3-tiny"):
        sys.exit(__doc__)
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if sys.argv[1] == "tiny":
        onnx_models(out)
        bad_shape_model(out)
        tiny_darknet(out)
        test_images(out / "images")
    else:
        big_darknet(out, sys.argv[1] == "yolov3-tiny")


if __name__ == "__main__":
    main()
