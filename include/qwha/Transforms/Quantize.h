//===- Quantize.h - Quantizing the layers of a module -----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The work behind qwha-gptq and qwha-rtn, callable on its own by drivers
// that produce calibration statistics in memory (qwha-quantize's sequential
// mode) and by downstream compilers.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_QUANTIZE_H
#define QWHA_TRANSFORMS_QUANTIZE_H

#include "qwha/Quant/Gptq.h"
#include "qwha/Support/CalibrationStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace qwha {

/// What quantization did to each layer, for the JSON report.
struct QuantizationReport {
  struct Layer {
    std::string name;
    int64_t rows = 0, cols = 0;
    int64_t samples = 0;
    double damp = 0;
    int dampRaises = 0;
    int64_t deadColumns = 0;
    /// tr((W - Q) H (W - Q)^T) for the method and for round-to-nearest, and
    /// tr(W H W^T); absent without calibration statistics.
    std::optional<double> objective, objectiveRTN, outputEnergy;
    /// Method-specific fields, merged into the layer's entry.
    llvm::json::Object extra;
    double seconds = 0;
  };
  std::string method;
  std::string calibration;
  llvm::json::Object options;
  std::vector<Layer> layers;
  bool includeTimings = true;

  llvm::json::Value toJSON() const;
  /// Writes the report atomically.
  llvm::Error write(llvm::StringRef path) const;
};

/// Options shared by the quantization entry points.
struct LayerSelection {
  /// Regular expression a layer name must match in full.
  std::string layers = ".*";
  /// Element type of the scales: "f32", "f16" or "bf16".
  std::string scaleType = "f32";
  /// Keep each quantized layer's float weight as `qwha.float_weight`, for
  /// qwha-wha-init.
  bool keepFloatWeight = false;
  /// One line per layer, when set, numbered from `progressOffset` out of
  /// `progressTotal` (the number of selected layers when negative).
  llvm::raw_ostream *progress = nullptr;
  int64_t progressOffset = 0;
  int64_t progressTotal = -1;
};

/// Quantizes every matching qwha.linear of `module` with GPTQ, reading each
/// layer's statistics from `store`. A matching layer without statistics, or
/// one the algorithm rejects, is an error emitted on the layer.
mlir::LogicalResult applyGPTQ(mlir::ModuleOp module,
                              const CalibrationStore &store,
                              const quant::GptqOptions &options,
                              const LayerSelection &selection,
                              QuantizationReport &report);

/// Round-to-nearest for every matching qwha.linear. With `store`, the report
/// also gives the objective of each layer that has statistics.
mlir::LogicalResult applyRTN(mlir::ModuleOp module,
                             const quant::GridOptions &options,
                             const CalibrationStore *store,
                             const LayerSelection &selection,
                             QuantizationReport &report);

/// Writes `report` to `path` unless the path is empty; errors on `anchor`.
mlir::LogicalResult writeReportIfRequested(mlir::Operation *anchor,
                                           const QuantizationReport &report,
                                           llvm::StringRef path);

/// Loads a calibration file; errors on `anchor`.
mlir::FailureOr<CalibrationStore> loadCalibration(mlir::Operation *anchor,
                                                  llvm::StringRef path);

} // namespace qwha

#endif // QWHA_TRANSFORMS_QUANTIZE_H
