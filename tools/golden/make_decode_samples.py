#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Small sample images that OpenCV cannot write (CMYK and progressive JPEG,
palette and gray+alpha PNG), made with Pillow, plus the pixels an independent
decoder (Pillow) gives for each, as binary PPM (P6, RGB).

Run:  /usr/bin/python3 tools/golden/make_decode_samples.py
Writes tests/data/files/decode/{cmyk.jpg,progressive.jpg,palette.png,la.png}
and NAME.expected.ppm beside each. Alpha is composited on black:
round(v * a / 255), the rule of docs/data.md.
"""
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "files", "decode")


def ppm(path, rgb):
    h, w = rgb.shape[:2]
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(rgb, np.uint8).tobytes())


def smooth(h, w):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 255) // (w - 1), (y * 255) // (h - 1), np.full((h, w), 90)], -1).astype(np.uint8)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    rgb = smooth(24, 40)
    # CMYK JPEG (Pillow writes Adobe-style inverted CMYK).
    Image.fromarray(rgb).convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
    ppm(os.path.join(OUT, "cmyk.jpg.expected.ppm"), np.asarray(Image.open(os.path.join(OUT, "cmyk.jpg")).convert("RGB")))
    # Progressive JPEG.
    Image.fromarray(rgb).save(os.path.join(OUT, "progressive.jpg"), quality=95, progressive=True)
    ppm(os.path.join(OUT, "progressive.jpg.expected.ppm"),
        np.asarray(Image.open(os.path.join(OUT, "progressive.jpg")).convert("RGB")))
    # Palette PNG with 5 colours.
    idx = (np.arange(12 * 20).reshape(12, 20) // 7 % 5).astype(np.uint8)
    pal = [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 200, 10, 33, 66, 99]
    p = Image.fromarray(idx, "P")
    p.putpalette(pal + [0] * (768 - len(pal)))
    p.save(os.path.join(OUT, "palette.png"))
    ppm(os.path.join(OUT, "palette.png.expected.ppm"), np.asarray(Image.open(os.path.join(OUT, "palette.png")).convert("RGB")))
    # Gray + alpha PNG.
    g = (np.arange(10 * 16).reshape(10, 16) * 3 % 256).astype(np.uint8)
    a = (np.arange(10 * 16).reshape(10, 16) * 11 % 256).astype(np.uint8)
    Image.fromarray(np.stack([g, a], -1), "LA").save(os.path.join(OUT, "la.png"))
    comp = (g.astype(np.uint32) * a + 127) // 255
    ppm(os.path.join(OUT, "la.png.expected.ppm"), np.repeat(comp[:, :, None], 3, 2).astype(np.uint8))
    print("wrote samples to", OUT)
