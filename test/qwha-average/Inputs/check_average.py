"""Checks an averaged checkpoint against its inputs, exactly.

usage: check_average.py <test/lib> <output> <input>... [--weights w...]

Every float tensor of the output must equal, bit for bit, the weighted mean
of the inputs' values computed in exact rational arithmetic and rounded once
to the tensor's dtype (nearest, ties to even), F64 tensors within two units
in the last place; integer and BOOL tensors must equal the first input's. Inputs and output are read with safetensors_lite,
not the project's reader. Prints one line per tensor, then the output's
metadata, for FileCheck."""

import json
import os
import struct
import sys
from fractions import Fraction

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

# Significand bits (with the leading one), minimum and maximum exponents.
FORMATS = {"F64": (53, -1022, 1023), "F32": (24, -126, 127),
           "F16": (11, -14, 15), "BF16": (8, -126, 127)}


def round_to(value, dtype):
    """`value` (a Fraction) rounded to nearest even in `dtype`, as a
    Fraction, or None when it overflows."""
    precision, emin, emax = FORMATS[dtype]
    if value == 0:
        return Fraction(0)
    sign = -1 if value < 0 else 1
    x = abs(value)
    # The exponent e with 2^e <= x < 2^(e+1), exactly.
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    e = max(e, emin)  # subnormals share the smallest exponent
    unit = Fraction(2) ** (e - precision + 1)
    q, r = divmod(x, unit)
    if r > unit / 2 or (r == unit / 2 and q % 2 == 1):
        q += 1
    result = q * unit
    if result >= Fraction(2) ** (emax + 1):
        return None
    return sign * result


def exact(value):
    return Fraction(value)


def load(path):
    """{name: (dtype, shape, values)} and the metadata of a checkpoint
    directory or file."""
    if not os.path.isdir(path):
        return safetensors_lite.read(path)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        tensors, metadata = {}, {}
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for shard in shards:
            content, metadata = safetensors_lite.read(os.path.join(path, shard))
            tensors.update(content)
        return tensors, metadata
    return safetensors_lite.read(os.path.join(path, "model.safetensors"))


def main():
    args = sys.argv[2:]
    weights = None
    if "--weights" in args:
        at = args.index("--weights")
        weights = [Fraction(w) for w in args[at + 1:]]
        args = args[:at]
    output, inputs = args[0], args[1:]
    weights = weights or [Fraction(1)] * len(inputs)
    assert len(weights) == len(inputs)
    total = sum(weights)

    result, metadata = load(output)
    sources = [load(path)[0] for path in inputs]
    assert sorted(result) == sorted(sources[0]), (sorted(result),
                                                  sorted(sources[0]))
    for name in sorted(result):
        dtype, shape, values = result[name]
        assert [list(s[name][:2]) for s in sources] == [[dtype, shape]] * len(
            sources), name
        if dtype not in FORMATS:
            assert values == sources[0][name][2], name
            print("%s %s %s: copied" % (name, dtype, shape))
            continue
        for j, value in enumerate(values):
            # A checkpoint of weight 0 does not count, even with a nan.
            mean = sum(w * exact(s[name][2][j])
                       for w, s in zip(weights, sources) if w) / total
            expected = round_to(mean, dtype)
            # F64 sums are rounded in double (the tool promises a unit or
            # two in the last place); the narrower dtypes are exact.
            tolerance = 0
            if dtype == "F64" and expected:
                tolerance = 2 * abs(expected) * Fraction(2) ** -52
            if expected is None or abs(exact(value) - expected) > tolerance:
                sys.exit("%s[%d]: got %r, expected %r (exact mean %s)" %
                         (name, j, value, expected and float(expected),
                          float(mean)))
        print("%s %s %s: exact" % (name, dtype, shape))
    for key in sorted(metadata):
        print("metadata %s = %s" % (key, metadata[key]))


main()
