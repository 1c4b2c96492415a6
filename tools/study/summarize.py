#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Summarises tools/study/quality_study.sh's OUT/results.tsv as the markdown
table of docs/quality.md (mean SWD x1e3 per arm and data size over the seeds,
with the sample standard deviation and the range), and puts the four arms'
sample grids of one seed side by side (OUT/grids_<images>_seed<S>.png; needs
Pillow).

    summarize.py OUT [SEED_FOR_GRIDS]
"""
import csv
import statistics
import sys
from pathlib import Path

ARMS = ["seed", "ema", "diffaugment", "both"]
LABEL = {"seed": "the seed's recipe", "ema": "+ EMA", "diffaugment": "+ DiffAugment", "both": "+ both"}


def main():
    out = Path(sys.argv[1])
    grid_seed = sys.argv[2] if len(sys.argv) > 2 else "0"
    rows = list(csv.DictReader(open(out / "results.tsv"), delimiter="\t"))
    sizes = sorted({r["images"] for r in rows}, key=lambda s: int(s) or 10 ** 9)
    print("| images | arm | runs | SWD mean x1e3 | std | min - max | vs the seed's recipe |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in sizes:
        base = None
        for arm in ARMS:
            v = [float(r["swd_mean"]) for r in rows if r["images"] == size and r["arm"] == arm]
            if not v:
                continue
            m = statistics.mean(v)
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            base = m if arm == "seed" else base
            rel = "" if arm == "seed" or base is None else "%+.1f %%" % (100 * (m / base - 1))
            name = "60,000 (all)" if size == "0" else "{:,}".format(int(size))
            print("| %s | %s | %d | %.2f | %.2f | %.2f - %.2f | %s |" % (
                name, LABEL[arm], len(v), m, sd, min(v), max(v), rel))
    try:
        from PIL import Image
    except ImportError:
        return
    for size in sizes:
        grids = [out / f"run_{size}_{arm}_{grid_seed}" / "samples" / "latest.png" for arm in ARMS]
        if not all(g.exists() for g in grids):
            continue
        ims = [Image.open(g).convert("RGB") for g in grids]
        w, h = ims[0].size
        sheet = Image.new("RGB", (4 * w + 3 * 8, h), (255, 255, 255))
        for i, im in enumerate(ims):
            sheet.paste(im, (i * (w + 8), 0))
        sheet.save(out / f"grids_{size}_seed{grid_seed}.png")


if __name__ == "__main__":
    main()
