//===- GPTQ.cpp - The qwha-gptq pass --------------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/Passes.h"
#include "qwha/Transforms/Quantize.h"

#define DEBUG_TYPE "qwha-gptq"

namespace qwha {
#define GEN_PASS_DEF_GPTQ
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

struct GPTQPass : public qwha::impl::GPTQBase<GPTQPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (calibration.empty()) {
      module.emitError("qwha-gptq needs calibration statistics: pass "
                       "calibration=<file> (see qwha-calibrate)");
      return signalPassFailure();
    }
    FailureOr<CalibrationStore> store = loadCalibration(module, calibration);
    if (failed(store))
      return signalPassFailure();

    quant::GptqOptions options;
    options.grid.bits = bits;
    options.grid.groupSize = groupSize;
    options.grid.symmetric = symmetric;
    options.grid.mse = mse;
    options.actOrder = actOrder;
    options.staticGroups = staticGroups;
    options.damp = damp;
    options.dampIncrement = dampIncrement;
    options.blockSize = blockSize;
    // Baselines cost as much again; only reports show them.
    options.computeBaselines = !report.empty() || progress;

    LayerSelection selection;
    selection.layers = layers;
    selection.scaleType = scaleType;
    selection.progress = progress ? &llvm::errs() : nullptr;
    selection.keepFloatWeight = keepFloatWeight;

    QuantizationReport result;
    result.method = "gptq";
    result.calibration = calibration;
    result.includeTimings = reportTimings;
    result.options = llvm::json::Object{
        {"bits", int64_t(bits)},         {"group_size", int64_t(groupSize)},
        {"act_order", bool(actOrder)},   {"static_groups", bool(staticGroups)},
        {"symmetric", bool(symmetric)},  {"mse", bool(mse)},
        {"damp", double(damp)},          {"block_size", int64_t(blockSize)},
        {"scale_type", std::string(scaleType)}};
    if (failed(applyGPTQ(module, *store, options, selection, result)) ||
        failed(writeReportIfRequested(module, result, report)))
      return signalPassFailure();
  }
};

} // namespace
