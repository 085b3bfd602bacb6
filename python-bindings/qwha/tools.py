"""The command-line tools, run as subprocesses.

Ahead-of-time compilation (``qwha-compile``), the Hugging Face importer
(``qwha-import``), calibration over a file (``qwha-calibrate``) and the GPTQ
checkpoint export of a module (``qwha-export-gptq``) are tools, so Python
runs them. Tools are looked up in the directory named by
``QWHA_TOOLS_DIR``, then on ``PATH``. Each raises :class:`ToolError` with
the tool's stderr when it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import List, Optional, Sequence

__all__ = ["ToolError", "calibrate", "compile", "export_gptq", "find_tool",
           "import_model", "run_tool"]


class ToolError(RuntimeError):
    """A tool exited with a non-zero status; the message holds its stderr."""


def find_tool(name: str) -> str:
    """The path of tool ``name``; raises FileNotFoundError when missing."""
    tools_dir = os.environ.get("QWHA_TOOLS_DIR")
    if tools_dir:
        candidate = os.path.join(tools_dir, name)
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} not found in QWHA_TOOLS_DIR or PATH (build it with "
            f"`ninja {name}` and set QWHA_TOOLS_DIR=<build>/bin)")
    return found


def run_tool(name: str, args: Sequence[str]) -> str:
    """Runs tool ``name`` with ``args``; returns its stdout, raises
    ToolError with its stderr when it fails."""
    proc = subprocess.run([find_tool(name), *args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise ToolError(f"{name} failed (exit {proc.returncode}):\n"
                        f"{proc.stderr.strip()}")
    return proc.stdout


def compile(module, output: "str | os.PathLike[str]", *,
            header: Optional["str | os.PathLike[str]"] = None,
            emit: str = "so", opt_level: int = 3, mcpu: Optional[str] = None,
            extra_args: Sequence[str] = ()) -> None:
    """Compiles ``module`` (a qwha.ir.Module, MLIR text, or a path to a
    .mlir file) for the CPU with ``qwha-compile --target=cpu``: a shared
    library (``emit="so"``), an object ("obj") or LLVM IR ("llvm") at
    ``output``, and a C header when ``header`` is given."""
    args: List[str] = ["--target=cpu", f"--emit={emit}", f"-O{opt_level}",
                       "-o", os.fspath(output)]
    if header is not None:
        args.append(f"--header={os.fspath(header)}")
    if mcpu is not None:
        args.append(f"--mcpu={mcpu}")
    args.extend(extra_args)
    with tempfile.TemporaryDirectory() as tmp:
        run_tool("qwha-compile", [_module_path(module, tmp), *args])


def _module_path(module, tmp: str) -> str:
    """A path holding ``module`` (a path already, or text written to tmp)."""
    if isinstance(module, (str, os.PathLike)) and os.path.exists(module):
        return os.fspath(module)
    path = os.path.join(tmp, "module.mlir")
    with open(path, "w") as f:
        f.write(str(module))
    return path


def import_model(model_dir: "str | os.PathLike[str]",
                 output: "str | os.PathLike[str]", *, batch: int = 1,
                 seq_len: int = 128, function: str = "forward",
                 bytecode: bool = False) -> None:
    """Imports a Hugging Face model directory (BERT, Llama, Mistral, Qwen2)
    into an MLIR module at ``output`` with ``qwha-import`` (static
    ``batch`` x ``seq_len`` inputs; ``bytecode`` for MLIR bytecode, which
    keeps weights raw)."""
    args = [os.fspath(model_dir), "-o", os.fspath(output), f"--batch={batch}",
            f"--seq-len={seq_len}", f"--function={function}", "--quiet"]
    if bytecode:
        args.append("--emit-bytecode")
    run_tool("qwha-import", args)


def calibrate(module, samples: "str | os.PathLike[str]",
              output: "str | os.PathLike[str]", *,
              function: Optional[str] = None, layers: str = ".*",
              max_samples: int = -1, max_statistics_mib: int = 0,
              raise_linear: bool = True) -> None:
    """Writes the calibration file of ``module`` (a qwha.ir.Module, text or a
    path) run on ``samples`` with ``qwha-calibrate``; ``max_statistics_mib``
    bounds the statistics held at once (one run over the samples per group
    of layers). In-process, ``qwha.ir.Module.calibrate`` returns the
    statistics instead."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [_module_path(module, tmp), "--inputs", os.fspath(samples),
                "-o", os.fspath(output), f"--layers={layers}",
                f"--max-samples={max_samples}",
                f"--max-statistics-mib={max_statistics_mib}", "--quiet"]
        if function:
            args.append(f"--function={function}")
        if not raise_linear:
            args.append("--no-raise")
        run_tool("qwha-calibrate", args)


def export_gptq(module, directory: "str | os.PathLike[str]", *,
                format: str = "v1") -> None:
    """Writes the qwha.qlinear layers of ``module`` as a GPTQ checkpoint
    (model.safetensors + quantize_config.json) with ``qwha-export-gptq``;
    ``format`` "v1" (AutoGPTQ) or "v2" (GPTQModel). For torch modules see
    :func:`qwha.torch.export_gptq`."""
    with tempfile.TemporaryDirectory() as tmp:
        run_tool("qwha-export-gptq", [_module_path(module, tmp), "-o",
                                      os.fspath(directory),
                                      f"--format={format}"])
