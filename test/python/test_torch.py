"""qwha.torch: in-place GPTQ with calibration hooks, WHALinear and its
fine-tuning, and the exported checkpoint and adapters compiled by the
compiler, against the torch module's own outputs."""

import os
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import qwha  # noqa: E402
import qwha.torch as qt  # noqa: E402
from qwha.runtime import CompiledModel  # noqa: E402
from qwha.tools import find_tool  # noqa: E402

from conftest import read_safetensors  # noqa: E402


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(),
                               torch.nn.Linear(96, 32))


def batches(count=6, rows=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(rows, 64, generator=g) for _ in range(count)]


def test_hooks_collect_the_hessian_of_each_layer_input():
    model = mlp()
    data = batches()
    acc = qt.collect_hessians(model, data, ["0", "2"])
    x = torch.cat(data).numpy()
    np.testing.assert_allclose(acc["0"].hessian(), 2 / len(x) * x.T @ x,
                               rtol=1e-5, atol=1e-5)
    hidden = torch.relu(model[0](torch.cat(data))).detach().numpy()
    np.testing.assert_allclose(acc["2"].hessian(),
                               2 / len(hidden) * hidden.T @ hidden,
                               rtol=1e-4, atol=1e-5)
    # Hooks are gone afterwards.
    assert not model[0]._forward_pre_hooks


def test_quantize_matches_the_numeric_api_on_the_same_hessian():
    model = mlp()
    data = batches()
    weight = model[0].weight.detach().numpy().copy()
    h = qt.collect_hessians(model, data, ["0"])["0"].hessian()
    report = qt.quantize_(model, data, bits=3, group_size=32, layers="0",
                          progress=False)
    assert isinstance(model[0], qt.QuantLinear)
    assert type(model[2]) is torch.nn.Linear  # not selected
    expected = qwha.gptq(weight, h, bits=3, group_size=32, act_order=True)
    np.testing.assert_array_equal(model[0].codes.numpy(),
                                  expected.quantized.codes)
    # Scales are rounded to float16 as GPTQ checkpoints store them.
    np.testing.assert_array_equal(
        model[0].scales.numpy(),
        expected.quantized.scales.astype(np.float16).astype(np.float32))
    assert report[0]["name"] == "0"
    assert 0 < report[0]["relative_error"] < report[0]["objective_rtn"] / report[0]["output_energy"]


def test_quantize_errors():
    with pytest.raises(ValueError, match="calibration batches"):
        qt.quantize_(mlp(), None, progress=False)
    with pytest.raises(ValueError, match="no nn.Linear"):
        qt.quantize_(mlp(), batches(), layers="nothing", progress=False)
    with pytest.raises(ValueError, match="method"):
        qt.quantize_(mlp(), batches(), method="awq", progress=False)
    with pytest.raises(ValueError, match="iterator"):
        qt.quantize_(mlp(), iter(batches()), sequential=True, progress=False)
    with pytest.raises(ValueError, match="group size"):
        qt.quantize_(mlp(), batches(), group_size=48, progress=False)


def test_sequential_and_rtn_modes():
    model = mlp()
    report = qt.quantize_(model, batches(), bits=4, group_size=32,
                          sequential=True, progress=False)
    assert [r["name"] for r in report] == ["0", "2"]
    model = mlp()
    report = qt.quantize_(model, None, method="rtn", bits=4, group_size=32,
                          progress=False)
    assert isinstance(model[2], qt.QuantLinear) and "objective" not in report[0]


@pytest.mark.parametrize("d", [1, 2, 8, 12, 24, 40, 64, 96, 1024])
def test_hadamard_transform_equals_the_dense_matrix(d):
    x = torch.randn(3, 2, d, dtype=torch.float64, requires_grad=True)
    h = torch.from_numpy(qwha.hadamard_matrix(d).astype(np.float64)) / np.sqrt(d)
    y = qt.hadamard_transform(x)
    torch.testing.assert_close(y, x @ h.T)
    # Orthonormal: the gradient of |y|^2 / 2 is x itself.
    (y.square().sum() / 2).backward()
    torch.testing.assert_close(x.grad, x.detach())
    with pytest.raises(ValueError, match="size 7"):
        qt.hadamard_transform(torch.zeros(7))


def test_wha_linear_matches_the_c_plus_plus_adapter_and_trains():
    model = mlp()
    data = batches()
    qt.quantize_(model, data, bits=2, group_size=32, adapter_rank=4,
                 progress=False)
    layer = model[0]
    assert isinstance(layer, qt.WHALinear)
    x = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    np.testing.assert_allclose(
        layer.adapter_output(torch.from_numpy(x)).detach().numpy(),
        qwha.apply_adapter(layer.to_sparse(), x), rtol=1e-5, atol=1e-6)

    # Fine-tuning the adapter values towards the float model lowers the loss.
    teacher = mlp()
    params = qt.trainable_adapters_(model)
    assert {id(p) for p in params} == {id(p) for p in model.parameters()
                                       if p.requires_grad}
    optimizer = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for step in range(60):
        x = data[step % len(data)]
        loss = torch.nn.functional.mse_loss(model(x), teacher(x).detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-6:]) < 0.7 * np.mean(losses[:6])


def test_adapters_round_trip_through_the_file(tmp_path):
    model = mlp()
    qt.quantize_(model, batches(), bits=3, group_size=32, adapter_rank=2,
                 progress=False)
    with torch.no_grad():
        model[0].values.mul_(1.5)
    path = tmp_path / "adapters.safetensors"
    qt.export_adapters(model, path)
    saved = read_safetensors(str(path))
    assert set(saved) == {"0.wha.indices", "0.wha.values", "2.wha.indices",
                          "2.wha.values"}
    other = mlp()
    qt.quantize_(other, batches(), bits=3, group_size=32, adapter_rank=2,
                 progress=False)
    qt.load_adapters_(other, path)
    torch.testing.assert_close(other[0].values, model[0].values)
    qt.quantize_(mlp(), None, method="rtn", group_size=32, progress=False)
    with pytest.raises(ValueError, match="no WHALinear"):
        qt.export_adapters(mlp(), path)


def test_runtime_takes_torch_tensors(tmp_path):
    source = tmp_path / "add.mlir"
    source.write_text(
        "func.func @add(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {\n"
        "  %e = tensor.empty() : tensor<2x3xf32>\n"
        "  %0 = linalg.add ins(%a, %b : tensor<2x3xf32>, tensor<2x3xf32>)"
        " outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>\n"
        "  return %0 : tensor<2x3xf32>\n}\n")
    qwha.tools.compile(str(source), tmp_path / "add.so")
    lib = CompiledModel(str(tmp_path / "add.so"))
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    out = lib.add(a, a.numpy())
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, 2 * a)
    if torch.cuda.is_available():  # pragma: no cover - no GPU here
        return
    with pytest.raises(TypeError, match="meta"):
        lib.add(a.to("meta"), a)


def tiny_llama(directory):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=96, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=64, tie_word_embeddings=False)
    model = transformers.LlamaForCausalLM(config).eval()
    model.save_pretrained(directory)
    return model


def test_fine_tuned_adapters_compile_and_match_the_torch_model(tmp_path):
    model = tiny_llama(tmp_path / "float")
    g = torch.Generator().manual_seed(3)
    tokens = [torch.randint(0, 96, (2, 16), generator=g) for _ in range(8)]
    report = qt.quantize_(model, [{"input_ids": t} for t in tokens], bits=2,
                          group_size=32, adapter_rank=4, progress=False)
    assert len(report) == 15  # 7 per layer + lm_head

    # QWHA fine-tuning: next-token loss on the calibration text falls.
    optimizer = torch.optim.Adam(qt.trainable_adapters_(model), lr=3e-3)
    model.train()
    losses = []
    for step in range(30):
        ids = tokens[step % len(tokens)]
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    assert np.mean(losses[-5:]) < np.mean(losses[:5])

    # The compiler: float model + GPTQ checkpoint + adapters, fused, compiled.
    qt.export_gptq(model, tmp_path / "gptq")
    qt.export_adapters(model, tmp_path / "adapters.safetensors")
    mlir = tmp_path / "model.mlir"
    subprocess.run([find_tool("qwha-import"), str(tmp_path / "float"), "-o",
                    str(mlir), "--batch=2", "--seq-len=16", "--quiet"],
                   check=True)
    lowered = tmp_path / "qwha.mlir"
    subprocess.run([find_tool("qwha-opt"), str(mlir), "-qwha-raise-linear",
                    f"-qwha-load-gptq=checkpoint={tmp_path / 'gptq'}",
                    f"-qwha-load-adapters=file={tmp_path / 'adapters.safetensors'}",
                    "-qwha-fuse-adapters", "-o", str(lowered)], check=True)
    assert "qwha.qlinear_wha" in lowered.read_text()
    qwha.tools.compile(str(lowered), tmp_path / "model.so")
    compiled = CompiledModel(str(tmp_path / "model.so"))
    ids = torch.randint(0, 96, (2, 16), generator=g)
    with torch.no_grad():
        expected = model(input_ids=ids).logits
    got = compiled.forward(ids)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_in_process_calibration_then_torch_optimizers():
    """Regression: calibration used to open MLIR's runner utils RTLD_GLOBAL,
    putting libLLVM's symbols ahead of those of triton's own LLVM, which
    torch.optim imports afterwards: its static initializers crashed. Run in
    a fresh interpreter, so that nothing imported triton before."""
    import sys
    from conftest import SOURCE_DIR
    script = (
        "import qwha.ir, torch\n"
        f"m = qwha.ir.Module.parse_file({os.path.join(SOURCE_DIR, 'examples', 'mlp', 'mlp.mlir')!r})\n"
        "m.run_pipeline('builtin.module(qwha-raise-linear)')\n"
        f"m.calibrate({os.path.join(SOURCE_DIR, 'examples', 'mlp', 'samples.safetensors')!r},"
        " function='forward', max_samples=2)\n"
        "torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))])\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
