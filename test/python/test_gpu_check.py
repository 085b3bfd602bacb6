"""scripts/gpu-check.py's build step, which runs where there is no GPU: the
cases compile and run on the CPU, each case's `// gpu-check:` directives
reach the manifest (the input size of a dynamic batch, the TF32 tolerance),
and a bad directive fails the case by name."""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import BINARY_DIR, SOURCE_DIR

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "gpu-check.py")
CASES = os.path.join(SOURCE_DIR, "test", "Integration", "GPU", "Inputs")


def build(out_dir, *cases):
    return subprocess.run(
        [sys.executable, SCRIPT, "build", str(out_dir), "--cpu-only",
         "--build-dir", BINARY_DIR] + [a for c in cases for a in ("--case", c)],
        capture_output=True, text=True)


def test_directives_reach_the_manifest(tmp_path):
    proc = build(tmp_path, os.path.join(CASES, "q4-dynamic-b3.mlir"),
                 os.path.join(CASES, "mma-q4-dynamic-b40.mlir"))
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "manifest.json") as f:
        cases = {c["name"]: c for c in json.load(f)["cases"]}
    small, large = cases["q4-dynamic-b3"], cases["mma-q4-dynamic-b40"]
    # One layer, two batches: either side of the tensor-core threshold.
    assert small["input_shape"] == [3, 256]
    assert large["input_shape"] == [40, 256]
    assert small["atol_relative"] == 1e-4 and small["rtol"] == 1e-4
    assert large["atol_relative"] == 3e-3 and large["rtol"] == 1e-3
    y_small = np.load(tmp_path / small["outputs"][0])
    y_large = np.load(tmp_path / large["outputs"][0])
    assert y_small.shape == (3, 40) and y_large.shape == (40, 40)


def test_unknown_directive_fails_the_case(tmp_path):
    source = tmp_path / "bad.mlir"
    source.write_text(
        "// gpu-check: tolerence=1e-3\n"
        "func.func @forward(%x: tensor<2x16xf32>) -> tensor<2x16xf32> {\n"
        "  %y = qwha.fwht %x normalized : tensor<2x16xf32>\n"
        "  return %y : tensor<2x16xf32>\n}\n")
    proc = build(tmp_path / "out", str(source))
    assert proc.returncode == 1
    assert "FAIL bad: bad.mlir: unknown gpu-check setting 'tolerence=1e-3'" in proc.stderr
