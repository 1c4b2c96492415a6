#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the small seed corpora of the fuzz targets under fuzz/corpus/.
Run: /usr/bin/python3 fuzz/make_corpus.py [data] [safetensors]   (data needs numpy and cv2: python3-opencv)
The cache and safetensors seeds are written from the formats' descriptions, independently of the C++ writers."""
import gzip
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(sub, name, data):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def cache(size, paths, pixels, fit=0, fingerprint=0x1122334455667788):
    table = b"".join(struct.pack("<I", len(p)) + p for p in paths)
    pix_off = (128 + len(table) + 63) // 64 * 64
    pix = pixels.tobytes()
    h = bytearray(128)
    h[0:8] = b"RGDCACHE"
    struct.pack_into("<IIIIQIIQ", h, 8, 1, 128, size, 3, len(paths), fit, 0, fingerprint)
    struct.pack_into("<QQQQQII", h, 48, 128, len(table), pix_off, len(pix), pix_off + len(pix),
                     zlib.crc32(table), zlib.crc32(pix))
    struct.pack_into("<I", h, 124, zlib.crc32(bytes(h[:124])))
    return bytes(h) + table + b"\0" * (pix_off - 128 - len(table)) + pix


def safetensors(tensors, metadata=None):
    """A safetensors file as the format's README defines it: u64 header length,
    JSON header, data; tensors = [(name, dtype, shape, bytes)]."""
    import json
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def idx3(n, hh, ww):
    return bytes([0, 0, 8, 3]) + struct.pack(">III", n, hh, ww) + bytes((i * 7) & 255 for i in range(n * hh * ww))


def write_data_corpora():
    import cv2
    import numpy as np
    rng = np.random.RandomState(1)
    put("cache", "two_4x4.rgcache", cache(4, [b"a.png", b"dir/b.jpg"], rng.randint(0, 256, (2, 4, 4, 3)).astype(np.uint8)))
    put("cache", "one_2x2_stretch.rgcache", cache(2, [b"x"], rng.randint(0, 256, (1, 2, 2, 3)).astype(np.uint8), fit=1))
    put("idx", "images.idx3", idx3(2, 3, 4))
    put("idx", "images.idx3.gz", gzip.compress(idx3(3, 5, 5), mtime=0))
    put("idx", "labels.idx1", bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([0, 1, 2, 3, 9]))
    img = rng.randint(0, 256, (6, 7, 3)).astype(np.uint8)
    for ext, params in [(".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 80]), (".bmp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
                        (".tiff", [])]:
        ok, buf = cv2.imencode(ext, img, params)
        put("decode", "img" + ext, buf.tobytes())
    ok, buf = cv2.imencode(".png", np.dstack([img, img[:, :, :1]]))
    put("decode", "rgba.png", buf.tobytes())
    ok, buf = cv2.imencode(".png", (img[:, :, 0].astype(np.uint16) * 257))
    put("decode", "gray16.png", buf.tobytes())
    # A 3x2 GIF89a, global colour table of 2, transparent index 1 (hand-made).
    gif = (b"GIF89a" + struct.pack("<HHBBB", 3, 2, 0x80, 0, 0) + bytes([0, 0, 0, 255, 255, 255]) +
           bytes([0x21, 0xF9, 4, 1, 0, 0, 1, 0]) + b"\x2c" + struct.pack("<HHHHB", 0, 0, 3, 2, 0) +
           bytes([2, 2, 0x4C, 0x01, 0]) + b"\x3b")
    put("decode", "tiny.gif", gif)
    for name in ["cmyk.jpg", "progressive.jpg", "palette.png", "la.png"]:
        with open(os.path.join(HERE, "..", "tests", "data", "files", "decode", name), "rb") as f:
            put("decode", name, f.read())


def write_safetensors_corpus():
    put("safetensors", "empty.safetensors", safetensors([]))
    put("safetensors", "checkpoint_like.safetensors",
        safetensors([("model.0.weight", "F32", [2, 1, 2, 2], struct.pack("<8f", *[0.5 * i for i in range(8)])),
                     ("model.1.num_batches_tracked", "I64", [], struct.pack("<q", 3)),
                     ("model.1.running_var", "F32", [2], struct.pack("<2f", 1.0, 1.0))],
                    {"format": "pt", "step": "3", "crc32": "00000000"}))
    put("safetensors", "dtypes.safetensors",
        safetensors([("a", "F64", [1], struct.pack("<d", 1.5)), ("b", "BF16", [2], b"\x80\x3f\x00\x40"),
                     ("c", "U8", [0, 4], b""), ("d", "BOOL", [3], b"\x00\x01\x01"), ("e", "I32", [1, 1], b"\xff\xff\xff\xff")]))
    with open(os.path.join(HERE, "..", "tests", "data", "golden", "tiny.safetensors"), "rb") as f:  # written by PyTorch's
        put("safetensors", "tiny.safetensors", f.read())


if __name__ == "__main__":
    parts = sys.argv[1:] or ["data", "safetensors"]
    if "data" in parts:
        write_data_corpora()
    if "safetensors" in parts:
        write_safetensors_corpus()
    print("corpora written under", os.path.join(HERE, "corpus"))
