//===- RTN.cpp - The qwha-rtn pass ----------------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/Passes.h"
#include "qwha/Transforms/Quantize.h"

#define DEBUG_TYPE "qwha-rtn"

namespace qwha {
#define GEN_PASS_DEF_RTN
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

struct RTNPass : public qwha::impl::RTNBase<RTNPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<CalibrationStore> store;
    if (!calibration.empty()) {
      FailureOr<CalibrationStore> loaded = loadCalibration(module, calibration);
      if (failed(loaded))
        return signalPassFailure();
      store = std::move(*loaded);
    }
    quant::GridOptions options;
    options.bits = bits;
    options.groupSize = groupSize;
    options.symmetric = symmetric;
    options.mse = mse;

    LayerSelection selection;
    selection.layers = layers;
    selection.scaleType = scaleType;
    selection.progress = progress ? &llvm::errs() : nullptr;
    selection.keepFloatWeight = keepFloatWeight;

    QuantizationReport result;
    result.method = "rtn";
    result.calibration = calibration;
    result.includeTimings = reportTimings;
    result.options = llvm::json::Object{
        {"bits", int64_t(bits)},        {"group_size", int64_t(groupSize)},
        {"symmetric", bool(symmetric)}, {"mse", bool(mse)},
        {"scale_type", std::string(scaleType)}};
    if (failed(applyRTN(module, options, store ? &*store : nullptr, selection,
                        result)) ||
        failed(writeReportIfRequested(module, result, report)))
      return signalPassFailure();
  }
};

} // namespace
