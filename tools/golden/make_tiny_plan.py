# SPDX-License-Identifier: Apache-2.0
"""Writes tests/runtime/data/tiny_G.safetensors: a DCGAN generator of size 32,
width 1/32 (channels 8, 4, 2, 1) and nz = 4 from torch.manual_seed(5), PyTorch's
default init plus randomize_bn. Its plan (a few KB) is what the hostile-plan
tests mutate and the fuzz target starts from:

  python3 tools/golden/make_tiny_plan.py
  build/release/apps/ralsgan/ralsgan export --checkpoint tests/runtime/data/tiny_G.safetensors \
      --out tests/runtime/data --batch 2
  cp tests/runtime/data/model.rgplan fuzz/corpus/plan/tiny.rgplan
  build/release/apps/ralsgan/ralsgan export --checkpoint tests/runtime/data/tiny_G.safetensors \
      --out /tmp/tiny_bf16 --batch 2 --weights bf16
  cp /tmp/tiny_bf16/model.rgplan fuzz/corpus/plan/tiny_bf16.rgplan
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dcgan  # noqa: E402
import st  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

torch.manual_seed(5)
G = dcgan.make_G(32, 1.0 / 32, 4)
dcgan.randomize_bn(G)
st.save_file(dict(G.state_dict()), os.path.join(ROOT, "tests", "runtime", "data", "tiny_G.safetensors"),
             metadata={"format": "pt", "note": "tools/golden/make_tiny_plan.py"})
