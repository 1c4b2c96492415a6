#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares the PNGs two `ralsgan generate` folders have in common, pixel by
pixel: prints one JSON line with how many files were compared, how many are
byte-identical, and the largest difference in any 8-bit value. Pure Python
(zlib only), so it runs on a GPU machine without PIL or numpy:
    tools/compare_pngs.py DIR_A DIR_B [--limit N]
Reads 8-bit RGB/RGBA/gray non-interlaced PNGs, which is what ralsgan writes."""
import json
import os
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace:
                raise ValueError(f"{path}: only 8-bit non-interlaced PNGs")
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return (w, h, bpp), bytes(out)


def main():
    args = sys.argv[1:]
    limit = None
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    a, b = args
    names = sorted(set(n for n in os.listdir(a) if n.endswith(".png")) & set(os.listdir(b)))
    if limit is not None:
        names = names[:limit]
    identical, worst, differing_values = 0, 0, 0
    for n in names:
        pa, pb = os.path.join(a, n), os.path.join(b, n)
        if open(pa, "rb").read() == open(pb, "rb").read():
            identical += 1
            continue
        (sa, xa), (sb, xb) = pixels(pa), pixels(pb)
        if sa != sb:
            raise SystemExit(f"{n}: shapes differ {sa} vs {sb}")
        d = [abs(p - q) for p, q in zip(xa, xb)]
        worst = max(worst, max(d))
        differing_values += sum(1 for e in d if e)
    print(json.dumps({"compared": len(names), "byte_identical": identical, "max_abs_diff": worst,
                      "differing_values": differing_values, "a": a, "b": b}))


if __name__ == "__main__":
    main()
