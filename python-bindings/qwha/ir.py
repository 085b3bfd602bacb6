"""MLIR modules in process: parse, print, verify, run pass pipelines and
calibrate, with every upstream dialect and the qwha dialect registered.

    ctx = qwha.ir.Context()
    module = qwha.ir.Module.parse(text, ctx)
    module.run_pipeline("builtin.module(qwha-raise-linear)")
    stats = module.calibrate("samples.safetensors")

Failures raise ``qwha.ir.IRError`` (a ``ValueError``) whose message holds
the diagnostics MLIR emitted, one per line ("loc: error: message").
Setting ``QWHA_DUMP_IR_DIR`` makes ``run_pipeline`` write the module before
and after each call there (``NN-<first pass>-{before,after}.mlir``),
Triton-style, so that each stage of a Python-driven compilation can be
inspected.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Optional, Tuple

import numpy as np

from . import _qwha

__all__ = ["Context", "IRError", "Module"]

IRError = ValueError


class Context:
    """An MLIR context with all upstream dialects and extensions and the
    qwha dialect registered and loaded. Modules keep their context alive."""

    def __init__(self) -> None:
        self._native = _qwha.Context()


class Module:
    """A ``builtin.module`` owned by Python. Build one with :meth:`parse`
    or :meth:`parse_file`."""

    _dump_counter = 0

    def __init__(self, native: "_qwha.Module", context: Context) -> None:
        self._native = native
        self._context = context

    @staticmethod
    def parse(text: str, context: Optional[Context] = None) -> "Module":
        """Parses MLIR assembly; raises IRError with the parser's
        diagnostics on failure."""
        context = context or Context()
        return Module(_qwha.Module.parse(context._native, text), context)

    @staticmethod
    def parse_file(path: "str | os.PathLike[str]",
                   context: Optional[Context] = None) -> "Module":
        """Parses the MLIR file at ``path``; raises IRError when it cannot
        be read or parsed."""
        context = context or Context()
        return Module(_qwha.Module.parse_file(context._native, os.fspath(path)),
                      context)

    @property
    def context(self) -> Context:
        return self._context

    def __str__(self) -> str:
        return str(self._native)

    def verify(self) -> None:
        """Runs the verifiers; raises IRError with their diagnostics."""
        self._native.verify()

    def run_pipeline(self, pipeline: str) -> "Module":
        """Runs a textual pass pipeline anchored on the module, e.g.
        ``"builtin.module(qwha-raise-linear,canonicalize)"``, in place.
        Raises IRError for an invalid pipeline (with the parser's message)
        or a failing pass (with its diagnostics). Returns ``self``."""
        dump_dir = os.environ.get("QWHA_DUMP_IR_DIR")
        stem = None
        if dump_dir:
            os.makedirs(dump_dir, exist_ok=True)
            Module._dump_counter += 1
            first = re.sub(r"[^A-Za-z0-9_.-]+", "-",
                           pipeline.split("(", 1)[-1].split(",")[0]).strip("-")
            stem = os.path.join(dump_dir,
                                f"{Module._dump_counter:02d}-{first or 'pipeline'}")
            with open(stem + "-before.mlir", "w") as f:
                f.write(f"// pipeline: {pipeline}\n{self}")
        self._native.run_pipeline(pipeline)
        if stem:
            with open(stem + "-after.mlir", "w") as f:
                f.write(f"// pipeline: {pipeline}\n{self}")
        return self

    def calibrate(self, samples: "str | os.PathLike[str]", *,
                  function: str = "", layers: str = ".*",
                  max_samples: int = -1) -> Dict[str, Tuple[np.ndarray, int]]:
        """Runs the module on the CPU (JIT) once per sample of the
        safetensors file ``samples`` and returns, for each ``qwha.linear``
        layer whose name fully matches the regular expression ``layers``,
        its input Hessian (float32 [in, in]) and the number of rows it saw:
        the library behind ``qwha-calibrate`` (lib/Calibration). The module
        is left unchanged; its layers must have been raised first
        (``qwha-raise-linear``)."""
        return self._native.calibrate(os.fspath(samples), function, layers,
                                      max_samples)
