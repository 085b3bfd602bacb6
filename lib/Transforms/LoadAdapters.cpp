//===- LoadAdapters.cpp - Attach adapters from an adapter file ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hadamard.h"
#include "qwha/Transforms/Adapters.h"
#include "qwha/Transforms/Passes.h"

#include <set>

#define DEBUG_TYPE "qwha-load-adapters"

namespace qwha {
#define GEN_PASS_DEF_LOADADAPTERS
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

struct LoadAdaptersPass
    : public qwha::impl::LoadAdaptersBase<LoadAdaptersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (file.empty()) {
      module.emitError("qwha-load-adapters needs file=<adapters.safetensors>");
      return signalPassFailure();
    }
    llvm::Expected<AdapterFile> adapters = AdapterFile::load(file);
    if (!adapters) {
      module.emitError(llvm::toString(adapters.takeError()));
      return signalPassFailure();
    }
    std::set<std::string> pending;
    for (const auto &entry : adapters->getEntries())
      pending.insert(entry.first);

    SmallVector<LayerOpInterface> layers;
    module.walk([&](LayerOpInterface layer) {
      if (isa<LinearOp, QLinearOp>(layer.getOperation()) &&
          adapters->find(layer.getLayerName()))
        layers.push_back(layer);
    });
    for (LayerOpInterface layer : layers) {
      std::string name = layer.getLayerName().str();
      const AdapterFile::Entry *entry = adapters->find(name);
      llvm::Expected<quant::SparseMatrix> matrix =
          quant::SparseMatrix::fromFlat(layer.getOutFeatures(),
                                        layer.getInFeatures(), entry->indices,
                                        entry->values);
      if (!matrix) {
        layer->emitError("layer '")
            << name << "': adapter in '" << file
            << "': " << llvm::toString(matrix.takeError());
        return signalPassFailure();
      }
      if (!quant::factorHadamardSize(layer.getInFeatures())) {
        layer->emitError("layer '")
            << name << "' has " << layer.getInFeatures()
            << " input features, which no Walsh-Hadamard transform supports";
        return signalPassFailure();
      }
      attachAdapter(layer, *matrix);
      pending.erase(name);
    }
    if (!pending.empty()) {
      module.emitError("'")
          << file << "' has adapters for " << pending.size()
          << " layer(s) the module has no qwha.linear or qwha.qlinear for, "
             "e.g. '"
          << *pending.begin() << "'";
      return signalPassFailure();
    }
  }
};

} // namespace
