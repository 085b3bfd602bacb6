//===- QWHAOps.h - QWHA operations ------------------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_DIALECT_QWHA_QWHAOPS_H
#define QWHA_DIALECT_QWHA_QWHAOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "qwha/Dialect/QWHA/QWHADialect.h"

namespace qwha {
class LayerOpInterface;
class QuantizedWeightOpInterface;
namespace detail {
/// Checks the input/result shapes every named linear layer shares.
mlir::LogicalResult verifyLayerOp(mlir::Operation *op);
/// Checks codes, scales, zeros, group index and group size.
mlir::LogicalResult verifyQuantizedWeightOp(mlir::Operation *op);
} // namespace detail

/// Bit widths the quantized ops accept for their integer codes.
bool isSupportedCodeWidth(unsigned bits);
} // namespace qwha

#include "qwha/Dialect/QWHA/QWHAInterfaces.h.inc"

#define GET_OP_CLASSES
#include "qwha/Dialect/QWHA/QWHAOps.h.inc"

#endif // QWHA_DIALECT_QWHA_QWHAOPS_H
