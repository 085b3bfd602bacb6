//===- WHAInit.cpp - The qwha-wha-init pass -------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/Adapters.h"
#include "qwha/Transforms/Passes.h"

#define DEBUG_TYPE "qwha-wha-init"

namespace qwha {
#define GEN_PASS_DEF_WHAINIT
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

struct WHAInitPass : public qwha::impl::WHAInitBase<WHAInitPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (calibration.empty()) {
      module.emitError("qwha-wha-init needs calibration statistics: pass "
                       "calibration=<file> (see qwha-calibrate)");
      return signalPassFailure();
    }
    if (selection != "magnitude" && selection != "random") {
      module.emitError("selection must be magnitude or random, got '")
          << selection << "'";
      return signalPassFailure();
    }
    FailureOr<CalibrationStore> store = loadCalibration(module, calibration);
    if (failed(store))
      return signalPassFailure();

    quant::AdapterOptions options;
    options.rank = rank;
    options.allocPower = allocPower;
    options.refine = refine;
    options.selection = selection == "random"
                            ? quant::AdapterSelection::Random
                            : quant::AdapterSelection::Magnitude;
    options.seed = seed;
    options.damp = damp;

    LayerSelection layerSelection;
    layerSelection.layers = layers;
    layerSelection.keepFloatWeight = keepFloatWeight;
    layerSelection.progress = progress ? &llvm::errs() : nullptr;

    QuantizationReport result;
    result.method = "wha-init";
    result.calibration = calibration;
    result.includeTimings = reportTimings;
    result.options = llvm::json::Object{
        {"rank", int64_t(rank)},          {"alloc_power", double(allocPower)},
        {"refine", bool(refine)},         {"selection", std::string(selection)},
        {"seed", int64_t(seed)},          {"damp", double(damp)}};
    AdapterFile exported;
    if (failed(applyWHAInit(module, *store, options, layerSelection, result,
                            exportFile.empty() ? nullptr : &exported)) ||
        failed(writeReportIfRequested(module, result, report)))
      return signalPassFailure();
    if (!exportFile.empty())
      if (llvm::Error err = exported.save(exportFile)) {
        module.emitError(llvm::toString(std::move(err)));
        return signalPassFailure();
      }
  }
};

} // namespace
