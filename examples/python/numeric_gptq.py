"""The numeric API on numpy arrays: a Hessian from activations, RTN and GPTQ
on the same layer (GPTQ's quadratic error is lower), the GPTQ checkpoint's
packed int32 layout round-tripped, and the Walsh-Hadamard transform."""

import numpy as np

import qwha

rng = np.random.default_rng(0)
# Correlated activations (as real layers see), so that GPTQ has something to use.
mix = rng.standard_normal((256, 256)).astype(np.float32) / 16
x = (rng.standard_normal((2048, 256)).astype(np.float32) @ mix
     + rng.standard_normal((2048, 256)).astype(np.float32) * 0.1)
weight = rng.standard_normal((512, 256)).astype(np.float32) / 16

h = qwha.hessian(x)                       # 2/N X^T X, float64 sums
rtn = qwha.rtn(weight, bits=3, group_size=128)
gptq = qwha.gptq(weight, h, bits=3, group_size=128, act_order=True)
e_rtn = qwha.quadratic_objective(weight, rtn.dequantize(), h)
e_gptq = gptq.objective
print(f"3-bit g128, tr((W-Q) H (W-Q)^T): RTN {e_rtn:.4g}, GPTQ {e_gptq:.4g} "
      f"({e_gptq / e_rtn:.2f}x)")
assert e_gptq < e_rtn

q = gptq.quantized
qweight = qwha.pack_weight(q.codes, bits=3)
assert np.array_equal(qwha.unpack_weight(qweight, q.cols, bits=3), q.codes)
print(f"packed {q.codes.shape} codes into int32 qweight {qweight.shape}")

v = rng.standard_normal((4, 1024)).astype(np.float32)
t = qwha.fwht(v)                          # orthonormal: norms are kept
print(f"fwht d=1024: norm ratio {np.linalg.norm(t) / np.linalg.norm(v):.6f}")
assert np.allclose(qwha.fwht(t), v, atol=1e-5)  # Sylvester H is an involution
