#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Convert pytorch-fid's Inception weights to the safetensors file that
`ralsgan eval --inception FILE` reads.

    python3 tools/inception/convert_pt_inception.py pt_inception-2015-12-05-6726825d.pth inception_fid.safetensors

The input is the public state dict pytorch-fid downloads from
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
(converted by pytorch-fid from TensorFlow's 2015-12-05 graph). Tensor names are
kept as they are (e.g. `Mixed_5b.branch1x1.conv.weight`, `Mixed_5b.branch1x1.bn.running_var`):
they are the names apps/metrics/inception.cpp binds. The classifier (fc.*),
AuxLogits.* and BatchNorm counters are dropped; everything is stored as F32.
Needs torch (any version that can torch.load the file) and numpy.
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import st  # noqa: E402
from fid_inception import FIDInceptionV3, state_dict_f32  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pth")
    ap.add_argument("out")
    args = ap.parse_args()
    sd = torch.load(args.pth, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    keep = {k: v for k, v in sd.items()
            if not k.startswith(("fc.", "AuxLogits.")) and not k.endswith("num_batches_tracked")}
    # Check the names and shapes against the FID network definition before writing.
    want = state_dict_f32(FIDInceptionV3(1.0))
    missing = sorted(set(want) - set(keep))
    extra = sorted(set(keep) - set(want))
    if missing or extra:
        sys.exit(f"{args.pth}: not pytorch-fid's Inception state dict (missing {missing[:5]}, unexpected {extra[:5]})")
    for k, v in want.items():
        if tuple(keep[k].shape) != tuple(v.shape):
            sys.exit(f"{args.pth}: {k} has shape {tuple(keep[k].shape)}, expected {tuple(v.shape)}")
    st.save_file({k: keep[k].detach().float().numpy().astype(np.float32) for k in sorted(keep)}, args.out,
                 metadata={"source": os.path.basename(args.pth), "network": "pytorch-fid fid_inception_v3", "width": "1"})
    print(f"wrote {len(keep)} tensors to {args.out}")


if __name__ == "__main__":
    main()
