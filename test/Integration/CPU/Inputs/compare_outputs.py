"""Compares the tensors two mlir-runner runs printed (printMemrefF32) and
checks the quantized model's output stays close to the float model's:
reports the relative error ||y_q - y|| / ||y||."""

import re
import sys


def numbers(path):
    text = open(path).read().split("data =", 1)[1]
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


reference, quantized, bound = numbers(sys.argv[1]), numbers(sys.argv[2]), float(sys.argv[3])
assert len(reference) == len(quantized) > 0
num = sum((a - b) ** 2 for a, b in zip(reference, quantized)) ** 0.5
den = sum(a * a for a in reference) ** 0.5
print(f"outputs: {len(reference)}, relative error {num / den:.2e} (bound {bound:g})")
assert num / den < bound
print("outputs close")
