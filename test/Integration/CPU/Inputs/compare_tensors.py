"""Compares, tensor by tensor and element by element, what two mlir-runner
runs printed with printMemrefF32: same count, same shapes, and
|a - b| <= tol * max|a| within each tensor. Prints one line per run pair.

Usage: compare_tensors.py REFERENCE OTHER TOL"""

import re
import sys

NUMBER = r"-?(?:nan|inf|\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


def tensors(path):
    found = []
    for block in open(path).read().split("Unranked Memref")[1:]:
        sizes = re.search(r"sizes = \[([^\]]*)\]", block).group(1)
        data = block.split("data =", 1)[1]
        found.append((sizes, [float(v) for v in re.findall(NUMBER, data)]))
    return found


reference, other, tol = tensors(sys.argv[1]), tensors(sys.argv[2]), float(sys.argv[3])
assert len(reference) == len(other) > 0, (len(reference), len(other))
worst = 0.0
for i, ((shape_a, a), (shape_b, b)) in enumerate(zip(reference, other)):
    assert shape_a == shape_b, f"tensor {i}: sizes [{shape_a}] vs [{shape_b}]"
    assert len(a) == len(b), f"tensor {i}: {len(a)} vs {len(b)} values"
    scale = max(1.0, max(abs(v) for v in a))
    err = max(abs(p - q) for p, q in zip(a, b)) / scale
    assert err <= tol, f"tensor {i} (sizes [{shape_a}]): error {err:.2e} > {tol:g}"
    worst = max(worst, err)
print(f"{len(reference)} tensors match, worst relative error {worst:.1e}")
