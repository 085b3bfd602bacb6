"""qwha.tools wrappers of the command-line tools, and the example scripts
(examples/python), each run as a user would."""

import os
import subprocess
import sys

import numpy as np
import pytest

import qwha.ir
import qwha.tools
from conftest import BINARY_DIR, SOURCE_DIR, read_safetensors

MLP = os.path.join(SOURCE_DIR, "examples", "mlp", "mlp.mlir")
SAMPLES = os.path.join(SOURCE_DIR, "examples", "mlp", "samples.safetensors")


def test_calibrate_bounded_equals_in_process(tmp_path):
    out = tmp_path / "calib.safetensors"
    qwha.tools.calibrate(MLP, SAMPLES, out, function="forward", max_samples=8,
                         max_statistics_mib=1)
    m = qwha.ir.Module.parse_file(MLP)
    m.run_pipeline("builtin.module(qwha-raise-linear)")
    stats = m.calibrate(SAMPLES, function="forward", max_samples=8)
    saved = read_safetensors(str(out))
    for layer, (h, n) in stats.items():
        np.testing.assert_array_equal(saved[layer + ".hessian"], h)
    with pytest.raises(qwha.tools.ToolError, match="several public functions"):
        qwha.tools.calibrate(MLP, SAMPLES, tmp_path / "x.safetensors")


def test_export_gptq_of_a_quantized_module(tmp_path):
    m = qwha.ir.Module.parse_file(MLP)
    m.run_pipeline("builtin.module(qwha-raise-linear, qwha-rtn{bits=4 group-size=32})")
    qwha.tools.export_gptq(m, tmp_path / "ckpt", format="v2")
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["model.safetensors",
                                                     "quantize_config.json"]
    tensors = read_safetensors(str(tmp_path / "ckpt" / "model.safetensors"))
    assert "mlp.fc1.qweight" in tensors


def test_import_model(tmp_path):
    make = os.path.join(SOURCE_DIR, "test", "Import", "Inputs", "make_model.py")
    subprocess.run([sys.executable, make, str(tmp_path / "llama"), "--family",
                    "llama"], check=True)
    qwha.tools.import_model(tmp_path / "llama", tmp_path / "m.mlirbc",
                            batch=1, seq_len=4, bytecode=True)
    m = qwha.ir.Module.parse_file(str(tmp_path / "m.mlirbc"))
    assert "model.layers.0.self_attn.q_proj" in str(m)
    with pytest.raises(qwha.tools.ToolError, match="config.json"):
        qwha.tools.import_model(tmp_path, tmp_path / "bad.mlir")


EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


@pytest.mark.parametrize("script", ["numeric_gptq.py", "compile_and_run.py",
                                    "torch_gptq.py"])
def test_example_runs(script, tmp_path):
    if script.startswith("torch"):
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    env = dict(os.environ)
    env["QWHA_TOOLS_DIR"] = os.path.abspath(
        env.get("QWHA_TOOLS_DIR", os.path.join(BINARY_DIR, "bin")))
    env["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep)
        if p)
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)],
                          capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
