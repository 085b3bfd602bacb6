//===- QWHAInterfaces.td - QWHA op interfaces --------------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Two interfaces let passes treat the layer ops uniformly: every named linear
// layer (`linear`, `qlinear`, `qlinear_wha`) is a LayerOpInterface, and every
// op reading a quantized weight (`dequantize`, `qlinear`, `qlinear_wha`) is a
// QuantizedWeightOpInterface whose verifier checks codes, scales, zeros,
// group index and group size in one place.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_DIALECT_QWHA_QWHAINTERFACES_TD
#define QWHA_DIALECT_QWHA_QWHAINTERFACES_TD

include "mlir/IR/OpBase.td"

def QWHA_LayerOpInterface : OpInterface<"LayerOpInterface"> {
  let cppNamespace = "::qwha";
  let description = [{
    A named linear layer `y[..., n] = sum_k x[..., k] * W[n, k]` over the last
    dimension of its input, in the nn.Linear convention (weight `[out, in]`).
  }];
  let methods = [
    InterfaceMethod<"The layer's name, the key of calibration and adapter files.",
      "::llvm::StringRef", "getLayerName", (ins),
      [{ return $_op.getName(); }]>,
    InterfaceMethod<"The activation operand.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getInput", (ins),
      [{ return $_op.getInput(); }]>,
    InterfaceMethod<"The activation operand, for rewiring it.",
      "::mlir::OpOperand &", "getInputMutable", (ins),
      [{ return $_op.getInputMutable(); }]>,
    InterfaceMethod<"Input features K (the last dimension of the input).",
      "int64_t", "getInFeatures", (ins),
      [{ return $_op.getInput().getType().getShape().back(); }]>,
    InterfaceMethod<"Output features N (the last dimension of the result).",
      "int64_t", "getOutFeatures", (ins),
      [{ return $_op.getResult().getType().getShape().back(); }]>,
  ];
  let verify = [{ return ::qwha::detail::verifyLayerOp($_op); }];
}

def QWHA_QuantizedWeightOpInterface
    : OpInterface<"QuantizedWeightOpInterface"> {
  let cppNamespace = "::qwha";
  let description = [{
    An op that reads a weight `W[n, k] = (codes[n, k] - zeros[n, g(k)]) *
    scales[n, g(k)]`, with `g(k) = g_idx[k]` when a group index is given and
    `k / group_size` otherwise. `group_size = -1` means one group per row.
  }];
  let methods = [
    InterfaceMethod<"Integer codes `[N, K]` of element type iB.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getCodes", (ins),
      [{ return $_op.getCodes(); }]>,
    InterfaceMethod<"Scales `[N, G]`.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getScales", (ins),
      [{ return $_op.getScales(); }]>,
    InterfaceMethod<"Zero points `[N, G]`, integer codes or floats.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getZeros", (ins),
      [{ return $_op.getZeros(); }]>,
    InterfaceMethod<"Optional group of each input column `[K]` (act-order).",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getGIdx", (ins),
      [{ return $_op.getGIdx(); }]>,
    InterfaceMethod<"Group size as written: a divisor of K, or -1.",
      "int64_t", "getGroupSize", (ins),
      [{ return $_op.getGroupSize(); }]>,
  ];
  let extraSharedClassDeclaration = [{
    /// Bit width B of the codes.
    unsigned getBits() {
      return $_op.getCodes().getType().getElementType().getIntOrFloatBitWidth();
    }
    /// Columns per group: `group_size`, or K for per-channel grids.
    int64_t getEffectiveGroupSize() {
      int64_t groupSize = $_op.getGroupSize();
      return groupSize == -1 ? $_op.getCodes().getType().getDimSize(1)
                             : groupSize;
    }
    /// Number of groups G per row.
    int64_t getNumGroups() {
      return $_op.getCodes().getType().getDimSize(1) /
             getEffectiveGroupSize();
    }
  }];
  let verify = [{ return ::qwha::detail::verifyQuantizedWeightOp($_op); }];
}

#endif // QWHA_DIALECT_QWHA_QWHAINTERFACES_TD
