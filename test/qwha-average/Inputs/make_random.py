"""Writes checkpoints of random F16, BF16 and F32 tensors for the exactness
test: per element, the values of all checkpoints lie within a few binades
of each other (as in checkpoints of one run) anywhere in the dtype's range,
subnormals included, and half of the elements have only two mantissa bits,
so that means often land exactly on ties.

usage: make_random.py <test/lib> <dir> <checkpoints> <elements> <seed>"""

import os
import random
import struct
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

directory, count, n, seed = (sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                             int(sys.argv[5]))
rng = random.Random(seed)
os.makedirs(directory, exist_ok=True)


def patterns(exponent_bits, mantissa_bits):
    """count lists of n bit patterns of a float format."""
    top = (1 << exponent_bits) - 2  # the largest finite exponent
    bases = [rng.randint(0, top) for _ in range(n)]
    result = []
    for _ in range(count):
        bits = []
        for j, base in enumerate(bases):
            exponent = min(max(base + rng.randint(-3, 3), 0), top)
            mantissa = rng.getrandbits(mantissa_bits)
            if j < n // 2:
                mantissa &= ~((1 << (mantissa_bits - 2)) - 1)
            sign = rng.getrandbits(1)
            bits.append(sign << (exponent_bits + mantissa_bits) |
                        exponent << mantissa_bits | mantissa)
        result.append(bits)
    return result


half, bf16, f32 = patterns(5, 10), patterns(8, 7), patterns(8, 23)
for k in range(count):
    safetensors_lite.write(os.path.join(directory, "c%d.safetensors" % k), {
        "half": ("F16", [n], struct.pack("<%dH" % n, *half[k])),
        "bf16": ("BF16", [n], struct.pack("<%dH" % n, *bf16[k])),
        "f32": ("F32", [n], struct.pack("<%dI" % n, *f32[k])),
    })
