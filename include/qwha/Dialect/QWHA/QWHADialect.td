//===- QWHADialect.td - QWHA dialect definition ------------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_DIALECT_QWHA_QWHADIALECT_TD
#define QWHA_DIALECT_QWHA_QWHADIALECT_TD

include "mlir/IR/OpBase.td"

def QWHA_Dialect : Dialect {
  let name = "qwha";
  let cppNamespace = "::qwha";
  let summary = "Quantized linear layers and Walsh-Hadamard adapters";
  let description = [{
    The `qwha` dialect models the linear layers of a neural network as the
    quantizer sees them: a canonical float layer (`qwha.linear`), the same
    layer over low-bit integer codes with per-group scales and zeros
    (`qwha.qlinear`), the Walsh-Hadamard transform (`qwha.fwht`), a sparse
    adapter in the transform domain (`qwha.sparse_linear`) and their fusion
    (`qwha.qlinear_wha`), plus a calibration tap (`qwha.observe`).

    Data and compute are kept apart: quantized weights are builtin tensors of
    integer codes `tensor<N x K x iB>` (B = 2, 3, 4 or 8, read as unsigned),
    so the IR says what the numbers are and every target chooses how to pack
    them in memory.

    Layer ops carry the layer's name (the Hugging Face parameter name, e.g.
    `model.layers.0.mlp.down_proj`). Calibration statistics, adapters and
    reports are keyed by it. On ops of other dialects the same name travels
    as the discardable string attribute `qwha.name`, which
    `qwha-raise-linear` reads.
  }];
  let extraClassDeclaration = [{
    /// The discardable attribute naming a layer on ops of other dialects.
    static constexpr ::llvm::StringLiteral getLayerNameAttrName() {
      return ::llvm::StringLiteral("qwha.name");
    }
    /// The float weight a quantized layer was made from, kept (when asked)
    /// for passes that need the quantization error, like qwha-wha-init.
    static constexpr ::llvm::StringLiteral getFloatWeightAttrName() {
      return ::llvm::StringLiteral("qwha.float_weight");
    }
  }];
  let hasOperationAttrVerify = 1;
}

class QWHA_Op<string mnemonic, list<Trait> traits = []>
    : Op<QWHA_Dialect, mnemonic, traits>;

#endif // QWHA_DIALECT_QWHA_QWHADIALECT_TD
