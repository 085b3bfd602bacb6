#!/usr/bin/env python3
"""The small end-to-end flow on the built-in example (examples/mlp): raise,
calibrate, quantize with RTN and GPTQ at several widths, run every variant
on the CPU and compare it with the float model on a held-out batch.

This was the main job before the Hugging Face importer (scripts/demo.py now
runs a real model). Every stage's IR and every report is kept in
<build>/demo-mlp/. Standard library only; after building qwha-opt and
qwha-calibrate:

    python3 examples/mlp/run_demo.py --build build
"""

import argparse
import json
import math
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
LINEAR = re.compile(r'qwha\.linear "(?P<name>[^"]+)" .*: tensor<(?P<x>[0-9x?]+)xf\d+>, '
                    r"tensor<(?P<n>\d+)x(?P<k>\d+)xf\d+>")

CONFIGS = [
    # label, pass pipeline (after raising), bits, group size
    ("RTN 4-bit g64", "qwha-rtn{{bits=4 group-size=64 calibration={calib} report={report}}}", 4, 64),
    ("GPTQ 4-bit g64", "qwha-gptq{{bits=4 group-size=64 calibration={calib} report={report}}}", 4, 64),
    ("RTN 3-bit g64", "qwha-rtn{{bits=3 group-size=64 calibration={calib} report={report}}}", 3, 64),
    ("GPTQ 3-bit g64", "qwha-gptq{{bits=3 group-size=64 calibration={calib} report={report}}}", 3, 64),
    ("GPTQ 3-bit g64 seq", "qwha-quantize{{inputs={samples} function=forward bits=3 group-size=64 "
                           "sequential report={report}}}", 3, 64),
    ("GPTQ 2-bit g32", "qwha-gptq{{bits=2 group-size=32 calibration={calib} report={report}}}", 2, 32),
    # QWHA: the same quantizers plus Walsh-Hadamard adapters initialised from
    # the quantization error (the report's error is then the adapted layer's).
    ("GPTQ 3-bit + WHA r8", "qwha-gptq{{bits=3 group-size=64 calibration={calib} keep-float-weight}}, "
                            "qwha-wha-init{{calibration={calib} rank=8 report={report}}}, "
                            "qwha-fuse-adapters", 3, 64),
    ("GPTQ 2-bit + WHA r8", "qwha-gptq{{bits=2 group-size=32 calibration={calib} keep-float-weight}}, "
                            "qwha-wha-init{{calibration={calib} rank=8 report={report}}}, "
                            "qwha-fuse-adapters", 2, 32),
]


def run(cmd):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} failed:\n{result.stderr}")
    return result


def parse_memref(text):
    data = text.split("data =", 1)[1]
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|-?nan|-?inf", data)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=pathlib.Path, required=True)
    parser.add_argument("--llvm", type=pathlib.Path, default=pathlib.Path("/usr/lib/llvm-22"))
    parser.add_argument("--model", type=pathlib.Path, default=ROOT / "examples/mlp/mlp.mlir")
    parser.add_argument("--samples", type=pathlib.Path,
                        default=ROOT / "examples/mlp/samples.safetensors")
    parser.add_argument("--function", default="forward")
    args = parser.parse_args()

    tools = args.build / "bin"
    runner = args.llvm / "bin/mlir-runner"
    libs = ",".join(str(args.llvm / "lib" / f"lib{n}.so")
                    for n in ("mlir_runner_utils", "mlir_c_runner_utils"))
    out = args.build / "demo-mlp"
    out.mkdir(parents=True, exist_ok=True)
    steps = 3 + len(CONFIGS)

    print(f"QWHA main job on {args.model.name}: raise, calibrate, quantize (RTN, GPTQ), run")
    print("(the built-in example; scripts/demo.py runs a Hugging Face model)\n")

    print(f"[1/{steps}] raise linear layers -> demo-mlp/raised.mlir", flush=True)
    raised = run([tools / "qwha-opt", args.model, "-qwha-raise-linear=report-unmatched"]).stdout
    (out / "raised.mlir").write_text(raised)
    layers = [m.groupdict() for m in LINEAR.finditer(raised)]
    if not layers:
        sys.exit("error: no linear layer was raised")
    params = sum(int(l["n"]) * int(l["k"]) for l in layers)

    print(f"[2/{steps}] calibrate on {args.samples.name} -> demo-mlp/calib.safetensors", flush=True)
    calib = out / "calib.safetensors"
    run([tools / "qwha-calibrate", out / "raised.mlir", "--no-raise", "--function", args.function,
         "--inputs", args.samples, "-o", calib, "--quiet"])

    def execute(module_path):
        lowered = run([tools / "qwha-opt", module_path, "-qwha-lower-to-cpu"]).stdout
        start = time.perf_counter()
        result = subprocess.run([str(runner), "-e", "main", "-entry-point-result=void",
                                 f"-shared-libs={libs}"], input=lowered, capture_output=True,
                                text=True)
        if result.returncode != 0:
            sys.exit(f"error: running {module_path} failed:\n{result.stderr}")
        return parse_memref(result.stdout), time.perf_counter() - start

    print(f"[3/{steps}] run the float model", flush=True)
    reference, float_seconds = execute(out / "raised.mlir")
    norm = math.sqrt(sum(v * v for v in reference))

    rows = [("float (f32)", 32, 4 * params, None, 0.0, float_seconds, None)]
    for index, (label, pipeline, bits, group) in enumerate(CONFIGS, 4):
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        report = out / f"{slug}.json"
        module = out / f"{slug}.mlir"
        print(f"[{index}/{steps}] {label} -> demo-mlp/{module.name}", flush=True)
        start = time.perf_counter()
        run([tools / "qwha-opt", out / "raised.mlir",
             "--pass-pipeline=builtin.module(" +
             pipeline.format(calib=calib, report=report, samples=args.samples) + ")",
             "-o", module])
        quantize_seconds = time.perf_counter() - start
        values, seconds = execute(module)
        report_layers = json.loads(report.read_text())["layers"]
        layer_errors = [l["relative_error"] for l in report_layers if "relative_error" in l]
        adapter_entries = sum(l.get("adapter_entries", 0) for l in report_layers)
        mean_layer = sum(layer_errors) / len(layer_errors) if layer_errors else float("nan")
        output_error = math.sqrt(sum((a - b) ** 2 for a, b in zip(values, reference))) / norm
        # Codes, one f32 scale and one zero point (bits wide) per group.
        groups = sum(int(l["n"]) * int(l["k"]) // group for l in layers)
        nbytes = params * bits // 8 + groups * 4 + (groups * bits + 7) // 8
        # Adapters: an f32 value and an i32 column per entry, row offsets.
        if adapter_entries:
            nbytes += adapter_entries * 8 + sum(int(l["n"]) + 1 for l in layers) * 4
        rows.append((label, bits, nbytes, mean_layer, output_error, seconds, quantize_seconds))

    print("\nLayers:")
    print(f"  {'layer':<12} {'input':>8} {'out x in':>10} {'params':>8}")
    for l in layers:
        print(f"  {l['name']:<12} {l['x']:>8} {l['n'] + 'x' + l['k']:>10} "
              f"{int(l['n']) * int(l['k']):>8}")

    print("\nSummary (held-out batch; layer error = ||(W-Q)X||^2 / ||WX||^2 on the calibration "
          "inputs, mean over layers):")
    print(f"  {'configuration':<21} {'bits':>4} {'weight bytes':>12} {'layer error':>12} "
          f"{'output error':>13} {'quantize s':>10} {'run s':>6}")
    for label, bits, nbytes, layer, output, seconds, quantize_seconds in rows:
        layer_text = "-" if layer is None else f"{layer:.3e}"
        quantize_text = "-" if quantize_seconds is None else f"{quantize_seconds:.2f}"
        print(f"  {label:<21} {bits:>4} {nbytes:>12} {layer_text:>12} {output:>13.3e} "
              f"{quantize_text:>10} {seconds:>6.2f}")
    print(f"\nIR, calibration and reports are in {out}/")
    # GPTQ must beat RTN at the same width on the layer objective it
    # minimizes, and adapters must lower GPTQ's.
    by_label = {r[0]: r for r in rows}
    checks = [(f"GPTQ {b}-bit g64", f"RTN {b}-bit g64") for b in (4, 3)]
    checks += [("GPTQ 3-bit + WHA r8", "GPTQ 3-bit g64"), ("GPTQ 2-bit + WHA r8", "GPTQ 2-bit g32")]
    for better, worse in checks:
        if not by_label[better][3] < by_label[worse][3]:
            print(f"UNEXPECTED: {better} layer error {by_label[better][3]:.3e} is not below "
                  f"{worse}'s {by_label[worse][3]:.3e}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
