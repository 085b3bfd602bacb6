"""Generates samples for two-layer.mlir, and checks a calibration file
against H = (2/N) sum x x^T computed here, in plain Python, from the same
samples and the model's weights."""

import random
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

W1 = [[0.5, -1.0, 0.25, 0.0, 1.0, 0.5, -0.5, 0.75],
      [1.0, 0.5, -0.25, 0.5, 0.0, -1.0, 0.25, 0.5],
      [-0.5, 0.25, 1.0, -0.75, 0.5, 0.0, 1.0, -0.25],
      [0.25, 0.75, 0.5, 1.0, -0.5, 0.25, 0.0, 1.0],
      [0.0, -0.5, 0.75, 0.25, 1.0, 0.5, -1.0, 0.0],
      [1.0, 1.0, -0.5, 0.5, 0.25, -0.25, 0.5, 0.75]]
B1 = [0.1, -0.2, 0.3, 0.0, -0.1, 0.2]
SAMPLES = 5


def samples():
    rng = random.Random(7)
    return [[[round(rng.uniform(-2, 2), 2) for _ in range(8)] for _ in range(2)]
            for _ in range(SAMPLES)]


def hessian(rows):
    k = len(rows[0])
    return [[2.0 / len(rows) * sum(r[i] * r[j] for r in rows) for j in range(k)]
            for i in range(k)]


def main():
    mode, path = sys.argv[2], sys.argv[3]
    xs = samples()
    if mode == "make":
        flat = [v for s in xs for row in s for v in row]
        safetensors_lite.write(path, {"arg0": ("F32", [SAMPLES, 2, 8], flat)})
        return
    tensors, metadata = safetensors_lite.read(path)
    rows1 = [row for s in xs for row in s]
    rows2 = [[max(0.0, sum(w * x for w, x in zip(W1[n], row)) + B1[n]) for n in range(6)]
             for row in rows1]
    for layer, rows in (("fc1", rows1), ("fc2", rows2)):
        dtype, shape, values = tensors[layer + ".hessian"]
        expected = hessian(rows)
        k = len(expected)
        assert dtype == "F32" and shape == [k, k], (layer, dtype, shape)
        worst = max(abs(values[i * k + j] - expected[i][j]) / (1 + abs(expected[i][j]))
                    for i in range(k) for j in range(k))
        count = tensors[layer + ".nsamples"]
        print(f"{layer}: {k}x{k} nsamples={count[2][0]} max rel err={worst:.1e}")
        assert count[0] == "I64" and count[1] == [] and count[2] == [len(rows)]
        assert worst < 1e-5, worst
    assert sorted(tensors) == ["fc1.hessian", "fc1.nsamples", "fc2.hessian", "fc2.nsamples"]
    print("calibration matches")


main()
