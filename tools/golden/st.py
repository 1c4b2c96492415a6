# SPDX-License-Identifier: Apache-2.0
"""Minimal safetensors writer/reader for PyTorch tensors and numpy arrays (no
`safetensors` package needed); the one every script in tools/ and bench/ uses.

Same format as the reference implementation: 8-byte little-endian header length N,
N bytes of JSON (padded with spaces to a multiple of 8), then the data section.
Tensors are sorted by name and stored in that order.
"""
import json
import struct

import torch

_DTYPES = {
    torch.float64: ("F64", 8), torch.float32: ("F32", 4), torch.float16: ("F16", 2),
    torch.bfloat16: ("BF16", 2), torch.int64: ("I64", 8), torch.int32: ("I32", 4),
    torch.int16: ("I16", 2), torch.int8: ("I8", 1), torch.uint8: ("U8", 1), torch.bool: ("BOOL", 1),
}
_BY_NAME = {v[0]: k for k, v in _DTYPES.items()}


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.numel() == 0:
        return b""
    # view as uint8 to get the raw little-endian bytes (x86 and ARM are little-endian).
    assert struct.pack("=i", 1) == struct.pack("<i", 1), "big-endian host"
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else \
        t.reshape(-1).to(torch.uint8).numpy().tobytes()


def save_file(tensors, path, metadata=None):
    """tensors: name -> torch tensor or numpy array."""
    import numpy as np
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
               for k, v in tensors.items()}
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        dtype, size = _DTYPES[t.dtype]
        b = _tensor_bytes(t)
        assert len(b) == t.numel() * size, name
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_file(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _BY_NAME[info["dtype"]]
        raw = bytearray(data[base + b:base + e])
        if dt == torch.bool:
            t = torch.frombuffer(raw, dtype=torch.uint8).to(torch.bool) if raw else torch.empty(0, dtype=torch.bool)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta
