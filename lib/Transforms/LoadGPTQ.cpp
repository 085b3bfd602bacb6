//===- LoadGPTQ.cpp - Quantized weights from a GPTQ checkpoint ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/QuantizedWeight.h"
#include "qwha/Support/Checkpoint.h"
#include "qwha/Support/Safetensors.h"
#include "qwha/Transforms/GptqCheckpoint.h"
#include "qwha/Transforms/LayerWeights.h"
#include "qwha/Transforms/Passes.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>
#include <map>
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

/// Reads one layer's tensors into a quantized matrix, checking them against
/// the layer's [N, K] shape and the config.
llvm::Expected<quant::QuantizedMatrix>
readLayer(const CheckpointTensors &tensors, StringRef name, int64_t n,
          int64_t k, const GptqConfig &config) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError("layer '" + name + "': " + message);
  };
  const int64_t groupSize = config.groupSize == -1 ? k : config.groupSize;
  if (k % groupSize != 0)
    return fail("group size " + llvm::Twine(groupSize) + " does not divide " +
                llvm::Twine(k) + " input features");
  const int64_t groups = k / groupSize;
  auto get = [&](StringRef suffix, DType dtype,
                 ArrayRef<int64_t> shape) -> llvm::Expected<const TensorView *> {
    std::string tensorName = (name + "." + suffix).str();
    const TensorView *tensor = tensors.find(tensorName);
    if (!tensor)
      return fail("the checkpoint has no '" + tensorName + "'");
    if (tensor->dtype != dtype || ArrayRef<int64_t>(tensor->shape) != shape) {
      std::string expected, actual;
      llvm::raw_string_ostream e(expected), a(actual);
      e << getDTypeName(dtype) << " [";
      llvm::interleaveComma(shape, e);
      a << getDTypeName(tensor->dtype) << " [";
      llvm::interleaveComma(tensor->shape, a);
      return fail("'" + tensorName + "' is " + a.str() + "], expected " +
                  e.str() + "] for a " + llvm::Twine(n) + "x" +
                  llvm::Twine(k) + " layer");
    }
    return tensor;
  };
  auto asInts = [](const TensorView *t) {
    std::vector<int32_t> v(t->data.size() / 4);
    std::memcpy(v.data(), t->data.data(), t->data.size());
    return v;
  };
  std::array<int64_t, 2> weightShape =
      quant::getGptqWeightShape(n, k, config.bits);
  std::array<int64_t, 2> zerosShape =
      quant::getGptqZerosShape(n, groups, config.bits);
  llvm::Expected<const TensorView *> qweight =
      get("qweight", DType::I32, weightShape);
  if (!qweight)
    return qweight.takeError();
  llvm::Expected<const TensorView *> qzeros =
      get("qzeros", DType::I32, zerosShape);
  if (!qzeros)
    return qzeros.takeError();
  llvm::Expected<const TensorView *> scales =
      get("scales", DType::F16, {groups, n});
  if (!scales)
    return scales.takeError();

  quant::QuantizedMatrix q;
  q.rows = n;
  q.cols = k;
  q.bits = config.bits;
  q.groupSize = groupSize;
  llvm::Expected<std::vector<uint8_t>> codes =
      quant::unpackGptqWeight(asInts(*qweight), n, k, config.bits);
  if (!codes)
    return fail(llvm::toString(codes.takeError()));
  q.codes = std::move(*codes);
  llvm::Expected<std::vector<uint8_t>> zeros = quant::unpackGptqZeros(
      asInts(*qzeros), n, groups, config.bits, config.format);
  if (!zeros)
    return fail(llvm::toString(zeros.takeError()));
  q.zeros.assign(zeros->begin(), zeros->end());
  llvm::Expected<std::vector<float>> scaleValues = readFloat32(**scales);
  if (!scaleValues)
    return scaleValues.takeError();
  q.scales.resize(n * groups);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t r = 0; r < n; ++r) {
      float s = (*scaleValues)[g * n + r];
      if (!std::isfinite(s))
        return fail("'" + name + ".scales' has a non-finite value at [" +
                    llvm::Twine(g) + ", " + llvm::Twine(r) + "]");
      q.scales[r * groups + g] = s;
    }
  // g_idx is optional: without one, groups are contiguous.
  if (tensors.find((name + ".g_idx").str())) {
    llvm::Expected<const TensorView *> gIdx = get("g_idx", DType::I32, {k});
    if (!gIdx)
      return gIdx.takeError();
    q.gIdx = asInts(*gIdx);
    bool identity = true;
    for (int64_t c = 0; c < k; ++c)
      identity &= q.gIdx[c] == c / groupSize;
    if (identity)
      q.gIdx.clear();
  }
  quant::QuantizedWeightView view{n, k, groupSize, config.bits, q.codes,
                                  q.scales, q.zeros, q.gIdx};
  if (llvm::Error err = quant::validate(view))
    return fail(llvm::toString(std::move(err)));
  return q;
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
      llvm::Expected<quant::QuantizedMatrix> q = readLayer(
          tensors, name, type.getDimSize(0), type.getDimSize(1), *config);
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
