"""Calls every entry point of entry-points.so and model.so through
scripts/qwha_runtime.py (types from the headers) and prints what comes back."""

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
from qwha_runtime import CompiledModel  # noqa: E402

out = pathlib.Path(sys.argv[1])
m = CompiledModel(out / "model.so")
x = (np.arange(3 * 8).reshape(3, 8) % 7 - 3).astype(np.float32) / 4
y = m.forward(x)
print("forward:", y.shape, y.dtype, " ".join(f"{v:.9g}" for v in y.ravel()))
# A float64 Fortran-ordered array is copied into the argument's layout.
print("forward copy:", np.array_equal(m.call("forward", np.asfortranarray(x.astype(np.float64))), y))
print("forward empty:", m.forward(np.zeros((0, 8), np.float32)).shape)
for bad in (np.zeros((2, 7), np.float32), np.zeros(8, np.float32), np.zeros((2, 8), np.complex64)):
    try:
        m.forward(bad)
    except (TypeError, ValueError) as e:
        print("error:", e)

e = CompiledModel(out / "entry-points.so")
y, v, n = e.scale(np.arange(6, dtype=np.float32).reshape(2, 3), 2.0, 2)
print("scale:", y.tolist(), v, n)
print("axpb:", e.axpb(3, 0.5))
x4 = np.full(4, 4, np.float32)
print("doubled:", e.doubled(x4).tolist(), "input", x4.tolist())
a, b = e.twice(np.arange(4, dtype=np.float32))
print("twice:", a.tolist(), b.tolist(), "distinct arrays", a is not b)
print("constant:", e.constant().tolist())
print("corner:", e.corner(np.arange(16, dtype=np.float32).reshape(4, 4)).tolist())
flags, z = e.positive(np.array([-1, 2, 0, 5], np.int8), np.zeros(2, np.float16),
                      np.array(7, np.float32))
print("positive:", flags.tolist(), flags.dtype, z.shape, float(z))
for _ in range(2000):   # results are freed: no growth, no double free
    e.twice(np.arange(4, dtype=np.float32))
try:
    e.nothing
except AttributeError as err:
    print("error:", err)
