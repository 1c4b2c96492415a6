#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Golden data for tests/data: letterbox/stretch outputs made with OpenCV's
Python bindings (Debian's python3-opencv 4.6, the same OpenCV as the C++ build),
written from the rules of docs/contracts.md §6 independently of the C++ code.

Run:  /usr/bin/python3 tools/golden/make_letterbox_golden.py
Needs numpy and cv2 (apt-get install python3-opencv). Writes PNG files (RGB
content) under tests/data/files/letterbox/: in_HxW.png and
out_{pad,stretch}_HxW_SIZE.png.
"""
import os

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "files", "letterbox")


def new_side(side, size, longest):
    # docs/contracts.md §6: int(side * size / max(h, w)); never below 1 (ralsgan's rule).
    return max(1, int(side * size / longest))


def letterbox(img, size):
    h, w = img.shape[:2]
    m = max(h, w)
    nh, nw = new_side(h, size, m), new_side(w, size, m)
    interp = cv2.INTER_AREA if m > size else cv2.INTER_LINEAR
    r = img if (nh, nw) == (h, w) else cv2.resize(img, (nw, nh), interpolation=interp)
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = r
    return out


def stretch(img, size):
    h, w = img.shape[:2]
    interp = cv2.INTER_AREA if (h > size or w > size) else cv2.INTER_LINEAR
    if (h, w) == (size, size):
        return img.copy()
    return cv2.resize(img, (size, size), interpolation=interp)


def make_input(h, w, seed):
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), ((x + y) * 7) % 256], -1)
    noise = rng.randint(-40, 41, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def save_rgb(path, rgb):
    assert cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


CASES = [  # (h, w, size)
    (37, 100, 32), (100, 37, 32), (20, 30, 64), (64, 64, 32), (64, 64, 64), (1, 50, 16),
    (50, 1, 16), (97, 61, 48), (13, 17, 64), (150, 100, 64), (28, 28, 32), (100, 10, 32),
]

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for i, (h, w, size) in enumerate(CASES):
        img = make_input(h, w, h * 1000 + w)
        save_rgb(os.path.join(OUT, f"in_{h}x{w}.png"), img)
        save_rgb(os.path.join(OUT, f"out_pad_{h}x{w}_{size}.png"), letterbox(img, size))
        save_rgb(os.path.join(OUT, f"out_stretch_{h}x{w}_{size}.png"), stretch(img, size))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        for h, w, size in CASES:
            f.write(f"{h} {w} {size}\n")
    print("wrote", len(CASES), "cases to", OUT)
