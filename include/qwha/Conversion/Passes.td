//===- Passes.td - QWHA conversion passes ------------------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_PASSES_TD
#define QWHA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQWHAToLinalg : Pass<"convert-qwha-to-linalg"> {
  let summary = "Lower qwha ops to linalg, tensor and arith on tensors";
  let description = [{
    The generic, target-independent lowering: correct for every op and
    shape, written so that other compilers can take the result and fuse it.

    * `qwha.linear` becomes a `linalg.generic` contraction
      `y[..., n] += x[..., k] * w[n, k]` into a zero-filled tensor.
    * `qwha.dequantize` becomes one `linalg.generic` over the integer codes
      whose body only extends, converts to float, subtracts the zero point
      and multiplies by the scale, the dequantization shape IREE's dispatch
      formation fuses into the consuming matmul. Codes are grouped as
      `[N, G, group]` by a `tensor.expand_shape`, so scales and zeros are
      indexed by projections. With a `g_idx` (act-order) the scale and zero
      are gathered by `tensor.extract` instead.
    * `qwha.qlinear` becomes `qwha.linear` of a `qwha.dequantize`, both
      lowered as above.
    * `qwha.fwht` becomes a chain of small contractions: the input is viewed
      as `[..., 16, ..., 16, m]` and each factor of
      `H_d = H_16 (x) ... (x) H_m` is applied along its own axis, which costs
      O(d (log d + m)) per row; the 1/sqrt(d) of a normalized transform is
      folded into one factor.
    * `qwha.sparse_linear` becomes a `linalg.generic` over the output whose
      body loops over the row's stored entries.
    * `qwha.qlinear_wha` becomes the sum of its quantized layer and its
      adapter applied to the normalized transform of the input.

    `qwha.observe` has no lowering here: calibration runs instrument the
    graph with a runtime library instead, so it is reported as an error.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect",
    "mlir::linalg::LinalgDialect",
    "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect",
  ];
}

#endif // QWHA_CONVERSION_PASSES_TD
