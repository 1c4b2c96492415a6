# SPDX-License-Identifier: Apache-2.0
"""Philox4x32-10 (Salmon et al., Random123) and the latent sampler of docs/contracts.md §4,
in pure Python, bit-identical to engine/rng/philox.cpp.

Run as: /usr/bin/python3 tools/golden/philox.py   (self-test: Random123 known
answers from docs/contracts.md §4, plus printed latents for the C++ cross-check)

latent(seed, stream, index, nz=128) -> torch.float32 tensor [nz]:
  key = (seed & 0xffffffff, seed >> 32); for k = 0..nz/4-1 the counter
  (k, index & 0xffffffff, index >> 32, stream) gives words x0..x3; Box-Muller in
  double on (x0, x1) and (x2, x3): u1 = (x_a + 1) / 2^32, u2 = x_b / 2^32,
  r = sqrt(-2 ln u1), n_a = r cos(2 pi u2), n_b = r sin(2 pi u2);
  component 4k+m is the m-th of (n0, n1, n2, n3), rounded to float32.
Python's math.log/cos/sin/sqrt are the C library's (glibc), as in the C++.

Cross-check against the C++ (done when this file was written, on x86-64 glibc,
g++ -std=c++20 -I/work/main engine/rng/philox.cpp check.cpp): a throwaway
program printing rg::latent_vector(7, stream 0, index 12345) and
rg::latent_vector(5, stream 1, index 2^33 + 3) as float32 bit patterns matched
`latent(7, 0, 12345)` and `latent(5, 1, 2**33 + 3)` here in all 128 components
(bit-equal). `python3 philox.py --hex SEED STREAM INDEX` prints the bit patterns.
"""
import math
import struct
import sys

M32 = 0xFFFFFFFF
_MUL0, _MUL1 = 0xD2511F53, 0xCD9E8D57
_WEYL0, _WEYL1 = 0x9E3779B9, 0xBB67AE85


def philox4x32_10(counter, key):
    """counter: 4 uint32 words, key: 2 uint32 words -> 4 uint32 words."""
    c0, c1, c2, c3 = (int(x) & M32 for x in counter)
    k0, k1 = (int(x) & M32 for x in key)
    for _ in range(10):
        p0 = _MUL0 * c0
        p1 = _MUL1 * c2
        hi0, lo0 = p0 >> 32, p0 & M32
        hi1, lo1 = p1 >> 32, p1 & M32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + _WEYL0) & M32
        k1 = (k1 + _WEYL1) & M32
    return (c0, c1, c2, c3)


def key_of(seed):
    seed = int(seed)
    assert 0 <= seed < 2 ** 64
    return (seed & M32, seed >> 32)


def words(seed, stream, index, k):
    index = int(index)
    assert 0 <= index < 2 ** 64
    return philox4x32_10((k, index & M32, index >> 32, int(stream)), key_of(seed))


def latent_list(seed, stream, index, nz=128):
    """Latent as a list of Python floats already rounded to float32."""
    assert nz % 4 == 0
    two_pi = 2.0 * math.pi
    out = []
    for k in range(nz // 4):
        x = words(seed, stream, index, k)
        for pair in range(2):
            u1 = (float(x[2 * pair]) + 1.0) / 4294967296.0
            u2 = float(x[2 * pair + 1]) / 4294967296.0
            r = math.sqrt(-2.0 * math.log(u1))
            out.append(r * math.cos(two_pi * u2))
            out.append(r * math.sin(two_pi * u2))
    # round to float32 (round-to-nearest-even, as static_cast<float>)
    return list(struct.unpack("<%df" % nz, struct.pack("<%df" % nz, *out)))


def latent(seed, stream, index, nz=128):
    import torch
    return torch.tensor(latent_list(seed, stream, index, nz), dtype=torch.float32)


def latents(seed, stream, indices, nz=128):
    import torch
    return torch.stack([latent(seed, stream, i, nz) for i in indices])


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]


def self_test():
    for ctr, key, want in KAT:
        got = philox4x32_10(ctr, key)
        assert got == want, (ctr, key, [hex(g) for g in got])
    # word layout: counter (k, index lo, index hi, stream), key (seed lo, seed hi)
    s, i = 0x0123456789ABCDEF, 2 ** 33 + 3
    assert words(s, 1, i, 5) == philox4x32_10((5, 3, 2, 1), (0x89ABCDEF, 0x01234567))
    z = latent_list(7, 0, 12345)
    assert len(z) == 128 and all(math.isfinite(v) for v in z)
    mean = sum(z) / 128
    var = sum((v - mean) ** 2 for v in z) / 128
    assert abs(mean) < 0.4 and 0.5 < var < 1.6, (mean, var)
    print("philox KAT: 3/3 ok")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--hex":
        seed, stream, index = (int(a, 0) for a in sys.argv[2:])
        print(" ".join("%08x" % f32_bits(v) for v in latent_list(seed, stream, index)))
    else:
        self_test()
        for seed, stream, index in ((7, 0, 12345), (5, 1, 2 ** 33 + 3)):
            z = latent_list(seed, stream, index)
            print("latent(%d, %d, %d)[:4] = %s" % (seed, stream, index, z[:4]))
