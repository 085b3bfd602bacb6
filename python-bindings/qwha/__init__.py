"""QWHA: GPTQ quantization and Walsh-Hadamard adapters, from Python.

The numeric functions work on numpy arrays and call the project's C++ core
(``qwha/Quant``) directly: the same code the compiler's passes and tools
run, so results match them bit for bit. Arrays are taken C-contiguous in the
dtype the C++ works in (float32 for weights, activations and Hessians);
other layouts are copied, other dtypes raise ``TypeError``. Shape errors and
errors the C++ reports raise ``ValueError`` with its message.

``qwha.ir`` parses, transforms and calibrates MLIR modules in process;
``qwha.tools`` runs the command-line tools (``qwha-compile``);
``qwha.runtime`` calls the compiled libraries on numpy arrays and torch
tensors; ``qwha.torch`` quantizes torch modules in place (GPTQ with
calibration hooks), adds trainable Walsh-Hadamard adapters (``WHALinear``)
and exports both for the compiler.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _qwha
from ._qwha import (AdapterInitResult, GptqResult, HessianAccumulator,
                    QuantizedMatrix, SparseMatrix)

__all__ = [
    "AdapterInitResult", "GptqResult", "HessianAccumulator",
    "QuantizedMatrix", "SparseMatrix", "allocate_row_budgets",
    "apply_adapter", "dequantize", "factor_hadamard_size", "fwht", "gptq",
    "hadamard_matrix", "hessian", "init_adapter", "is_symmetric_hadamard_size",
    "make_quantized",
    "pack_weight", "pack_zeros", "quadratic_objective", "rtn",
    "unpack_weight", "unpack_zeros",
]


def _contiguous(x, name: str) -> np.ndarray:
    """``x`` as a C-contiguous ndarray (dtype unchanged: the C++ checks it)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"argument '{name}' must be a numpy.ndarray, "
                        f"got {type(x).__name__}")
    return np.ascontiguousarray(x)


def hessian(x: np.ndarray) -> np.ndarray:
    """H = 2/N X^T X for activations ``x`` (float32, [N, K]), as float32 [K, K].

    The sum is accumulated in float64 (BLAS dsyrk), like the calibration
    pass. Use :class:`HessianAccumulator` to add rows in batches.
    """
    x = _contiguous(x, "x")
    if x.ndim != 2:
        raise ValueError(f"argument 'x' must be 2-dimensional, got shape {x.shape}")
    acc = HessianAccumulator(x.shape[1])
    acc.add(x)
    return acc.hessian()


def rtn(weight: np.ndarray, *, bits: int = 4, group_size: int = 128,
        symmetric: bool = False, mse: bool = False, mse_norm: float = 2.4,
        mse_grid: int = 100, mse_max_shrink: float = 0.8) -> QuantizedMatrix:
    """Round-to-nearest quantization of ``weight`` (float32, [out, in]).

    ``group_size`` -1 means one group per row. ``mse`` searches a shrunk
    range per grid (``mse_norm``, ``mse_grid``, ``mse_max_shrink`` are the
    GPTQ reference's constants).
    """
    return _qwha.rtn(_contiguous(weight, "weight"), bits, group_size,
                     symmetric, mse, mse_norm, mse_grid, mse_max_shrink)


def gptq(weight: np.ndarray, hessian: np.ndarray, *, bits: int = 4,
         group_size: int = 128, symmetric: bool = False, mse: bool = False,
         mse_norm: float = 2.4, mse_grid: int = 100,
         mse_max_shrink: float = 0.8, damp: float = 0.01,
         damp_increment: float = 0.0025, block_size: int = 128,
         act_order: bool = False, static_groups: bool = False,
         compute_baselines: bool = True) -> GptqResult:
    """GPTQ quantization of ``weight`` (float32, [out, in]) given the
    Hessian of its inputs (float32, [in, in]).

    Options are those of the C++ ``GptqOptions``: grid options as for
    :func:`rtn`; relative damping ``damp`` raised by ``damp_increment``
    while the Cholesky factorisation fails; lazy-update ``block_size``;
    ``act_order`` (columns by decreasing Hessian diagonal) with
    ``static_groups``; ``compute_baselines`` adds the RTN objective and
    the output energy to the result (twice the work).

    The result holds ``quantized`` (codes, scales, zeros, g_idx), the
    ``permutation`` used by act-order, ``objective`` = tr((W-Q) H (W-Q)^T),
    ``damp`` actually used and ``damp_raises``.
    """
    return _qwha.gptq(_contiguous(weight, "weight"),
                      _contiguous(hessian, "hessian"), bits, group_size,
                      symmetric, mse, mse_norm, mse_grid, mse_max_shrink,
                      damp, damp_increment, block_size, act_order,
                      static_groups, compute_baselines)


def quadratic_objective(a: np.ndarray, b: np.ndarray,
                        hessian: np.ndarray) -> float:
    """tr((a - b) H (a - b)^T) for float32 [rows, cols] ``a``, ``b`` and
    float32 [cols, cols] ``hessian``."""
    return _qwha.quadratic_objective(_contiguous(a, "a"), _contiguous(b, "b"),
                                     _contiguous(hessian, "hessian"))


def dequantize(codes: np.ndarray, scales: np.ndarray, zeros: np.ndarray, *,
               bits: int, g_idx: Optional[np.ndarray] = None) -> np.ndarray:
    """The float32 [rows, cols] matrix scale * (code - zero) that codes
    (uint8 [rows, cols]) stand for, with scales and zeros float32
    [rows, groups] and ``g_idx`` (int32 [cols]) the group of each column
    (``col // (cols / groups)`` when omitted)."""
    q = make_quantized(codes, scales, zeros, bits=bits, g_idx=g_idx)
    return q.dequantize()


def make_quantized(codes: np.ndarray, scales: np.ndarray, zeros: np.ndarray,
                   *, bits: int,
                   g_idx: Optional[np.ndarray] = None) -> QuantizedMatrix:
    """A :class:`QuantizedMatrix` from its arrays (see :func:`dequantize`)."""
    return _qwha.make_quantized(
        _contiguous(codes, "codes"), _contiguous(scales, "scales"),
        _contiguous(zeros, "zeros"),
        None if g_idx is None else _contiguous(g_idx, "g_idx"), bits)


def pack_weight(codes: np.ndarray, bits: int) -> np.ndarray:
    """GPTQ ``qweight``: codes (uint8 [N, K], K a multiple of 32) packed
    along K into int32 [K / 32 * bits, N], as AutoGPTQ writes it."""
    return _qwha.pack_weight(_contiguous(codes, "codes"), bits)


def unpack_weight(qweight: np.ndarray, in_features: int,
                  bits: int) -> np.ndarray:
    """Inverse of :func:`pack_weight`: int32 qweight -> uint8 [N, K]."""
    return _qwha.unpack_weight(_contiguous(qweight, "qweight"), in_features,
                               bits)


def pack_zeros(zeros: np.ndarray, bits: int, format: str = "v1") -> np.ndarray:
    """GPTQ ``qzeros``: true zero points (uint8 [N, G]) packed along N into
    int32 [G, N / 32 * bits]. ``format`` "v1" ("gptq", AutoGPTQ) stores
    z - 1 and cannot store a zero point of 0; "v2" ("gptq_v2") stores z."""
    return _qwha.pack_zeros(_contiguous(zeros, "zeros"), bits, format)


def unpack_zeros(qzeros: np.ndarray, out_features: int, bits: int,
                 format: str = "v1") -> np.ndarray:
    """Inverse of :func:`pack_zeros`: int32 qzeros -> uint8 [N, G]."""
    return _qwha.unpack_zeros(_contiguous(qzeros, "qzeros"), out_features,
                              bits, format)


def factor_hadamard_size(d: int) -> Optional[Tuple[int, int]]:
    """(2^n, m) with d = 2^n * m for the Hadamard matrix QWHA uses for size
    d, or None when the library has no construction for d."""
    return _qwha.factor_hadamard_size(d)


def is_symmetric_hadamard_size(d: int) -> bool:
    """Whether H_d is symmetric (the normalized transform is an involution)."""
    return _qwha.is_symmetric_hadamard_size(d)


def hadamard_matrix(d: int) -> np.ndarray:
    """The dense Hadamard matrix H_d (int8, entries +-1, [d, d])."""
    return _qwha.hadamard_matrix(d)


def fwht(x: np.ndarray, *, normalized: bool = True,
         inplace: bool = False) -> np.ndarray:
    """Fast Walsh-Hadamard transform H_d v of every vector v along the last
    axis of ``x`` (float32 or float64), scaled by 1/sqrt(d) when
    ``normalized`` (orthonormal). With ``inplace`` the transform overwrites
    ``x``, which must then be C-contiguous and writable, and ``x`` is
    returned; otherwise a new array is."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"argument 'x' must be a numpy.ndarray, "
                        f"got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError("argument 'x' must have dtype float32 or float64, "
                        f"got {x.dtype}")
    if inplace:
        if not x.flags.c_contiguous or not x.flags.writeable:
            raise ValueError("argument 'x' must be C-contiguous and writable "
                             "for an in-place transform")
        y = x
    else:
        y = np.array(x, order="C", copy=True)
    _qwha.fwht_inplace(y, normalized)
    return y


def allocate_row_budgets(energies: np.ndarray, budget: int, *,
                         power: float = 1.0,
                         max_per_row: Optional[int] = None) -> np.ndarray:
    """AdaAlloc: splits ``budget`` adapter entries over rows in proportion
    to energy^(power / 2) (``energies`` float64 [rows], ||(E X)_i||^2),
    floor first and the remainder by largest fractional part, at most
    ``max_per_row`` per row (unbounded when None). Returns int64 [rows]."""
    if max_per_row is None:
        max_per_row = budget
    return _qwha.allocate_row_budgets(_contiguous(energies, "energies"),
                                      budget, power, max_per_row)


def init_adapter(weight: np.ndarray, quantized: np.ndarray,
                 hessian: np.ndarray, *, rank: int = 64,
                 alloc_power: float = 1.0, selection: str = "magnitude",
                 seed: int = 0, refine: bool = True, damp: float = 0.01,
                 damp_increment: float = 0.01) -> AdapterInitResult:
    """Initialises a QWHA adapter F (sparse, [out, in]) for a layer from
    its float ``weight``, its dequantized ``quantized`` weight (both float32
    [out, in]) and the Hessian of its inputs (float32 [in, in]): AdaAlloc
    budgets of rank * (out + in) entries, selection of the largest
    transform-domain errors ("magnitude", or "random" with ``seed``), and
    least-squares ``refine``-ment with relative ``damp``. ``in`` must be a
    supported Walsh-Hadamard size (see :func:`factor_hadamard_size`)."""
    return _qwha.init_adapter(
        _contiguous(weight, "weight"), _contiguous(quantized, "quantized"),
        _contiguous(hessian, "hessian"), rank, alloc_power, selection, seed,
        refine, damp, damp_increment)


def apply_adapter(adapter: SparseMatrix, inputs: np.ndarray) -> np.ndarray:
    """The adapter's output F (H x / sqrt(in)) for each row x of ``inputs``
    (float32 [count, in]), float32 [count, out]."""
    return _qwha.apply_adapter(adapter, _contiguous(inputs, "inputs"))
