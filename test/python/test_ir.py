"""qwha.ir (parse, print, verify, pipelines, calibration) and qwha.tools."""

import os
import subprocess

import numpy as np
import pytest

import qwha
import qwha.ir
import qwha.tools
from conftest import SOURCE_DIR, read_safetensors, tool

MLP = os.path.join(SOURCE_DIR, "examples", "mlp", "mlp.mlir")
SAMPLES = os.path.join(SOURCE_DIR, "examples", "mlp", "samples.safetensors")

SMALL = """
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = arith.addf %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
"""


def test_parse_print_round_trip():
    ctx = qwha.ir.Context()
    m = qwha.ir.Module.parse(SMALL, ctx)
    assert m.context is ctx
    text = str(m)
    assert "arith.addf" in text and "func.func @f" in text
    assert str(qwha.ir.Module.parse(text, ctx)) == text
    m.verify()


def test_qwha_dialect_registered():
    m = qwha.ir.Module.parse_file(MLP)
    m.run_pipeline("builtin.module(qwha-raise-linear)")
    text = str(m)
    assert text.count("qwha.linear") >= 3
    # The printed qwha ops parse again in a fresh context.
    assert "qwha.linear" in str(qwha.ir.Module.parse(text))


def test_parse_errors_carry_diagnostics(tmp_path):
    with pytest.raises(ValueError) as e:
        qwha.ir.Module.parse("func.func @f() {\n  %0 = foo.bar : i32\n}")
    msg = str(e.value)
    assert msg.startswith("failed to parse module text:")
    assert "<string>:2:" in msg and "error:" in msg
    with pytest.raises(ValueError, match="cannot read '.*missing.mlir'"):
        qwha.ir.Module.parse_file(tmp_path / "missing.mlir")
    bad = tmp_path / "bad.mlir"
    bad.write_text("module {\n  %x = \n}")
    with pytest.raises(ValueError, match=r"failed to parse '.*bad.mlir':\n.*bad.mlir:\d+:\d+: error:"):
        qwha.ir.Module.parse_file(bad)


def test_pipeline_errors():
    m = qwha.ir.Module.parse(SMALL)
    with pytest.raises(ValueError, match="invalid pass pipeline 'builtin.module\\(no-such-pass\\)'"):
        m.run_pipeline("builtin.module(no-such-pass)")
    raised = qwha.ir.Module.parse_file(MLP).run_pipeline(
        "builtin.module(qwha-raise-linear)")
    with pytest.raises(ValueError) as e:
        raised.run_pipeline("builtin.module(qwha-gptq)")
    assert "pass pipeline 'builtin.module(qwha-gptq)' failed" in str(e.value)
    assert "error: qwha-gptq needs calibration statistics" in str(e.value)
    # The module is still usable afterwards.
    assert "qwha.linear" in str(raised)


def test_pipeline_runs_and_dumps_stages(tmp_path, monkeypatch):
    monkeypatch.setenv("QWHA_DUMP_IR_DIR", str(tmp_path))
    m = qwha.ir.Module.parse_file(MLP)
    m.run_pipeline("builtin.module(qwha-raise-linear,canonicalize)")
    m.run_pipeline("builtin.module(qwha-rtn{bits=4 group-size=32})")
    assert "qwha.qlinear" in str(m)
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 4
    assert names[0].endswith("qwha-raise-linear-after.mlir") or \
        names[1].endswith("qwha-raise-linear-before.mlir")
    assert "// pipeline:" in (tmp_path / names[0]).read_text()


def test_calibrate_matches_qwha_calibrate(tmp_path):
    """The in-process calibration equals the tool's output file."""
    m = qwha.ir.Module.parse_file(MLP)
    m.run_pipeline("builtin.module(qwha-raise-linear)")
    stats = m.calibrate(SAMPLES, function="forward", max_samples=8)
    assert sorted(stats) == ["mlp.fc1", "mlp.fc2", "mlp.head"]
    h, n = stats["mlp.fc1"]
    assert h.shape == (64, 64) and h.dtype == np.float32 and n == 32
    out = tmp_path / "calib.safetensors"
    subprocess.run([tool("qwha-calibrate"), MLP, "--inputs", SAMPLES,
                    "--function", "forward", "--max-samples", "8",
                    "-o", str(out)], check=True, capture_output=True)
    ref = read_safetensors(out)
    for layer, (h, n) in stats.items():
        np.testing.assert_array_equal(h, ref[layer + ".hessian"])
        assert n == int(ref[layer + ".nsamples"].reshape(-1)[0])
    with pytest.raises(ValueError, match="samples: .*missing"):
        m.calibrate(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="calibration failed: .*nosuch"):
        m.calibrate(SAMPLES, function="nosuch")


def test_tools_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("QWHA_TOOLS_DIR", os.path.dirname(tool("qwha-compile")))
    m = qwha.ir.Module.parse_file(MLP)
    m.run_pipeline("builtin.module(qwha-raise-linear,"
                   "qwha-rtn{bits=4 group-size=32})")
    qwha.tools.compile(m, tmp_path / "m.so", header=tmp_path / "m.h")
    assert (tmp_path / "m.so").stat().st_size > 0
    assert "_mlir_ciface_forward" in (tmp_path / "m.h").read_text()
    qwha.tools.compile(MLP, tmp_path / "m.ll", emit="llvm")
    assert "define" in (tmp_path / "m.ll").read_text()
    with pytest.raises(qwha.tools.ToolError, match="qwha-compile failed"):
        qwha.tools.compile("func.func @g(", tmp_path / "bad.so")
    with pytest.raises(FileNotFoundError, match="no-such-tool"):
        qwha.tools.run_tool("no-such-tool", [])
