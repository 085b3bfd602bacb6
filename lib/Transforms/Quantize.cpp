//===- Quantize.cpp - Quantizing the layers of a module -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/Quantize.h"
#include "qwha/Support/AtomicFile.h"
#include "qwha/Transforms/LayerWeights.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Regex.h"

#include <chrono>
#include <cmath>

using namespace mlir;
using namespace qwha;

llvm::json::Value QuantizationReport::toJSON() const {
  llvm::json::Array layerArray;
  double totalSeconds = 0;
  for (const Layer &layer : layers) {
    llvm::json::Object entry{
        {"name", layer.name},
        {"shape", llvm::json::Array{layer.rows, layer.cols}},
    };
    if (layer.samples)
      entry["samples"] = layer.samples;
    if (method == "gptq") {
      entry["damp"] = layer.damp;
      entry["damp_raises"] = layer.dampRaises;
      entry["dead_columns"] = layer.deadColumns;
    }
    if (layer.objective)
      entry["objective"] = *layer.objective;
    if (layer.objectiveRTN)
      entry["objective_rtn"] = *layer.objectiveRTN;
    if (layer.outputEnergy) {
      entry["output_energy"] = *layer.outputEnergy;
      // ||(W - Q) X||^2 / ||W X||^2 = tr(E H E^T) / tr(W H W^T).
      if (layer.objective)
        entry["relative_error"] = *layer.objective / *layer.outputEnergy;
      if (layer.objectiveRTN)
        entry["relative_error_rtn"] = *layer.objectiveRTN / *layer.outputEnergy;
    }
    for (const auto &field : layer.extra)
      entry[field.first] = field.second;
    if (includeTimings)
      entry["seconds"] = layer.seconds;
    totalSeconds += layer.seconds;
    layerArray.push_back(std::move(entry));
  }
  llvm::json::Object root{
      {"method", method},
      {"options", llvm::json::Object(options)},
      {"layers", std::move(layerArray)},
  };
  if (!calibration.empty())
    root["calibration"] = calibration;
  llvm::json::Object summary{{"layers", int64_t(layers.size())}};
  if (includeTimings)
    summary["seconds"] = totalSeconds;
  root["summary"] = std::move(summary);
  return root;
}

llvm::Error QuantizationReport::write(llvm::StringRef path) const {
  llvm::json::Value json = toJSON();
  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    os << llvm::formatv("{0:2}", json) << "\n";
    return llvm::Error::success();
  });
}

namespace {

FailureOr<FloatType> parseScaleType(MLIRContext *context, StringRef name,
                                    Operation *anchor) {
  if (name == "f32")
    return FloatType(Float32Type::get(context));
  if (name == "f16")
    return FloatType(Float16Type::get(context));
  if (name == "bf16")
    return FloatType(BFloat16Type::get(context));
  return anchor->emitError("scale type must be f32, f16 or bf16, got '")
         << name << "'";
}

/// The matching layers, in program order.
FailureOr<SmallVector<LinearOp>> selectLayers(ModuleOp module,
                                              StringRef layers) {
  llvm::Regex pattern(("^(" + layers + ")$").str());
  std::string error;
  if (!pattern.isValid(error))
    return module.emitError("invalid 'layers' regular expression '")
           << layers << "': " << error;
  SmallVector<LinearOp> selected;
  module.walk([&](LinearOp op) {
    if (pattern.match(op.getName()))
      selected.push_back(op);
  });
  return selected;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

void printProgress(const LayerSelection &selection, size_t index,
                   size_t count, const QuantizationReport::Layer &layer,
                   StringRef what) {
  llvm::raw_ostream *os = selection.progress;
  if (!os)
    return;
  index += selection.progressOffset;
  if (selection.progressTotal >= 0)
    count = selection.progressTotal;
  *os << llvm::format("[%zu/%zu] %s %lldx%lld %s", index + 1, count,
                      layer.name.c_str(), (long long)layer.rows,
                      (long long)layer.cols, what.str().c_str());
  if (layer.objective && layer.outputEnergy && *layer.outputEnergy > 0) {
    *os << llvm::format(": relative error %.3e",
                        *layer.objective / *layer.outputEnergy);
    if (layer.objectiveRTN && layer.objective != layer.objectiveRTN)
      *os << llvm::format(" (RTN %.3e)",
                          *layer.objectiveRTN / *layer.outputEnergy);
  }
  *os << llvm::format(", %.2f s\n", layer.seconds);
  os->flush();
}

std::string describe(const quant::GridOptions &grid) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << grid.bits << "-bit ";
  if (grid.groupSize == -1)
    os << "per-channel";
  else
    os << "g" << grid.groupSize;
  if (grid.symmetric)
    os << " sym";
  if (grid.mse)
    os << " mse";
  return text;
}

/// Checks the layer's statistics against its weight.
const CalibrationStore::Entry *findStatistics(LinearOp layer,
                                              const CalibrationStore &store) {
  const CalibrationStore::Entry *entry = store.find(layer.getName());
  int64_t cols = layer.getWeight().getType().getDimSize(1);
  if (!entry) {
    layer.emitError("layer '")
        << layer.getName() << "' has no calibration statistics"
        << (store.getPath().empty() ? std::string()
                                    : " in '" + store.getPath().str() + "'")
        << " (expected '" << layer.getName() << ".hessian')";
    return nullptr;
  }
  if (entry->features != cols) {
    layer.emitError("layer '")
        << layer.getName() << "' has " << cols
        << " input features but its calibration statistics have "
        << entry->features;
    return nullptr;
  }
  return entry;
}

} // namespace

/// Quantizes one layer's float weight (rows x cols) and fills the report
/// row's statistics; errors are emitted on the layer.
using LayerQuantizer = llvm::function_ref<FailureOr<quant::QuantizedMatrix>(
    LinearOp layer, ArrayRef<float> weight, int64_t rows, int64_t cols,
    QuantizationReport::Layer &row)>;

/// The loop both methods share: select, read, quantize, replace, report.
static LogicalResult quantizeLayers(ModuleOp module,
                                    const LayerSelection &selection,
                                    StringRef label,
                                    QuantizationReport &report,
                                    LayerQuantizer quantize) {
  FailureOr<FloatType> scaleType =
      parseScaleType(module.getContext(), selection.scaleType, module);
  FailureOr<SmallVector<LinearOp>> layers =
      selectLayers(module, selection.layers);
  if (failed(scaleType) || failed(layers))
    return failure();
  for (auto [index, layer] : llvm::enumerate(*layers)) {
    auto start = std::chrono::steady_clock::now();
    RankedTensorType type = layer.getWeight().getType();
    QuantizationReport::Layer row;
    row.name = layer.getName().str();
    row.rows = type.getDimSize(0);
    row.cols = type.getDimSize(1);
    FailureOr<std::vector<float>> weight = readConstantFloats(
        layer.getWeight(), layer, "the weight of layer '" + row.name + "'");
    if (failed(weight))
      return failure();
    FailureOr<quant::QuantizedMatrix> quantized =
        quantize(layer, *weight, row.rows, row.cols, row);
    if (failed(quantized))
      return failure();
    replaceWithQLinear(layer, *quantized, *scaleType,
                       selection.keepFloatWeight);
    row.seconds = secondsSince(start);
    printProgress(selection, index, layers->size(), row, label);
    report.layers.push_back(std::move(row));
  }
  return success();
}

LogicalResult qwha::applyGPTQ(ModuleOp module, const CalibrationStore &store,
                              const quant::GptqOptions &options,
                              const LayerSelection &selection,
                              QuantizationReport &report) {
  std::string label = describe(options.grid) + " GPTQ" +
                      (options.actOrder ? " act-order" : "") +
                      (options.staticGroups ? " static" : "");
  return quantizeLayers(
      module, selection, label, report,
      [&](LinearOp layer, ArrayRef<float> weight, int64_t rows, int64_t cols,
          QuantizationReport::Layer &row)
          -> FailureOr<quant::QuantizedMatrix> {
        const CalibrationStore::Entry *entry = findStatistics(layer, store);
        if (!entry)
          return failure();
        llvm::Expected<quant::GptqResult> result =
            quant::quantizeGPTQ(weight, rows, cols, entry->hessian, options);
        store.dropResidentPages(row.name);
        if (!result)
          return layer.emitError("layer '")
                 << row.name << "': " << llvm::toString(result.takeError());
        row.samples = entry->samples;
        row.damp = result->damp;
        row.dampRaises = result->dampRaises;
        row.deadColumns = result->deadColumns;
        row.objective = result->objective;
        if (options.computeBaselines) {
          row.objectiveRTN = result->objectiveRTN;
          row.outputEnergy = result->outputEnergy;
        }
        if (result->dampRaises && selection.progress)
          *selection.progress << "note: layer '" << row.name
                              << "': damping raised " << result->dampRaises
                              << " times to " << result->damp << "\n";
        return std::move(result->quantized);
      });
}

LogicalResult qwha::applyRTN(ModuleOp module, const quant::GridOptions &options,
                             const CalibrationStore *store,
                             const LayerSelection &selection,
                             QuantizationReport &report) {
  return quantizeLayers(
      module, selection, describe(options) + " RTN", report,
      [&](LinearOp layer, ArrayRef<float> weight, int64_t rows, int64_t cols,
          QuantizationReport::Layer &row)
          -> FailureOr<quant::QuantizedMatrix> {
        const CalibrationStore::Entry *entry = nullptr;
        if (store && !(entry = findStatistics(layer, *store)))
          return failure();
        llvm::Expected<quant::QuantizedMatrix> quantized =
            quant::quantizeRTN(weight, rows, cols, options);
        if (!quantized)
          return layer.emitError("layer '")
                 << row.name << "': " << llvm::toString(quantized.takeError());
        if (entry) {
          row.samples = entry->samples;
          std::vector<float> values = quantized->dequantize();
          row.objective = quant::quadraticObjective(weight, values, rows, cols,
                                                    entry->hessian);
          row.objectiveRTN = row.objective;
          row.outputEnergy =
              quant::quadraticObjective(weight, {}, rows, cols, entry->hessian);
          store->dropResidentPages(row.name);
        }
        return std::move(*quantized);
      });
}

LogicalResult qwha::writeReportIfRequested(Operation *anchor,
                                           const QuantizationReport &report,
                                           StringRef path) {
  if (path.empty())
    return success();
  if (llvm::Error err = report.write(path))
    return anchor->emitError(llvm::toString(std::move(err)));
  return success();
}

FailureOr<CalibrationStore> qwha::loadCalibration(Operation *anchor,
                                                  StringRef path) {
  llvm::Expected<CalibrationStore> store = CalibrationStore::load(path);
  if (!store)
    return anchor->emitError(llvm::toString(store.takeError()));
  return std::move(*store);
}
