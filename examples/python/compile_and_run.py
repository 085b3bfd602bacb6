"""The compiler from Python: parse a module, run a pass pipeline on it in
process, compile it with qwha-compile and call the library on numpy arrays
and on torch tensors (when torch is installed)."""

import os
import tempfile

import numpy as np

import qwha.ir
import qwha.tools
from qwha.runtime import CompiledModel

SOURCE = """
func.func @axpy(%a: tensor<4x8xf32>, %x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %m = linalg.mul ins(%a, %x : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %r = linalg.add ins(%m, %x : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
"""

context = qwha.ir.Context()
module = qwha.ir.Module.parse(SOURCE, context)
module.run_pipeline("builtin.module(canonicalize, cse)")
print(f"parsed and canonicalized: {len(str(module).splitlines())} lines")

with tempfile.TemporaryDirectory() as tmp:
    library = os.path.join(tmp, "axpy.so")
    qwha.tools.compile(module, library)
    model = CompiledModel(library)
    a = np.full((4, 8), 2, np.float32)
    x = np.arange(32, dtype=np.float32).reshape(4, 8)
    y = model.axpy(a, x)
    assert np.array_equal(y, a * x + x)
    print(f"numpy: axpy -> {y.shape} {y.dtype}, y[1, :3] = {y[1, :3]}")
    try:
        import torch
    except ImportError:
        print("torch not installed: skipping the tensor call")
    else:
        t = model.axpy(torch.from_numpy(a), torch.from_numpy(x))
        assert isinstance(t, torch.Tensor) and torch.equal(t, torch.from_numpy(y))
        print(f"torch: axpy -> {type(t).__name__} {tuple(t.shape)}")
