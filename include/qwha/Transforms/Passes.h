//===- Passes.h - QWHA transformation passes --------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_PASSES_H
#define QWHA_TRANSFORMS_PASSES_H

#include "qwha/Dialect/QWHA/QWHADialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace qwha {

/// The module attribute listing the layer names of calibration ids.
inline constexpr llvm::StringLiteral kCalibrationLayersAttrName =
    "qwha.calibration_layers";
/// The runtime function calibration taps call.
inline constexpr llvm::StringLiteral kObserveFunctionName = "qwha_observe_f32";

#define GEN_PASS_DECL
#include "qwha/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qwha/Transforms/Passes.h.inc"

} // namespace qwha

#endif // QWHA_TRANSFORMS_PASSES_H
