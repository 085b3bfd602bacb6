//===- GptqCheckpoint.h - GPTQ checkpoints in and out -----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The checkpoint layout AutoGPTQ and GPTQModel exchange: a directory with
// `quantize_config.json` and `model.safetensors` (or shards listed in
// `model.safetensors.index.json`) holding, per quantized layer,
//
//   <layer>.qweight  I32 [K / 32 * bits, N]   codes packed along K
//   <layer>.qzeros   I32 [G, N / 32 * bits]   zero points packed along N
//                                             (v1 "gptq": zero - 1)
//   <layer>.scales   F16 [G, N]
//   <layer>.g_idx    I32 [K]                  group of each input column
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_GPTQCHECKPOINT_H
#define QWHA_TRANSFORMS_GPTQCHECKPOINT_H

#include "qwha/Quant/Grid.h"
#include "qwha/Quant/Packing.h"
#include "qwha/Support/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

namespace qwha {

/// `quantize_config.json`, the fields that decide the layout.
struct GptqConfig {
  unsigned bits = 4;
  int64_t groupSize = 128;
  bool descAct = false;
  bool sym = false;
  bool staticGroups = false;
  quant::GptqFormat format = quant::GptqFormat::V1;

  static llvm::Expected<GptqConfig> load(llvm::StringRef path);
  /// Parses the JSON text of a quantize_config.json; `path` names it in
  /// errors.
  static llvm::Expected<GptqConfig> parse(llvm::StringRef text,
                                          llvm::StringRef path);
  llvm::Error save(llvm::StringRef path) const;
};

/// Looks a checkpoint tensor up by its full name; nullptr if absent
/// (CheckpointTensors::find for a directory, SafetensorsFile::find for one
/// file or a buffer).
using GptqTensorLookup =
    llvm::function_ref<const TensorView *(llvm::StringRef name)>;

/// Reads one layer's qweight, qzeros, scales and optional g_idx and checks
/// them against an [outFeatures, inFeatures] layer and the config: dtypes,
/// shapes, packed codes and zero points, finite scales, groups in range.
/// Errors name the layer and the tensor at fault.
llvm::Expected<quant::QuantizedMatrix>
readGptqLayer(GptqTensorLookup find, llvm::StringRef layer,
              int64_t outFeatures, int64_t inFeatures,
              const GptqConfig &config);

/// Writes every qwha.qlinear of `module` into `directory` (created if
/// needed) as a GPTQ checkpoint. All layers must share bits and group size
/// (a checkpoint has one config) and have integer zero points; scales are
/// stored as F16. Errors name the layer.
llvm::Error exportGptqCheckpoint(mlir::ModuleOp module,
                                 llvm::StringRef directory,
                                 quant::GptqFormat format,
                                 llvm::raw_ostream *progress = nullptr);

/// Writes `layers` (name, weight) into `directory` as a GPTQ checkpoint, with
/// the rules of exportGptqCheckpoint; each weight is validated first. What
/// qwha-export-gptq and the Python package (qwha.export_gptq) write.
llvm::Error exportGptqLayers(
    llvm::ArrayRef<std::pair<std::string, quant::QuantizedMatrix>> layers,
    llvm::StringRef directory, quant::GptqFormat format,
    llvm::raw_ostream *progress = nullptr);

} // namespace qwha

#endif // QWHA_TRANSFORMS_GPTQCHECKPOINT_H
