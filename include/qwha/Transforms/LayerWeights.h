//===- LayerWeights.h - Constant weights of qwha layers ---------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Between the IR and the numeric core: read a layer's constant float weight
// as float32, and write a quantized matrix back as the constants of a
// qwha.qlinear. Shared by the quantization passes and tools.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_LAYERWEIGHTS_H
#define QWHA_TRANSFORMS_LAYERWEIGHTS_H

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/Grid.h"

#include "mlir/IR/Builders.h"

#include <vector>

namespace qwha {

/// The float32 values of a constant tensor (dense or dense_resource; f32,
/// f16, bf16 or f64), row-major. Fails with an error emitted on `user`
/// naming `what` when the value is not such a constant or has no data.
mlir::FailureOr<std::vector<float>>
readConstantFloats(mlir::Value value, mlir::Operation *user,
                   llvm::StringRef what);

/// The integer values of a constant integer tensor, zero-extended.
mlir::FailureOr<std::vector<int64_t>>
readConstantIntegers(mlir::Value value, mlir::Operation *user,
                     llvm::StringRef what);

/// Replaces `layer` by a qwha.qlinear with the same name and input over
/// constants: codes as iB, scales of `scaleType`, zero points as iB codes,
/// and g_idx (i32) when the matrix has one. With `keepFloatWeight`, the
/// layer's constant float weight stays on the new op as
/// `qwha.float_weight` (same attribute, no copy).
QLinearOp replaceWithQLinear(LinearOp layer, const quant::QuantizedMatrix &q,
                             mlir::FloatType scaleType,
                             bool keepFloatWeight = false);

/// The float weight kept on a qlinear, as float32. Fails (with an error
/// naming the layer) when it was not kept.
mlir::FailureOr<std::vector<float>> readKeptFloatWeight(QLinearOp layer);

/// The quantized matrix the constants of a qlinear (or qlinear_wha) hold
/// (inverse of replaceWithQLinear).
mlir::FailureOr<quant::QuantizedMatrix>
readQuantizedWeight(QuantizedWeightOpInterface layer);

} // namespace qwha

#endif // QWHA_TRANSFORMS_LAYERWEIGHTS_H
