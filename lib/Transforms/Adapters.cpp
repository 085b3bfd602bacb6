//===- Adapters.cpp - Walsh-Hadamard adapters in the IR -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/Adapters.h"
#include "qwha/Transforms/LayerWeights.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Regex.h"

#include <chrono>

using namespace mlir;
using namespace qwha;

void qwha::attachAdapter(LayerOpInterface layer,
                         const quant::SparseMatrix &adapter) {
  Operation *op = layer.getOperation();
  OpBuilder b(op->getContext());
  b.setInsertionPointAfter(op);
  Location loc = op->getLoc();
  Value x = layer.getInput();
  auto inputType = cast<RankedTensorType>(x.getType());
  auto floatType = cast<FloatType>(inputType.getElementType());
  auto i32 = b.getI32Type();

  auto rowOffsets = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({adapter.rows + 1}, i32),
                             ArrayRef<int32_t>(adapter.rowOffsets)));
  const int64_t nnz = adapter.getNumNonZeros();
  auto cols = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({nnz}, i32),
                             ArrayRef<int32_t>(adapter.colIndices)));
  SmallVector<APFloat> values;
  values.reserve(nnz);
  for (float v : adapter.values) {
    APFloat value(v);
    bool losesInfo;
    value.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    values.push_back(value);
  }
  auto vals = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({nnz}, floatType), values));

  Value result = op->getResult(0);
  auto resultType = cast<RankedTensorType>(result.getType());
  Value transformed = FWHTOp::create(b, loc, x, /*normalized=*/true);
  Value product = SparseLinearOp::create(b, loc, resultType, transformed,
                                         rowOffsets, cols, vals);
  Value init = tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, result), resultType.getElementType());
  auto sum = linalg::AddOp::create(b, loc, ValueRange{result, product},
                                   ValueRange{init});
  result.replaceAllUsesExcept(sum.getResult(0), sum);
}

LogicalResult qwha::applyWHAInit(ModuleOp module,
                                 const CalibrationStore &store,
                                 const quant::AdapterOptions &options,
                                 const LayerSelection &selection,
                                 QuantizationReport &report,
                                 AdapterFile *exported) {
  llvm::Regex pattern("^(" + selection.layers + ")$");
  std::string regexError;
  if (!pattern.isValid(regexError))
    return module.emitError("invalid 'layers' regular expression '")
           << selection.layers << "': " << regexError;
  SmallVector<QLinearOp> layers;
  module.walk([&](QLinearOp op) {
    if (pattern.match(op.getName()))
      layers.push_back(op);
  });
  for (auto [index, layer] : llvm::enumerate(layers)) {
    auto start = std::chrono::steady_clock::now();
    std::string name = layer.getName().str();
    const CalibrationStore::Entry *entry = store.find(name);
    const int64_t n = layer.getCodes().getType().getDimSize(0);
    const int64_t k = layer.getCodes().getType().getDimSize(1);
    if (!entry)
      return layer.emitError("layer '")
             << name << "' has no calibration statistics"
             << (store.getPath().empty()
                     ? std::string()
                     : " in '" + store.getPath().str() + "'");
    if (entry->features != k)
      return layer.emitError("layer '")
             << name << "' has " << k
             << " input features but its calibration statistics have "
             << entry->features;
    FailureOr<std::vector<float>> weight = readKeptFloatWeight(layer);
    if (failed(weight))
      return failure();
    FailureOr<quant::QuantizedMatrix> quantized = readQuantizedWeight(layer);
    if (failed(quantized))
      return failure();
    llvm::Expected<quant::AdapterInitResult> result = quant::initializeAdapter(
        *weight, quantized->dequantize(), n, k, entry->hessian, options);
    if (!result)
      return layer.emitError("layer '")
             << name << "': " << llvm::toString(result.takeError());

    QuantizationReport::Layer row;
    row.name = name;
    row.rows = n;
    row.cols = k;
    row.samples = entry->samples;
    row.objective = result->objectiveRefined;
    row.outputEnergy =
        quant::quadraticObjective(*weight, {}, n, k, entry->hessian);
    store.dropResidentPages(name);
    const double energy = *row.outputEnergy;
    row.extra["budget"] = result->budget;
    row.extra["adapter_entries"] = result->adapter.getNumNonZeros();
    row.extra["objective_no_adapter"] = result->objectiveNone;
    row.extra["objective_selected"] = result->objectiveSelected;
    row.extra["objective_refined"] = result->objectiveRefined;
    if (energy > 0) {
      row.extra["relative_error_no_adapter"] = result->objectiveNone / energy;
      row.extra["relative_error_selected"] = result->objectiveSelected / energy;
    }
    row.extra["damp_raised_rows"] = result->dampRaisedRows;

    attachAdapter(cast<LayerOpInterface>(layer.getOperation()),
                  result->adapter);
    if (!selection.keepFloatWeight)
      layer->removeAttr(QWHADialect::getFloatWeightAttrName());
    if (exported)
      exported->set(name, AdapterFile::Entry{result->adapter.getFlatIndices(),
                                             result->adapter.values});
    row.seconds = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    if (selection.progress) {
      *selection.progress << llvm::format(
          "[%zu/%zu] %s %lldx%lld adapter %lld entries: error %.3e -> "
          "%.3e (selected) -> %.3e (refined), %.2f s\n",
          index + 1 + size_t(selection.progressOffset),
          selection.progressTotal >= 0 ? size_t(selection.progressTotal)
                                       : layers.size(),
          name.c_str(), (long long)n, (long long)k,
          (long long)result->adapter.getNumNonZeros(),
          energy > 0 ? result->objectiveNone / energy : 0.0,
          energy > 0 ? result->objectiveSelected / energy : 0.0,
          energy > 0 ? result->objectiveRefined / energy : 0.0, row.seconds);
      selection.progress->flush();
    }
    report.layers.push_back(std::move(row));
  }
  return success();
}
