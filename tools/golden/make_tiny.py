# SPDX-License-Identifier: Apache-2.0
"""Writes tests/data/golden/tiny.safetensors with the reference `safetensors`
package (PyPI, numpy API), for the C++ reader's interoperability test.

Run as: python3 tools/golden/make_tiny.py   (needs `pip install safetensors numpy`)
Expected values are hard-coded in tests/engine/test_safetensors.cpp.
"""
import os

import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

tensors = {
    "a": (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3),    # [-1, -0.5, 0, 0.5, 1, 1.5]
    "b": np.array(3.25, dtype=np.float64),                                # scalar, shape []
    "c": np.array([-1, 0, 2 ** 40], dtype=np.int64),
    "d": np.array([[0, 1], [254, 255]], dtype=np.uint8),
    "e": np.array([True, False, True]),
    "f": np.zeros((0,), dtype=np.int32),                                  # zero-size
    "g": np.array([1.0, -2.0], dtype=np.float16),                         # 0x3c00, 0xc000
    "h.w": np.array([[7, -8]], dtype=np.int32),
}
save_file(tensors, os.path.join(ROOT, "tests", "data", "golden", "tiny.safetensors"),
          metadata={"format": "np", "note": "tiny \"golden\" file"})
