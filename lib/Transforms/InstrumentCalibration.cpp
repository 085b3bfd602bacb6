//===- InstrumentCalibration.cpp - Tap layer inputs with qwha.observe -----===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/Regex.h"

#define DEBUG_TYPE "qwha-instrument-calibration"

namespace qwha {
#define GEN_PASS_DEF_INSTRUMENTCALIBRATION
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

struct InstrumentCalibrationPass
    : public qwha::impl::InstrumentCalibrationBase<InstrumentCalibrationPass> {
  using Base::Base;

  void runOnOperation() override {
    // Anchored: the expression must match the whole name.
    llvm::Regex pattern("^(" + layers + ")$");
    std::string regexError;
    if (!pattern.isValid(regexError)) {
      getOperation()->emitError("invalid 'layers' regular expression '")
          << layers << "': " << regexError;
      return signalPassFailure();
    }
    getOperation()->walk([&](LayerOpInterface layer) {
      StringRef name = layer.getLayerName();
      if (!pattern.match(name))
        return;
      OpOperand &input = layer.getInputMutable();
      if (auto tap = input.get().getDefiningOp<ObserveOp>())
        if (tap.getName() == name)
          return;
      OpBuilder builder(layer);
      auto tap = ObserveOp::create(builder, layer->getLoc(),
                                   input.get().getType(),
                                   builder.getStringAttr(name), input.get());
      input.set(tap.getResult());
    });
  }
};

} // namespace
