"""The command-line tools, run as subprocesses.

Ahead-of-time compilation (``qwha-compile``) lives in tools/, not in a
library, so Python runs the tool for now. Tools are looked up in the
directory named by ``QWHA_TOOLS_DIR``, then on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import List, Optional, Sequence

__all__ = ["ToolError", "compile", "find_tool", "run_tool"]


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
    if isinstance(module, (str, os.PathLike)) and os.path.exists(module):
        run_tool("qwha-compile", [os.fspath(module), *args])
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "module.mlir")
        with open(path, "w") as f:
            f.write(str(module))
        run_tool("qwha-compile", [path, *args])
