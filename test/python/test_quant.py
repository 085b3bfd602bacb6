"""The numeric API against independent numpy math and the C++ tools."""

import json
import subprocess

import numpy as np
import pytest

import qwha
from conftest import random_layer, tool, write_safetensors


# --- Hessian ---------------------------------------------------------------

def test_hessian_is_two_over_n_xtx(rng):
    x = rng.standard_normal((300, 24)).astype(np.float32)
    expected = 2.0 / 300 * (x.astype(np.float64).T @ x.astype(np.float64))
    np.testing.assert_allclose(qwha.hessian(x), expected, rtol=1e-5, atol=1e-6)


def test_hessian_accumulator_batches_and_merge(rng):
    x = rng.standard_normal((100, 8)).astype(np.float32)
    a = qwha.HessianAccumulator(8)
    a.add(x[:30])
    b = qwha.HessianAccumulator(8)
    b.add(x[30:])
    a.merge(b)
    assert a.num_samples == 100 and a.dim == 8
    np.testing.assert_allclose(a.hessian(), qwha.hessian(x), rtol=1e-6)
    assert not qwha.HessianAccumulator(4).hessian().any()


def test_hessian_errors():
    acc = qwha.HessianAccumulator(4)
    with pytest.raises(TypeError, match="'rows' must have dtype float32"):
        acc.add(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="'rows' must have 4 columns"):
        acc.add(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="'rows' must be 2-dimensional"):
        acc.add(np.zeros(4, np.float32))
    bad = np.zeros((1, 4), np.float32)
    bad[0, 2] = np.nan
    with pytest.raises(ValueError, match="rows: .*finite"):
        acc.add(bad)
    assert acc.num_samples == 0
    with pytest.raises(ValueError, match="other"):
        acc.merge(qwha.HessianAccumulator(5))
    with pytest.raises(ValueError, match="'dim' must be positive"):
        qwha.HessianAccumulator(0)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        qwha.hessian([[1.0]])


# --- RTN and dequantization -------------------------------------------------

def numpy_rtn(w, bits, group):
    """The min-max grid of Grid.h, asymmetric, in float32."""
    maxq = np.float32(2 ** bits - 1)
    rows, cols = w.shape
    g = w.reshape(rows, cols // group, group)
    xmin = np.minimum(g.min(axis=2), 0).astype(np.float32)
    xmax = np.maximum(g.max(axis=2), 0).astype(np.float32)
    both = (xmin == 0) & (xmax == 0)
    xmin[both], xmax[both] = -1, 1
    scale = ((xmax - xmin) / maxq).astype(np.float32)
    zero = np.round(-xmin / scale).astype(np.float32)
    q = np.clip(np.round(g / scale[..., None]) + zero[..., None], 0, maxq)
    return q.reshape(rows, cols).astype(np.uint8), scale, zero


@pytest.mark.parametrize("bits,group", [(4, 16), (3, 32), (2, 64), (8, 64)])
def test_rtn_matches_numpy_grid(rng, bits, group):
    w = rng.standard_normal((12, 64)).astype(np.float32)
    q = qwha.rtn(w, bits=bits, group_size=group)
    codes, scales, zeros = numpy_rtn(w, bits, group)
    np.testing.assert_array_equal(q.scales, scales)
    np.testing.assert_array_equal(q.zeros, zeros)
    np.testing.assert_array_equal(q.codes, codes)
    assert (q.rows, q.cols, q.bits, q.group_size, q.num_groups) == (
        12, 64, bits, group, 64 // group)
    np.testing.assert_array_equal(q.g_idx, np.arange(64) // group)
    expected = scales[:, np.arange(64) // group] * (
        codes.astype(np.float32) - zeros[:, np.arange(64) // group])
    np.testing.assert_array_equal(q.dequantize(), expected)
    np.testing.assert_array_equal(
        qwha.dequantize(q.codes, q.scales, q.zeros, bits=bits), expected)


def test_rtn_options(rng):
    w = rng.standard_normal((8, 64)).astype(np.float32)
    sym = qwha.rtn(w, bits=4, group_size=-1, symmetric=True)
    assert sym.group_size == 64 and (sym.zeros == 8).all()
    plain = qwha.rtn(w, bits=3, group_size=-1)
    mse = qwha.rtn(w, bits=3, group_size=-1, mse=True, mse_norm=2.4,
                   mse_grid=100, mse_max_shrink=0.8)
    err = lambda q: np.sum(np.abs(q.dequantize() - w) ** 2.4)
    assert err(mse) <= err(plain)


def test_dequantize_with_g_idx(rng):
    codes = rng.integers(0, 16, (4, 8)).astype(np.uint8)
    scales = rng.random((4, 2)).astype(np.float32)
    zeros = np.full((4, 2), 8, np.float32)
    g_idx = np.array([1, 0, 1, 0, 0, 1, 1, 0], np.int32)
    out = qwha.dequantize(codes, scales, zeros, bits=4, g_idx=g_idx)
    np.testing.assert_array_equal(
        out, scales[:, g_idx] * (codes.astype(np.float32) - zeros[:, g_idx]))


def test_rtn_and_dequantize_errors(rng):
    w = np.ones((4, 64), np.float32)
    with pytest.raises(ValueError, match="rtn: unsupported bit width 5"):
        qwha.rtn(w, bits=5)
    with pytest.raises(ValueError, match="rtn: .*group"):
        qwha.rtn(w, group_size=3)
    with pytest.raises(TypeError, match="'weight' must have dtype float32"):
        qwha.rtn(w.astype(np.float64))
    w[1, 2] = np.inf
    with pytest.raises(ValueError, match="rtn: .*finite"):
        qwha.rtn(w, group_size=-1)
    codes = np.zeros((2, 8), np.uint8)
    s = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="'codes' holds 16"):
        qwha.dequantize(codes + 16, s, s, bits=4)
    with pytest.raises(ValueError, match="'zeros' must have the shape"):
        qwha.dequantize(codes, s, np.ones((2, 3), np.float32), bits=4)
    with pytest.raises(ValueError, match="groups of 'scales' do not divide"):
        qwha.dequantize(codes, np.ones((2, 3), np.float32),
                        np.ones((2, 3), np.float32), bits=4)
    with pytest.raises(ValueError, match="'g_idx' holds group 2"):
        qwha.dequantize(codes, s, s, bits=4, g_idx=np.full(8, 2, np.int32))
    with pytest.raises(TypeError, match="'g_idx' must have dtype int32"):
        qwha.dequantize(codes, s, s, bits=4, g_idx=np.zeros(8, np.int64))
    with pytest.raises(ValueError, match="'bits' must be 2, 3, 4 or 8"):
        qwha.dequantize(codes, s, s, bits=6)


# --- GPTQ -------------------------------------------------------------------

def objective(w, q, h):
    e = (w - q).astype(np.float64)
    return float(np.einsum("ij,jk,ik->", e, h.astype(np.float64), e))


@pytest.mark.parametrize("opts", [
    dict(bits=4, group_size=32),
    dict(bits=3, group_size=-1, act_order=True),
    dict(bits=2, group_size=32, act_order=True, static_groups=True),
    dict(bits=4, group_size=64, act_order=True, symmetric=True, block_size=16),
    dict(bits=3, group_size=32, mse=True, damp=0.05),
])
def test_gptq_objective_and_beats_rtn(rng, opts):
    w, _, h = random_layer(rng, 32, 128)
    r = qwha.gptq(w, h, **opts)
    q = r.quantized
    np.testing.assert_allclose(r.objective, objective(w, q.dequantize(), h),
                               rtol=1e-3)
    np.testing.assert_allclose(r.objective_rtn, objective(
        w, qwha.rtn(w, **{k: v for k, v in opts.items() if k in (
            "bits", "group_size", "symmetric", "mse")}).dequantize(), h),
        rtol=1e-3)
    assert r.objective < r.objective_rtn
    np.testing.assert_allclose(r.output_energy, objective(w, 0 * w, h),
                               rtol=1e-4)
    assert r.damp == pytest.approx(opts.get("damp", 0.01))
    assert r.damp_raises == 0 and r.dead_columns == 0
    np.testing.assert_allclose(
        qwha.quadratic_objective(w, q.dequantize(), h), r.objective, rtol=1e-3)
    if opts.get("act_order"):
        diag = np.diag(h)
        np.testing.assert_array_equal(r.permutation,
                                      np.argsort(-diag, kind="stable"))
        if not opts.get("static_groups") and opts["group_size"] != -1:
            assert q.has_permuted_groups
    else:
        assert r.permutation.size == 0
    # codes, scales, zeros and g_idx describe the same matrix.
    np.testing.assert_array_equal(
        qwha.dequantize(q.codes, q.scales, q.zeros, bits=q.bits,
                        g_idx=q.g_idx), q.dequantize())


def test_gptq_baselines_off_and_damping(rng):
    w, _, h = random_layer(rng, 8, 32)
    r = qwha.gptq(w, h, group_size=-1, compute_baselines=False)
    assert np.isnan(r.objective_rtn) and np.isnan(r.output_energy)
    # A negative definite Hessian needs damping raised until it gives up.
    with pytest.raises(ValueError, match="gptq: .*"):
        qwha.gptq(w, -np.eye(32, dtype=np.float32) * 100, group_size=-1)
    # A rank-deficient one is rescued by raising the damping.
    x = rng.standard_normal((4, 32)).astype(np.float32)
    r = qwha.gptq(w, qwha.hessian(x), group_size=-1, damp=1e-9,
                  damp_increment=0.01)
    assert r.damp_raises >= 1 and r.damp > 1e-9


def test_gptq_dead_columns(rng):
    w, _, h = random_layer(rng, 8, 32)
    h[:, 5] = 0
    h[5, :] = 0
    r = qwha.gptq(w, h, group_size=-1)
    assert r.dead_columns == 1


def test_gptq_errors(rng):
    w, _, h = random_layer(rng, 8, 32)
    with pytest.raises(ValueError, match=r"'hessian' must have shape \(32, 32\)"):
        qwha.gptq(w, h[:16, :16])
    with pytest.raises(TypeError, match="'hessian' must have dtype float32"):
        qwha.gptq(w, h.astype(np.float64))
    with pytest.raises(ValueError, match="gptq: unsupported bit width 7"):
        qwha.gptq(w, h, bits=7)
    with pytest.raises(ValueError, match="gptq: .*block"):
        qwha.gptq(w, h, group_size=-1, block_size=0)
    h2 = h.copy()
    h2[3, 3] = np.nan
    with pytest.raises(ValueError, match="gptq: .*finite"):
        qwha.gptq(w, h2, group_size=-1)
    with pytest.raises(ValueError, match="'weight' must be 2-dimensional"):
        qwha.gptq(w[0], h)


@pytest.mark.parametrize("args,opts", [
    ([], dict(bits=4, group_size=128)),
    (["--bits", "3", "--group-size", "32", "--act-order"],
     dict(bits=3, group_size=32, act_order=True)),
    (["--bits", "2", "--group-size", "64", "--block-size", "32"],
     dict(bits=2, group_size=64, block_size=32)),
])
def test_gptq_equals_cpp_tool(rng, tmp_path, args, opts):
    """The same data through qwha-bench-gptq (the C++ program) gives the
    same objective and the same dequantized weight."""
    bench = tool("qwha-bench-gptq")
    w, _, h = random_layer(rng, 64, 256)
    path = tmp_path / "layer.safetensors"
    write_safetensors(path, {"weight": w, "hessian": h})
    out = json.loads(subprocess.run([bench, str(path), "--repeat", "1", *args],
                                    check=True, capture_output=True,
                                    text=True).stdout)
    r = qwha.gptq(w, h, compute_baselines=False, **opts)
    assert out["objective"] == pytest.approx(r.objective, rel=1e-12)
    assert out["damp"] == r.damp
    assert out["checksum"] == pytest.approx(
        float(np.sum(r.quantized.dequantize().astype(np.float64))), rel=1e-12)


# --- Packing ----------------------------------------------------------------

def numpy_pack(values, bits):
    """Packs uint values [M, P] along P bit by bit: value i of each run of
    32 at bits [bits*i, bits*i+bits) of a little-endian stream of words."""
    m, p = values.shape
    bitplanes = (values[..., None].astype(np.uint64)
                 >> np.arange(bits, dtype=np.uint64)) & 1
    stream = bitplanes.reshape(m, p * bits // 32, 32)
    words = (stream << np.arange(32, dtype=np.uint64)).sum(axis=2)
    return words.astype(np.uint32).view(np.int32)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_pack_weight_against_bitwise_numpy(rng, bits):
    n, k = 48, 128
    codes = rng.integers(0, 2 ** bits, (n, k)).astype(np.uint8)
    qweight = qwha.pack_weight(codes, bits)
    assert qweight.dtype == np.int32 and qweight.shape == (k // 32 * bits, n)
    np.testing.assert_array_equal(qweight, numpy_pack(codes, bits).T)
    np.testing.assert_array_equal(qwha.unpack_weight(qweight, k, bits), codes)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_pack_zeros_against_bitwise_numpy(rng, bits, fmt):
    n, g = 64, 3
    zeros = rng.integers(1, 2 ** bits, (n, g)).astype(np.uint8)
    qzeros = qwha.pack_zeros(zeros, bits, fmt)
    stored = zeros.T - (1 if fmt == "v1" else 0)
    assert qzeros.shape == (g, n // 32 * bits)
    np.testing.assert_array_equal(qzeros, numpy_pack(stored, bits))
    np.testing.assert_array_equal(qwha.unpack_zeros(qzeros, n, bits, fmt),
                                  zeros)


def test_gptq_result_round_trips_through_checkpoint_tensors(rng):
    w, _, h = random_layer(rng, 32, 128)
    q = qwha.gptq(w, h, bits=4, group_size=32).quantized
    qweight = qwha.pack_weight(q.codes, 4)
    qzeros = qwha.pack_zeros(q.zeros.astype(np.uint8), 4, "v2")
    codes = qwha.unpack_weight(qweight, 128, 4)
    zeros = qwha.unpack_zeros(qzeros, 32, 4, "v2").astype(np.float32)
    np.testing.assert_array_equal(
        qwha.dequantize(codes, q.scales, zeros, bits=4), q.dequantize())


def test_packing_errors():
    with pytest.raises(ValueError, match="pack_weight: .*32"):
        qwha.pack_weight(np.zeros((4, 30), np.uint8), 4)
    with pytest.raises(ValueError, match="pack_weight: .*"):
        qwha.pack_weight(np.full((4, 32), 16, np.uint8), 4)
    with pytest.raises(ValueError, match="pack_weight: .*bits"):
        qwha.pack_weight(np.zeros((4, 32), np.uint8), 5)
    with pytest.raises(TypeError, match="'codes' must have dtype uint8"):
        qwha.pack_weight(np.zeros((4, 32), np.int32), 4)
    with pytest.raises(ValueError, match="pack_zeros: .*0"):
        qwha.pack_zeros(np.zeros((32, 1), np.uint8), 4, "v1")
    with pytest.raises(ValueError, match="'format' must be 'v1'"):
        qwha.pack_zeros(np.ones((32, 1), np.uint8), 4, "v3")
    with pytest.raises(ValueError, match="unpack_weight: "):
        qwha.unpack_weight(np.zeros((4, 8), np.int32), 64, 4)
    with pytest.raises(ValueError, match="unpack_zeros: "):
        qwha.unpack_zeros(np.full((1, 4), -1, np.int32), 32, 4, "v1")


# --- Walsh-Hadamard ---------------------------------------------------------

def sylvester(d):
    h = np.array([[1]])
    while h.shape[0] < d:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("d", [1, 2, 8, 64, 256])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fwht_matches_dense_sylvester(rng, d, dtype):
    x = rng.standard_normal((5, d)).astype(dtype)
    h = sylvester(d).astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(qwha.fwht(x), x @ h.T / np.sqrt(d),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(qwha.fwht(x, normalized=False), x @ h.T,
                               rtol=tol, atol=tol * np.sqrt(d))
    np.testing.assert_array_equal(qwha.hadamard_matrix(d), sylvester(d))


def test_fwht_inplace_and_batched(rng):
    x = rng.standard_normal((2, 3, 32)).astype(np.float32)
    y = qwha.fwht(x)
    assert y is not x
    z = x.copy()
    assert qwha.fwht(z, inplace=True) is z
    np.testing.assert_array_equal(z, y)
    np.testing.assert_allclose(qwha.fwht(y), x, rtol=1e-5, atol=1e-6)
    # Non-contiguous input is copied for the returning form.
    np.testing.assert_allclose(qwha.fwht(x[:, :, ::1].transpose(1, 0, 2)),
                               y.transpose(1, 0, 2), rtol=1e-6)


def test_non_power_of_two_sizes(rng):
    for d in (12, 20, 24, 40):
        h = qwha.hadamard_matrix(d).astype(np.float64)
        np.testing.assert_array_equal(h @ h.T, d * np.eye(d))
        x = rng.standard_normal((3, d))
        np.testing.assert_allclose(qwha.fwht(x), x @ h.T / np.sqrt(d),
                                   atol=1e-12)
        p, m = qwha.factor_hadamard_size(d)
        assert p * m == d
    assert qwha.factor_hadamard_size(172) is None
    assert qwha.is_symmetric_hadamard_size(64)
    assert qwha.is_symmetric_hadamard_size(12)  # Paley II base (q = 5)
    assert qwha.factor_hadamard_size(44) == (1, 44)
    assert not qwha.is_symmetric_hadamard_size(44)  # Paley I base (q = 43)


def test_fwht_errors():
    with pytest.raises(TypeError, match="'x' must have dtype float32 or float64"):
        qwha.fwht(np.zeros(8, np.int32))
    with pytest.raises(ValueError, match="fwht: .*172"):
        qwha.fwht(np.zeros(172, np.float32))
    with pytest.raises(ValueError, match="C-contiguous and writable"):
        qwha.fwht(np.zeros((8, 8), np.float32).T, inplace=True)
    with pytest.raises(ValueError, match="hadamard_matrix: .*172"):
        qwha.hadamard_matrix(172)
    with pytest.raises(ValueError, match="'d' must be positive"):
        qwha.hadamard_matrix(0)


# --- Adapters ---------------------------------------------------------------

def test_allocate_row_budgets():
    b = qwha.allocate_row_budgets(np.array([1.0, 4.0, 9.0, 0.0]), 12, power=2)
    assert b.sum() == 12 and b.dtype == np.int64
    # power 2: in proportion to energy (1:4:9:0) -> 12/14 * [1, 4, 9, 0]
    np.testing.assert_array_equal(b, [1, 3, 8, 0])
    np.testing.assert_array_equal(
        qwha.allocate_row_budgets(np.array([1.0, 4.0, 9.0]), 9, power=0),
        [3, 3, 3])
    capped = qwha.allocate_row_budgets(np.array([0.0, 0.0, 100.0]), 9,
                                       power=1, max_per_row=4)
    assert capped.sum() == 9 and capped.max() <= 4
    with pytest.raises(ValueError, match="'energies' must be finite"):
        qwha.allocate_row_budgets(np.array([np.nan]), 1)
    with pytest.raises(TypeError, match="'energies' must have dtype float64"):
        qwha.allocate_row_budgets(np.array([1.0], np.float32), 1)


@pytest.mark.parametrize("selection,refine", [("magnitude", True),
                                              ("magnitude", False),
                                              ("random", True)])
def test_init_adapter(rng, selection, refine):
    rows, cols, rank = 24, 64, 2
    w, x, h = random_layer(rng, rows, cols)
    q = qwha.gptq(w, h, bits=2, group_size=32).quantized.dequantize()
    r = qwha.init_adapter(w, q, h, rank=rank, selection=selection,
                          refine=refine, seed=7)
    f = r.adapter
    assert r.budget == rank * (rows + cols) == f.nnz
    assert (f.rows, f.cols) == (rows, cols)
    hn = qwha.hadamard_matrix(cols).astype(np.float64) / np.sqrt(cols)
    dense = f.to_dense()
    assert np.count_nonzero(dense) <= f.nnz
    # Objectives against the dense definition: E = W - Q, dW = F H.
    e = (w - q).astype(np.float64)
    np.testing.assert_allclose(r.objective_none, objective(e, 0 * e, h),
                               rtol=1e-4)
    np.testing.assert_allclose(r.objective_refined,
                               objective(e, dense @ hn, h), rtol=1e-3)
    assert r.objective_refined <= r.objective_selected * (1 + 1e-6)
    if refine:
        assert r.objective_refined < r.objective_none
    if not refine:
        assert r.objective_refined == r.objective_selected
    # CSR views agree with the flat layout and from_flat rebuilds it.
    np.testing.assert_array_equal(np.diff(f.row_offsets) >= 0, True)
    flat = f.flat_indices()
    np.testing.assert_array_equal(
        flat, np.repeat(np.arange(rows), np.diff(f.row_offsets)) * cols
        + f.col_indices)
    g = qwha.SparseMatrix.from_flat(rows, cols, flat[::-1].copy(),
                                    f.values[::-1].copy())
    np.testing.assert_array_equal(g.to_dense(), dense)
    # apply_adapter: F (H x / sqrt(d)).
    np.testing.assert_allclose(qwha.apply_adapter(f, x[:5]),
                               x[:5] @ (dense @ hn).T, rtol=1e-4, atol=1e-5)


def test_adapter_errors(rng):
    w, _, h = random_layer(rng, 4, 64)
    with pytest.raises(ValueError, match="'selection' must be 'magnitude'"):
        qwha.init_adapter(w, w, h, selection="best")
    with pytest.raises(ValueError, match="'quantized' must have the shape"):
        qwha.init_adapter(w, w[:2], h)
    w2, _, h2 = random_layer(rng, 4, 172)
    with pytest.raises(ValueError, match="init_adapter: .*172"):
        qwha.init_adapter(w2, w2, h2)
    with pytest.raises(ValueError, match="SparseMatrix.from_flat: .*"):
        qwha.SparseMatrix.from_flat(2, 2, np.array([0, 0]), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="SparseMatrix.from_flat: .*"):
        qwha.SparseMatrix.from_flat(2, 2, np.array([4]), np.ones(1, np.float32))
    f = qwha.SparseMatrix.from_flat(2, 4, np.array([1]), np.ones(1, np.float32))
    with pytest.raises(ValueError, match="'inputs' must have 4 columns"):
        qwha.apply_adapter(f, np.zeros((1, 8), np.float32))
