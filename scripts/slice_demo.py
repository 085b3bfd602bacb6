#!/usr/bin/env python3
"""The foundation's vertical slice on examples/mlp/mlp.mlir.

Raises the linear layers of a torch-mlir style MLP to qwha.linear, lowers
both the original and the raised graph to the CPU, runs them with
mlir-runner and checks that they compute the same numbers. Every stage's IR
is written to <build>/demo/ (input, raised, linalg, llvm), Triton style.

Standard library only; scripts/demo.sh installs, builds and calls this.
"""

import argparse
import pathlib
import re
import subprocess
import sys
import time

LINEAR = re.compile(
    r'qwha\.linear "(?P<name>[^"]+)" .*: tensor<(?P<x>[0-9x?]+)xf(?P<bits>\d+)>, '
    r"tensor<(?P<n>\d+)x(?P<k>\d+)xf\d+>")


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} failed:\n{result.stderr}")
    return result.stdout


def parse_memref(text):
    """The numbers printMemrefF32 printed, in order."""
    data = text.split("data =", 1)[1]
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|-?nan|-?inf", data)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=pathlib.Path, required=True)
    parser.add_argument("--llvm", type=pathlib.Path, default=pathlib.Path("/usr/lib/llvm-22"))
    parser.add_argument("--model", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent / "examples/mlp/mlp.mlir")
    args = parser.parse_args()

    opt = args.build / "bin/qwha-opt"
    runner = args.llvm / "bin/mlir-runner"
    libs = ",".join(str(args.llvm / "lib" / f"lib{n}.so") for n in ("mlir_runner_utils", "mlir_c_runner_utils"))
    stages = args.build / "demo"
    stages.mkdir(parents=True, exist_ok=True)

    print("QWHA foundation slice: raise -> lower -> run, on", args.model.name)
    print("(the GPTQ, adapter and real-model main job replaces this as those land)\n")

    (stages / "00-input.mlir").write_text(args.model.read_text())
    steps = [("01-raised.mlir", "00-input.mlir", ["-qwha-raise-linear=report-unmatched"]),
             ("02-linalg.mlir", "01-raised.mlir", ["-convert-qwha-to-linalg"]),
             ("03-llvm.mlir", "01-raised.mlir", ["-qwha-lower-to-cpu"]),
             ("03-llvm-float.mlir", "00-input.mlir", ["-qwha-lower-to-cpu"])]
    for i, (out, inp, flags) in enumerate(steps, 1):
        print(f"[{i}/{len(steps) + 2}] qwha-opt {' '.join(flags)} {inp} -> demo/{out}")
        text = run([opt, stages / inp, *flags])
        (stages / out).write_text(text)

    layers = [m.groupdict() for m in LINEAR.finditer((stages / "01-raised.mlir").read_text())]
    if not layers:
        sys.exit("error: no linear layer was raised")

    outputs, seconds = {}, {}
    for i, (label, lowered) in enumerate([("float graph", "03-llvm-float.mlir"),
                                          ("raised graph", "03-llvm.mlir")], len(steps) + 1):
        print(f"[{i}/{len(steps) + 2}] mlir-runner demo/{lowered}")
        start = time.perf_counter()
        text = run([runner, stages / lowered, "-e", "main", "-entry-point-result=void",
                    f"-shared-libs={libs}"])
        seconds[label] = time.perf_counter() - start
        outputs[label] = parse_memref(text)

    print("\nLayers raised to qwha.linear:")
    print(f"  {'layer':<12} {'input':>10} {'out x in':>10} {'params':>8} {'f32 bytes':>10}")
    total = 0
    for layer in layers:
        params = int(layer["n"]) * int(layer["k"])
        total += params
        print(f"  {layer['name']:<12} {layer['x']:>10} {layer['n'] + 'x' + layer['k']:>10} "
              f"{params:>8} {4 * params:>10}")
    print(f"  {'total':<12} {'':>10} {'':>10} {total:>8} {4 * total:>10}")

    a, b = outputs["float graph"], outputs["raised graph"]
    diff = max(abs(x - y) for x, y in zip(a, b)) if len(a) == len(b) else float("inf")
    print("\nSummary:")
    print(f"  {'graph':<14} {'outputs':>8} {'max |y|':>9} {'max |diff|':>11} {'jit+run s':>10}")
    for label in ("float graph", "raised graph"):
        ys = outputs[label]
        print(f"  {label:<14} {len(ys):>8} {max(map(abs, ys)):>9.4f} "
              f"{(0.0 if label == 'float graph' else diff):>11.3g} {seconds[label]:>10.2f}")
    same = len(a) == len(b) and diff == 0.0
    print(f"\n{'OK' if same else 'MISMATCH'}: the raised graph prints "
          f"{'the same' if same else 'different'} outputs (printMemrefF32, 6 significant "
          f"digits); stages in {stages}/")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
