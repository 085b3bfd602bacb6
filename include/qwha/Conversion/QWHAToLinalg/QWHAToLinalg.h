//===- QWHAToLinalg.h - Lower qwha ops to linalg ----------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_QWHATOLINALG_QWHATOLINALG_H
#define QWHA_CONVERSION_QWHATOLINALG_QWHATOLINALG_H

#include "qwha/Dialect/QWHA/QWHAOps.h"

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace qwha {

#define GEN_PASS_DECL_CONVERTQWHATOLINALG
#include "qwha/Conversion/Passes.h.inc"

/// Adds the patterns lowering every qwha op but `qwha.observe` to linalg,
/// tensor, arith and scf on tensors.
void populateQWHAToLinalgConversionPatterns(mlir::RewritePatternSet &patterns);

/// Builds what `op` computes from simpler ops: its quantized layer plus its
/// adapter applied to the normalized transform of the input, summed by a
/// `linalg.add`. Every lowering of `qwha.qlinear_wha` starts from this.
mlir::Value decomposeQLinearWHA(mlir::OpBuilder &b, QLinearWHAOp op);

} // namespace qwha

#endif // QWHA_CONVERSION_QWHATOLINALG_QWHATOLINALG_H
