//===- Adapters.h - Walsh-Hadamard adapters in the IR -----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_ADAPTERS_H
#define QWHA_TRANSFORMS_ADAPTERS_H

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/Adapter.h"
#include "qwha/Support/AdapterFile.h"
#include "qwha/Transforms/Quantize.h"

namespace qwha {

/// Adds `adapter` to `layer` in unfused form: the layer's users now see
/// linalg.add(layer, sparse_linear(fwht(x normalized), F)). The values take
/// the input's element type.
void attachAdapter(LayerOpInterface layer, const quant::SparseMatrix &adapter);

/// Initialises an adapter for every matching qwha.qlinear with a kept float
/// weight and statistics in `store`, and attaches it. Adds one report row
/// per layer and, when `exported` is set, the adapter to it. Errors are
/// emitted on the layer.
mlir::LogicalResult applyWHAInit(mlir::ModuleOp module,
                                 const CalibrationStore &store,
                                 const quant::AdapterOptions &options,
                                 const LayerSelection &selection,
                                 QuantizationReport &report,
                                 AdapterFile *exported);

} // namespace qwha

#endif // QWHA_TRANSFORMS_ADAPTERS_H
