"""scripts/gpu-check.py's build step, which runs where there is no GPU: the
cases compile and run on the CPU, each case's `// gpu-check:` directives
reach the manifest (the input size of a dynamic batch, the TF32 tolerance,
the bounds of integer inputs), a bad directive fails the case by name, and
the generated whole-model cases take token ids below their vocabulary."""

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
    assert small["input_shapes"] == [[3, 256]]
    assert large["input_shapes"] == [[40, 256]]
    assert small["atol_relative"] == 1e-4 and small["rtol"] == 1e-4
    assert large["atol_relative"] == 3e-3 and large["rtol"] == 1e-3
    y_small = np.load(tmp_path / small["outputs"][0])
    y_large = np.load(tmp_path / large["outputs"][0])
    assert y_small.shape == (3, 40) and y_large.shape == (40, 40)


def build_source(tmp_path, name, text):
    """Builds the one case `text`, written to tmp_path/<name>.mlir, into
    tmp_path/out."""
    source = tmp_path / f"{name}.mlir"
    source.write_text(text)
    return build(tmp_path / "out", str(source))


def test_unknown_directive_fails_the_case(tmp_path):
    proc = build_source(
        tmp_path, "bad",
        "// gpu-check: tolerence=1e-3\n"
        "func.func @forward(%x: tensor<2x16xf32>) -> tensor<2x16xf32> {\n"
        "  %y = qwha.fwht %x normalized : tensor<2x16xf32>\n"
        "  return %y : tensor<2x16xf32>\n}\n")
    assert proc.returncode == 1
    assert "FAIL bad: bad.mlir: unknown gpu-check setting 'tolerence=1e-3'" in proc.stderr


def test_integer_inputs_follow_int_range(tmp_path):
    proc = build_source(
        tmp_path, "gather",
        "// gpu-check: int-range=5,3\n"
        "func.func @forward(%ids: tensor<64xi64>, %x: tensor<4xf32>, %k: tensor<64xi32>)"
        " -> tensor<64xi64> {\n"
        "  %e = tensor.empty() : tensor<64xi64>\n"
        "  %y = linalg.add ins(%ids, %ids : tensor<64xi64>, tensor<64xi64>)"
        " outs(%e : tensor<64xi64>) -> tensor<64xi64>\n"
        "  return %y : tensor<64xi64>\n}\n")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "manifest.json") as f:
        (case,) = json.load(f)["cases"]
    ids, x, k = (np.load(tmp_path / "out" / file) for file in case["inputs"])
    assert case["input_shapes"] == [[64], [4], [64]]
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 5
    assert len(np.unique(ids)) > 1
    assert x.dtype == np.float32
    assert k.dtype == np.int32 and k.min() >= 0 and k.max() < 3
    np.testing.assert_array_equal(np.load(tmp_path / "out" / case["outputs"][0]), 2 * ids)


def test_too_many_int_ranges_fail_the_case(tmp_path):
    proc = build_source(
        tmp_path, "ranges",
        "// gpu-check: int-range=5,3\n"
        "func.func @forward(%ids: tensor<4xi64>) -> tensor<4xi64> {\n"
        "  return %ids : tensor<4xi64>\n}\n")
    assert proc.returncode == 1
    assert "int-range names 2 ranges, @forward has fewer integer arguments" in proc.stderr


def test_model_cases(tmp_path):
    """--models generates a whole quantized BERT: two integer inputs (token
    ids below the vocabulary, a 0/1 mask) and the model tolerance."""
    empty = tmp_path / "no-cases"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, SCRIPT, "build", str(tmp_path / "out"), "--cpu-only",
         "--build-dir", BINARY_DIR, "--cases-dir", str(empty), "--models", "bert"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "manifest.json") as f:
        (case,) = json.load(f)["cases"]
    assert case["name"] == "model-bert-rtn4"
    assert case["input_shapes"] == [[1, 8], [1, 8]]
    ids, mask = (np.load(tmp_path / "out" / file) for file in case["inputs"])
    with open(tmp_path / "out" / "models" / "bert" / "config.json") as f:
        vocab = json.load(f)["vocab_size"]
    assert ids.max() < vocab and mask.max() <= 1
    assert case["atol_relative"] == 1e-3
    y = np.load(tmp_path / "out" / case["outputs"][0])
    assert y.shape == (1, 8, 32) and np.all(np.isfinite(y))
