"""GPTQ and Walsh-Hadamard adapters for torch modules.

    import qwha.torch as qt
    report = qt.quantize_(model, batches, bits=4, group_size=128)
    # or, with QWHA adapters initialised from the quantization error:
    report = qt.quantize_(model, batches, bits=2, group_size=64,
                          adapter_rank=64)
    ... fine-tune: only the adapters' values are parameters that need grad
    qt.export_gptq(model, "checkpoint/")       # qwha-load-gptq reads it
    qt.export_adapters(model, "adapters.safetensors")  # qwha-load-adapters

``quantize_`` works as GPTQModel does: forward pre-hooks on the selected
``nn.Linear`` layers accumulate each layer's Hessian H = 2/N sum x x^T while
the model runs on the calibration batches, then every layer is quantized by
the project's C++ GPTQ (the code the compiler runs) and replaced in place by
a :class:`QuantLinear`, or by a :class:`WHALinear` when ``adapter_rank`` is
given. Scales are rounded to float16 as GPTQ checkpoints store them, so the
torch module, the exported checkpoint and the compiled model compute with
the same weights.

A :class:`WHALinear` is y = x W_q^T + b + x (F H)^T: the frozen quantized
weight W_q, the orthonormal Walsh-Hadamard transform H of the input features
(butterflies, :func:`hadamard_transform`),
and a sparse F whose support (chosen by AdaAlloc and magnitude selection)
is fixed and whose values are an ``nn.Parameter``: any torch optimizer
fine-tunes them (QWHA fine-tuning), and :func:`export_adapters` writes them
in the adapter file the compiler loads.

Layer names are the modules' qualified names (``model.named_modules()``),
which for Hugging Face models are the names ``qwha-import`` gives the layers.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np
import torch
from torch import nn

from . import (HessianAccumulator, QuantizedMatrix, SparseMatrix,
               factor_hadamard_size, hadamard_matrix, init_adapter,
               make_quantized)
from . import _qwha
from . import gptq as _gptq
from . import rtn as _rtn

__all__ = ["QuantLinear", "WHALinear", "quantize_", "export_gptq",
           "export_adapters", "load_adapters_", "collect_hessians",
           "hadamard_transform", "trainable_adapters_"]


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float32).contiguous().numpy()


class QuantLinear(nn.Module):
    """A frozen quantized ``nn.Linear``: integer codes, per-group scales and
    zero points (and the act-order group of each column), with the
    dequantized weight kept as a buffer for ``F.linear``.

    ``scale_dtype`` rounds the scales the way a checkpoint stores them
    (float16 for GPTQ checkpoints; float32 keeps them exact)."""

    def __init__(self, quantized: QuantizedMatrix,
                 bias: Optional[torch.Tensor] = None, *,
                 scale_dtype: torch.dtype = torch.float16):
        super().__init__()
        scales = torch.from_numpy(np.array(quantized.scales))
        scales = scales.to(scale_dtype).to(torch.float32)
        if not torch.isfinite(scales).all():
            raise ValueError(f"a scale does not fit in {scale_dtype}")
        g_idx = quantized.g_idx
        self.in_features = quantized.cols
        self.out_features = quantized.rows
        self.bits = quantized.bits
        self.group_size = quantized.group_size
        self.register_buffer("codes", torch.from_numpy(np.array(quantized.codes)))
        self.register_buffer("scales", scales)
        self.register_buffer("zeros", torch.from_numpy(np.array(quantized.zeros)))
        self.register_buffer(
            "g_idx", torch.from_numpy(np.array(g_idx, dtype=np.int64))
            if g_idx.size else
            torch.arange(self.in_features) // self.group_size)
        self.register_buffer("weight", self._dequantize())
        self.bias = None if bias is None else nn.Parameter(
            bias.detach().to(torch.float32).clone(), requires_grad=False)

    def _dequantize(self) -> torch.Tensor:
        groups = self.g_idx
        return ((self.codes.to(torch.float32) - self.zeros[:, groups])
                * self.scales[:, groups])

    def to_quantized(self) -> QuantizedMatrix:
        """The layer's weight as the C++ core's QuantizedMatrix."""
        identity = torch.equal(
            self.g_idx.cpu(), torch.arange(self.in_features) // self.group_size)
        return make_quantized(
            self.codes.cpu().numpy(), self.scales.cpu().numpy(),
            self.zeros.cpu().numpy(), bits=self.bits,
            g_idx=None if identity else
            self.g_idx.cpu().numpy().astype(np.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return nn.functional.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features="
                f"{self.out_features}, bits={self.bits}, group_size="
                f"{self.group_size}, bias={self.bias is not None}")


_HADAMARD_CACHE: Dict[Any, torch.Tensor] = {}


def _small_hadamard(m: int, like: torch.Tensor) -> torch.Tensor:
    key = (m, like.device, like.dtype)
    h = _HADAMARD_CACHE.get(key)
    if h is None:
        h = torch.from_numpy(hadamard_matrix(m).astype(np.float32)).to(
            device=like.device, dtype=like.dtype)
        _HADAMARD_CACHE[key] = h
    return h


def hadamard_transform(x: torch.Tensor) -> torch.Tensor:
    """x H^T over the last dimension d, H the orthonormal Walsh-Hadamard
    matrix ``qwha.hadamard_matrix(d) / sqrt(d)`` (the transform ``qwha.fwht``
    and the compiler's ``qwha.fwht`` apply), differentiable. For d = 2^n m,
    H = S_(2^n) (x) H_m: a product with the small m x m factor, then n
    butterfly stages, O(d (m + log d)) work and no d x d matrix."""
    d = x.shape[-1]
    factors = factor_hadamard_size(d)
    if factors is None:
        raise ValueError(f"no Walsh-Hadamard transform of size {d} (sizes are "
                         f"2^n * m, m in the table of qwha.factor_hadamard_size)")
    power, m = factors
    lead = x.shape[:-1]
    y = x.reshape(-1, power, m)
    if m > 1:
        y = y @ _small_hadamard(m, y).T
    h = 1
    while h < power:
        y = y.reshape(-1, power // (2 * h), 2, h, m)
        y = torch.stack((y[:, :, 0] + y[:, :, 1], y[:, :, 0] - y[:, :, 1]),
                        dim=2)
        h *= 2
    return y.reshape(*lead, d) / float(np.sqrt(d))


class WHALinear(nn.Module):
    """A :class:`QuantLinear` plus a Walsh-Hadamard adapter dW = F H whose
    support is fixed and whose values (``self.values``) are trainable."""

    def __init__(self, base: QuantLinear, adapter: SparseMatrix):
        super().__init__()
        if (adapter.rows, adapter.cols) != (base.out_features, base.in_features):
            raise ValueError(
                f"the adapter is {adapter.rows}x{adapter.cols}, the layer "
                f"{base.out_features}x{base.in_features}")
        self.base = base
        flat = torch.from_numpy(np.array(adapter.flat_indices()))
        self.register_buffer("rows", flat // base.in_features)
        self.register_buffer("cols", flat % base.in_features)
        self.values = nn.Parameter(torch.from_numpy(np.array(adapter.values)))

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def adapter_output(self, x: torch.Tensor) -> torch.Tensor:
        """x (F H)^T: the transform once per row, then the sparse product."""
        t = hadamard_transform(x.reshape(-1, self.in_features))
        contributions = t[:, self.cols] * self.values.to(t.dtype)
        y = t.new_zeros(t.shape[0], self.out_features)
        y.index_add_(1, self.rows, contributions)
        return y.reshape(*x.shape[:-1], self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.adapter_output(x)

    def to_sparse(self) -> SparseMatrix:
        """The current adapter (values as trained) as a SparseMatrix."""
        flat = (self.rows * self.in_features + self.cols).cpu().numpy()
        return SparseMatrix.from_flat(self.out_features, self.in_features,
                                      flat.astype(np.int64),
                                      _to_numpy(self.values))

    def extra_repr(self) -> str:
        return f"nnz={self.values.numel()}"


def _run(model: nn.Module, batch) -> None:
    if isinstance(batch, dict):
        model(**batch)
    elif isinstance(batch, (tuple, list)):
        model(*batch)
    else:
        model(batch)


def _select(model: nn.Module, layers: Optional[str]) -> List[str]:
    pattern = re.compile(layers) if layers is not None else None
    names = []
    for name, module in model.named_modules():
        if type(module) is not nn.Linear:
            continue
        if pattern is None or pattern.fullmatch(name):
            names.append(name)
    return names


def collect_hessians(model: nn.Module, batches: Iterable,
                     names: List[str]) -> Dict[str, HessianAccumulator]:
    """Runs ``model`` on every batch (no grad) with forward pre-hooks on the
    named ``nn.Linear`` modules; returns each one's Hessian accumulator.
    A batch is passed as ``model(**b)`` for a dict, ``model(*b)`` for a
    tuple or list, ``model(b)`` otherwise."""
    modules = dict(model.named_modules())
    accumulators = {n: HessianAccumulator(modules[n].in_features) for n in names}
    handles = []
    for name in names:
        def hook(module, inputs, name=name):
            x = inputs[0]
            accumulators[name].add(_to_numpy(x.reshape(-1, x.shape[-1])))
        handles.append(modules[name].register_forward_pre_hook(hook))
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                _run(model, batch)
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
    for name, acc in accumulators.items():
        if acc.num_samples == 0:
            raise RuntimeError(f"layer '{name}' did not run on the "
                               f"calibration batches")
    return accumulators


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def quantize_(model: nn.Module, calibration: Optional[Iterable] = None, *,
              bits: int = 4, group_size: int = 128, method: str = "gptq",
              act_order: bool = True, symmetric: bool = False,
              static_groups: bool = False, damp: float = 0.01,
              mse: bool = False, layers: Optional[str] = None,
              sequential: bool = False,
              adapter_rank: Optional[int] = None, alloc_power: float = 1.0,
              refine: bool = True, selection: str = "magnitude",
              seed: int = 0, scale_dtype: torch.dtype = torch.float16,
              progress: bool = True) -> List[Dict[str, Any]]:
    """Quantizes the ``nn.Linear`` layers of ``model`` in place.

    ``layers`` is a regular expression the qualified names must match in
    full (default: every ``nn.Linear``). ``calibration`` (an iterable of
    batches, re-iterated when ``sequential``) is required for GPTQ and for
    adapters. ``sequential`` calibrates each layer on the outputs of the
    layers already quantized (one pass over the batches per layer; the
    default is one pass for all). ``adapter_rank`` replaces each layer by a
    :class:`WHALinear` whose adapter is initialised from the quantization
    error (budget rank * (in + out), AdaAlloc with ``alloc_power``,
    ``selection`` of the support, least-squares refinement with ``refine``).

    Returns one dict per layer (name, shape, objective = tr((W - Q) H
    (W - Q)^T), its RTN baseline and relative error, adapter objectives) and
    prints a line per layer and a summary table when ``progress``."""
    if method not in ("gptq", "rtn"):
        raise ValueError(f"method must be 'gptq' or 'rtn', got {method!r}")
    needs_data = method == "gptq" or adapter_rank is not None
    if needs_data and calibration is None:
        raise ValueError("GPTQ and adapters need calibration batches")
    if sequential and calibration is not None and iter(calibration) is calibration:
        raise ValueError("sequential mode iterates the calibration batches "
                         "once per layer: pass a list, not an iterator")
    names = _select(model, layers)
    if not names:
        raise ValueError(f"no nn.Linear of the model matches {layers!r}")
    modules = dict(model.named_modules())
    device = next((p.device for p in model.parameters()), torch.device("cpu"))

    hessians: Dict[str, np.ndarray] = {}
    if needs_data and not sequential:
        hessians = {n: a.hessian() for n, a in
                    collect_hessians(model, calibration, names).items()}

    report: List[Dict[str, Any]] = []
    for index, name in enumerate(names):
        start = time.monotonic()
        linear = modules[name]
        if needs_data and sequential:
            hessians = {name: collect_hessians(model, calibration, [name])[
                name].hessian()}
        weight = _to_numpy(linear.weight)
        h = hessians.get(name)
        row: Dict[str, Any] = {"name": name, "rows": weight.shape[0],
                               "cols": weight.shape[1]}
        if method == "gptq":
            result = _gptq(weight, h, bits=bits, group_size=group_size,
                           symmetric=symmetric, mse=mse, damp=damp,
                           act_order=act_order, static_groups=static_groups)
            quantized = result.quantized
            row["objective_rtn"] = result.objective_rtn
            row["output_energy"] = result.output_energy
        else:
            quantized = _rtn(weight, bits=bits, group_size=group_size,
                             symmetric=symmetric, mse=mse)
        layer = QuantLinear(quantized, linear.bias, scale_dtype=scale_dtype)
        dequantized = _to_numpy(layer.weight)
        if h is not None:
            row["objective"] = float(_qwha.quadratic_objective(weight, dequantized, h))
            if method == "rtn":
                row["objective_rtn"] = row["objective"]
                row["output_energy"] = float(_qwha.quadratic_objective(
                    weight, np.zeros_like(weight), h))
        module: nn.Module = layer
        if adapter_rank is not None:
            init = init_adapter(weight, dequantized, h, rank=adapter_rank,
                                alloc_power=alloc_power, selection=selection,
                                seed=seed, refine=refine)
            module = WHALinear(layer, init.adapter)
            row["adapter_entries"] = init.adapter.nnz
            row["objective_no_adapter"] = init.objective_none
            row["objective"] = init.objective_refined
        _replace(model, name, module.to(device))
        row["seconds"] = time.monotonic() - start
        if row.get("output_energy"):
            row["relative_error"] = row["objective"] / row["output_energy"]
        report.append(row)
        if progress:
            _print_row(index, len(names), row, bits, group_size, method,
                       adapter_rank)
    if progress:
        _print_summary(report)
    return report


def _print_row(index, total, row, bits, group_size, method, rank):
    text = (f"[{index + 1}/{total}] {row['name']} {row['rows']}x{row['cols']} "
            f"{bits}-bit g{group_size} {method.upper()}")
    if rank is not None:
        text += f" + WHA r{rank}"
    if "relative_error" in row:
        text += f": relative error {row['relative_error']:.3e}"
        if row.get("output_energy"):
            text += f" (RTN {row['objective_rtn'] / row['output_energy']:.3e})"
    print(text + f", {row['seconds']:.2f} s", file=sys.stderr, flush=True)


def _print_summary(report):
    print(f"{'layer':<40} {'shape':>11} {'rel. error':>11} {'RTN':>11}",
          file=sys.stderr)
    for row in report:
        energy = row.get("output_energy")
        rel = f"{row['relative_error']:.3e}" if "relative_error" in row else "-"
        rtn = (f"{row['objective_rtn'] / energy:.3e}" if energy else "-")
        shape = f"{row['rows']}x{row['cols']}"
        print(f"{row['name']:<40} {shape:>11} {rel:>11} {rtn:>11}",
              file=sys.stderr)
    print(f"quantized {len(report)} layers", file=sys.stderr, flush=True)


def trainable_adapters_(model: nn.Module) -> List[nn.Parameter]:
    """Freezes every parameter of ``model`` except the adapter values of its
    WHALinear layers, and returns those (for the optimizer)."""
    model.requires_grad_(False)
    values = [m.values for _, m in _layers_of(model, WHALinear)]
    if not values:
        raise ValueError("the model has no WHALinear layer")
    for value in values:
        value.requires_grad_(True)
    return values


def _layers_of(model: nn.Module, kind) -> List:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kind)]


def export_gptq(model: nn.Module, directory: str, *, format: str = "v1") -> None:
    """Writes every quantized layer (QuantLinear, and the base of each
    WHALinear) as a GPTQ checkpoint in ``directory`` (model.safetensors and
    quantize_config.json, format "v1"/"gptq" or "v2"/"gptq_v2"): what
    ``qwha-load-gptq`` and AutoGPTQ / GPTQModel read. All layers must share
    bits and group size."""
    layers = [(n, m.to_quantized()) for n, m in _layers_of(model, QuantLinear)]
    layers = [(n[:-len(".base")] if n.endswith(".base") else n, q)
              for n, q in layers]
    if not layers:
        raise ValueError("the model has no quantized layer (run quantize_)")
    _qwha.export_gptq(layers, str(directory), format)


def export_adapters(model: nn.Module, path: str) -> None:
    """Writes the adapters of every WHALinear (values as trained) to the
    adapter file ``qwha-load-adapters`` reads (written atomically)."""
    layers = [(n, m.to_sparse()) for n, m in _layers_of(model, WHALinear)]
    if not layers:
        raise ValueError("the model has no WHALinear layer")
    _qwha.save_adapters(layers, str(path))


def load_adapters_(model: nn.Module, path: str) -> None:
    """Sets the values of every WHALinear from an adapter file; each layer
    must be in the file with the support it has."""
    entries = _qwha.load_adapters(str(path))
    for name, module in _layers_of(model, WHALinear):
        if name not in entries:
            raise KeyError(f"layer '{name}' is not in '{path}'")
        indices, values = entries[name]
        flat = (module.rows * module.in_features + module.cols).cpu().numpy()
        order = np.argsort(indices, kind="stable")
        if not np.array_equal(np.sort(flat), indices[order]):
            raise ValueError(f"layer '{name}': the file's adapter has another "
                             f"support than the module's")
        by_index = dict(zip(indices.tolist(), values.tolist()))
        with torch.no_grad():
            module.values.copy_(torch.tensor([by_index[i] for i in flat.tolist()],
                                             dtype=module.values.dtype))
