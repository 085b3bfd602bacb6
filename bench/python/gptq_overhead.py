#!/usr/bin/env python3
"""GPTQ on one layer through the Python package vs the C++ benchmark.

    PYTHONPATH=build/python_packages python3 bench/python/gptq_overhead.py \
        [--rows 4096] [--cols 4096] [--repeat 3] [--build build]

Writes a random layer (weight and the Hessian of correlated activations) to
a safetensors file, times `qwha.gptq` (best of --repeat, including the
array checks and the copies of the result into numpy) and
`qwha-bench-gptq` on the same file (best of --repeat, inside the process,
excluding file reading), checks that both reach the same objective, and
prints one JSON line with the times and the overhead (python / C++ - 1).
The issue's target is an overhead under 5%.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "test", "python"))
from conftest import write_safetensors  # noqa: E402

import qwha  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--cols", type=int, default=4096)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group-size", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--build", default=os.path.join(
        os.path.dirname(__file__), "..", "..", "build"))
    args = p.parse_args()

    rng = np.random.default_rng(0)
    n, k = args.rows, args.cols
    w = rng.standard_normal((n, k), dtype=np.float32)
    x = rng.standard_normal((2 * k, k), dtype=np.float32)
    mix = rng.standard_normal((k, k), dtype=np.float32) / np.float32(np.sqrt(k))
    x = (x @ mix + x).astype(np.float32)
    h = qwha.hessian(x)

    py_times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        r = qwha.gptq(w, h, bits=args.bits, group_size=args.group_size,
                      compute_baselines=False)
        codes = r.quantized.codes  # include copying the result out
        py_times.append(time.perf_counter() - start)
    del codes

    bench = os.path.join(args.build, "bench", "gptq", "qwha-bench-gptq")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.safetensors")
        write_safetensors(path, {"weight": w, "hessian": h})
        out = json.loads(subprocess.run(
            [bench, path, "--bits", str(args.bits), "--group-size",
             str(args.group_size), "--repeat", str(args.repeat)],
            check=True, capture_output=True, text=True).stdout)
    if abs(out["objective"] - r.objective) > 1e-9 * abs(r.objective):
        sys.exit(f"objectives differ: C++ {out['objective']} "
                 f"Python {r.objective}")
    py, cpp = min(py_times), out["seconds"]
    print(json.dumps({"rows": n, "cols": k, "bits": args.bits,
                      "group_size": args.group_size, "python_s": py,
                      "python_all_s": py_times, "cpp_s": cpp,
                      "overhead": py / cpp - 1, "objective": r.objective}))


if __name__ == "__main__":
    main()
