//===- LoadGPTQ.cpp - Quantized weights from a GPTQ checkpoint ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/Checkpoint.h"
#include "qwha/Transforms/GptqCheckpoint.h"
#include "qwha/Transforms/LayerWeights.h"
#include "qwha/Transforms/Passes.h"

#include "llvm/Support/Path.h"

#include <set>

#define DEBUG_TYPE "qwha-load-gptq"

namespace qwha {
#define GEN_PASS_DEF_LOADGPTQ
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// Layers of a GPTQ checkpoint: those with a qweight tensor.
std::set<std::string> quantizedLayers(const CheckpointTensors &tensors) {
  std::set<std::string> layers;
  for (const auto &entry : tensors.getTensors()) {
    StringRef name = entry.first;
    if (name.consume_back(".qweight"))
      layers.insert(name.str());
  }
  return layers;
}

struct LoadGPTQPass : public qwha::impl::LoadGPTQBase<LoadGPTQPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto error = [&](const llvm::Twine &message) {
      module.emitError(message);
      signalPassFailure();
    };
    if (checkpoint.empty())
      return error("qwha-load-gptq needs checkpoint=<directory>");
    llvm::SmallString<256> configPath(checkpoint);
    llvm::sys::path::append(configPath, "quantize_config.json");
    llvm::Expected<GptqConfig> config = GptqConfig::load(configPath);
    if (!config)
      return error(llvm::toString(config.takeError()));
    llvm::Expected<CheckpointTensors> opened =
        CheckpointTensors::open(checkpoint);
    if (!opened)
      return error(llvm::toString(opened.takeError()));
    const CheckpointTensors &tensors = *opened;

    std::set<std::string> pending = quantizedLayers(tensors);
    SmallVector<LinearOp> layers;
    module.walk([&](LinearOp op) {
      if (tensors.find((op.getName() + ".qweight").str()))
        layers.push_back(op);
    });
    auto f16 = Float16Type::get(&getContext());
    for (LinearOp layer : layers) {
      std::string name = layer.getName().str();
      RankedTensorType type = layer.getWeight().getType();
      llvm::Expected<quant::QuantizedMatrix> q = readGptqLayer(
          [&](StringRef tensor) { return tensors.find(tensor); }, name,
          type.getDimSize(0), type.getDimSize(1), *config);
      if (!q) {
        layer.emitError(llvm::toString(q.takeError()));
        return signalPassFailure();
      }
      replaceWithQLinear(layer, *q, f16);
      pending.erase(name);
    }
    if (!pending.empty())
      return error("the checkpoint quantizes " + llvm::Twine(pending.size()) +
                   " layer(s) the module has no qwha.linear for, e.g. '" +
                   *pending.begin() + "'");
  }
};

} // namespace
