"""Writes calibration files for the quantization tests: per layer, an
H = (2/N) X^T X from deterministic pseudo-random correlated inputs, and
malformed variants for the error tests.

usage: make_calibration.py <test/lib> <out.safetensors> <kind> [layer:features ...]
kind: good | nan | no-nsamples | zero-samples | wrong-dtype | extra-tensor | singular
"""

import random
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402


def hessian(k, rows, seed):
    rng = random.Random(seed)
    xs = []
    for _ in range(rows):
        z = [rng.gauss(0, 1) for _ in range(k)]
        # neighbouring features correlated, scales differing by feature
        xs.append([(z[i] + 0.8 * z[i - 1]) * (1 + 0.2 * (i % 3)) if i else z[0]
                   for i in range(k)])
    return [2.0 / rows * sum(x[i] * x[j] for x in xs) for i in range(k) for j in range(k)]


def main():
    out, kind = sys.argv[2], sys.argv[3]
    tensors = {}
    for seed, spec in enumerate(sys.argv[4:]):
        name, k = spec.rsplit(":", 1)
        k = int(k)
        rows = 4 * k
        h = hessian(k, rows, seed)
        if kind == "nan":
            h[1] = float("nan")
        if kind == "singular":
            h = [-1.0 if i == j else 0.0 for i in range(k) for j in range(k)]
        dtype = "F64" if kind == "wrong-dtype" else "F32"
        tensors[name + ".hessian"] = (dtype, [k, k], h)
        if kind != "no-nsamples":
            tensors[name + ".nsamples"] = ("I64", [], [0 if kind == "zero-samples" else rows])
    if kind == "extra-tensor":
        tensors["stray"] = ("F32", [1], [0.0])
    safetensors_lite.write(out, tensors)


main()
