"""Writes adapter files for the qwha-load-adapters tests.

usage: make_adapters.py <test/lib> <out.safetensors> <kind> [layer ...]
kind: good | out-of-range | duplicate | length | dtype | nan | orphan-values
Each layer gets entries (0, 0) = 1, (1, 3) = -2, (3, 15) = 0.5 of a 4 x 16
adapter (flat indices 0, 19, 63)."""

import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

out, kind = sys.argv[2], sys.argv[3]
tensors = {}
for layer in sys.argv[4:]:
    indices, values = [0, 19, 63], [1.0, -2.0, 0.5]
    if kind == "out-of-range":
        indices[2] = 64
    if kind == "duplicate":
        indices[2] = 19
    if kind == "length":
        values = values[:2]
    if kind == "nan":
        values[1] = float("nan")
    dtype = "I64" if kind == "dtype" else "I32"
    tensors[layer + ".wha.indices"] = (dtype, [len(indices)], indices)
    tensors[layer + ".wha.values"] = ("F32", [len(values)], values)
if kind == "orphan-values":
    tensors["lonely.wha.values"] = ("F32", [1], [1.0])
safetensors_lite.write(out, tensors)
