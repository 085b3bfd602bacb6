//===- GptqCheckpoint.cpp - GPTQ checkpoints in and out -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/GptqCheckpoint.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/QuantizedWeight.h"
#include "qwha/Support/AtomicFile.h"
#include "qwha/Support/Checkpoint.h"
#include "qwha/Support/Safetensors.h"
#include "qwha/Transforms/LayerWeights.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

using namespace mlir;
using namespace qwha;

//===----------------------------------------------------------------------===//
// quantize_config.json
//===----------------------------------------------------------------------===//

llvm::Expected<GptqConfig> GptqConfig::load(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError("cannot read '" + path +
                                   "': " + buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}

llvm::Expected<GptqConfig> GptqConfig::parse(llvm::StringRef text,
                                             llvm::StringRef path) {
  // Depth-limited, like the other checkpoint JSON readers.
  llvm::Expected<llvm::json::Value> json = parseCheckpointJSON(text, path);
  if (!json)
    return json.takeError();
  const llvm::json::Object *object = json->getAsObject();
  if (!object)
    return llvm::createStringError("'" + path + "' is not a JSON object");
  // Safe for any number, 2^63 included (json::Value::getAsInteger is not).
  auto getInteger = [&](llvm::StringRef field) -> std::optional<int64_t> {
    const llvm::json::Value *value = object->get(field);
    return value ? getJSONInteger(*value) : std::nullopt;
  };
  auto fieldError = [&](llvm::StringRef field, llvm::StringRef expected) {
    return llvm::createStringError("'" + path + "': field '" + field +
                                   "' must be " + expected);
  };
  GptqConfig config;
  std::optional<int64_t> bits = getInteger("bits");
  if (!bits || (*bits != 2 && *bits != 3 && *bits != 4 && *bits != 8))
    return fieldError("bits", "2, 3, 4 or 8");
  config.bits = unsigned(*bits);
  std::optional<int64_t> groupSize = getInteger("group_size");
  if (!groupSize || (*groupSize != -1 && *groupSize <= 0))
    return fieldError("group_size", "-1 or a positive integer");
  config.groupSize = *groupSize;
  for (auto [field, target] :
       {std::pair{"desc_act", &config.descAct}, std::pair{"sym", &config.sym},
        std::pair{"static_groups", &config.staticGroups}}) {
    if (const llvm::json::Value *value = object->get(field)) {
      std::optional<bool> flag = value->getAsBoolean();
      if (!flag)
        return fieldError(field, "a boolean");
      *target = *flag;
    }
  }
  if (const llvm::json::Value *method = object->get("quant_method"))
    if (method->getAsString() != std::optional<llvm::StringRef>("gptq"))
      return fieldError("quant_method", "\"gptq\"");
  if (const llvm::json::Value *format = object->get("checkpoint_format")) {
    std::optional<llvm::StringRef> name = format->getAsString();
    if (name == "gptq")
      config.format = quant::GptqFormat::V1;
    else if (name == "gptq_v2")
      config.format = quant::GptqFormat::V2;
    else
      return fieldError("checkpoint_format", "\"gptq\" or \"gptq_v2\"");
  }
  return config;
}

llvm::Error GptqConfig::save(llvm::StringRef path) const {
  llvm::json::Object object{
      {"bits", int64_t(bits)},
      {"group_size", groupSize},
      {"desc_act", descAct},
      {"sym", sym},
      {"static_groups", staticGroups},
      {"quant_method", "gptq"},
      {"checkpoint_format",
       format == quant::GptqFormat::V1 ? "gptq" : "gptq_v2"},
      {"true_sequential", true},
  };
  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(object))) << "\n";
    return llvm::Error::success();
  });
}

//===----------------------------------------------------------------------===//
// Reading a layer
//===----------------------------------------------------------------------===//

llvm::Expected<quant::QuantizedMatrix>
qwha::readGptqLayer(GptqTensorLookup find, llvm::StringRef name, int64_t n,
                    int64_t k, const GptqConfig &config) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError("layer '" + name + "': " + message);
  };
  // Checked first: with group_size -1 the group size is k, and k = 0 would
  // divide by zero below.
  if (n <= 0 || k <= 0)
    return fail("a " + llvm::Twine(n) + "x" + llvm::Twine(k) +
                " layer cannot be read from a GPTQ checkpoint: it needs at "
                "least one output and one input feature");
  const int64_t groupSize = config.groupSize == -1 ? k : config.groupSize;
  if (k % groupSize != 0)
    return fail("group size " + llvm::Twine(groupSize) + " does not divide " +
                llvm::Twine(k) + " input features");
  const int64_t groups = k / groupSize;
  auto get = [&](StringRef suffix, DType dtype,
                 ArrayRef<int64_t> shape) -> llvm::Expected<const TensorView *> {
    std::string tensorName = (name + "." + suffix).str();
    const TensorView *tensor = find(tensorName);
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
  if (find((name + ".g_idx").str())) {
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

//===----------------------------------------------------------------------===//
// Export
//===----------------------------------------------------------------------===//

namespace {

llvm::Error layerError(StringRef layer, const llvm::Twine &message) {
  return llvm::createStringError("layer '" + layer + "': " + message);
}

template <typename T>
ArrayRef<char> asBytes(const std::vector<T> &values) {
  return ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                        values.size() * sizeof(T));
}

} // namespace

llvm::Error qwha::exportGptqCheckpoint(ModuleOp module,
                                       llvm::StringRef directory,
                                       quant::GptqFormat format,
                                       llvm::raw_ostream *progress) {
  SmallVector<QLinearOp> ops;
  module.walk([&](QLinearOp op) { ops.push_back(op); });
  if (ops.empty())
    return llvm::createStringError(
        "the module has no qwha.qlinear layer to export");

  // Diagnostics of the readers go into the error, not to the terminal.
  std::string diagnostics;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &diag) {
    diagnostics += diag.str();
    return success();
  });

  std::vector<std::pair<std::string, quant::QuantizedMatrix>> layers;
  std::map<std::string, size_t> indexByName;
  for (QLinearOp op : ops) {
    StringRef name = op.getName();
    FailureOr<quant::QuantizedMatrix> q = readQuantizedWeight(op);
    if (failed(q))
      return layerError(name, diagnostics);
    if (auto it = indexByName.find(name.str()); it != indexByName.end()) {
      // A layer applied twice shares its weight; anything else is a clash.
      if (layers[it->second].second.codes != q->codes)
        return layerError(name, "appears twice with different weights");
      continue;
    }
    indexByName[name.str()] = layers.size();
    layers.emplace_back(name.str(), std::move(*q));
  }
  return exportGptqLayers(layers, directory, format, progress);
}

llvm::Error qwha::exportGptqLayers(
    llvm::ArrayRef<std::pair<std::string, quant::QuantizedMatrix>> layers,
    llvm::StringRef directory, quant::GptqFormat format,
    llvm::raw_ostream *progress) {
  if (layers.empty())
    return llvm::createStringError("no layer to export");
  GptqConfig config;
  config.format = format;
  config.bits = layers.front().second.bits;
  config.sym = true;
  // One group size for all: a per-channel layer fits a config group size
  // equal to its input features (one group), so take a real one if any.
  // A group as wide as the row is per-channel.
  auto groupSizeOf = [](const quant::QuantizedMatrix &q) {
    return q.groupSize == q.cols ? int64_t(-1) : q.groupSize;
  };
  config.groupSize = -1;
  for (const auto &[name, q] : layers)
    if (groupSizeOf(q) != -1)
      config.groupSize = groupSizeOf(q);
  SafetensorsWriter writer;
  std::set<std::string> names;
  for (const auto &[layerName, layer] : layers) {
    StringRef name = layerName;
    const quant::QuantizedMatrix *q = &layer;
    if (!names.insert(layerName).second)
      return layerError(name, "appears twice");
    const int64_t groupSize = groupSizeOf(*q);
    bool groupFits = groupSize == config.groupSize ||
                     (groupSize == -1 && q->cols == config.groupSize);
    if (q->bits != config.bits || !groupFits)
      return layerError(name, "uses " + llvm::Twine(q->bits) +
                                  " bits and group size " +
                                  llvm::Twine(groupSize) + ", other layers " +
                                  llvm::Twine(config.bits) + " and " +
                                  llvm::Twine(config.groupSize) +
                                  ": a GPTQ checkpoint has one config");
    quant::QuantizedWeightView view = q->view();
    if (llvm::Error err = quant::validate(view))
      return layerError(name, llvm::toString(std::move(err)));

    const int64_t n = q->rows, k = q->cols, groups = q->getNumGroups();
    const unsigned maxCode = (1u << q->bits) - 1;
    std::vector<uint8_t> zeros(n * groups);
    for (size_t i = 0; i < q->zeros.size(); ++i) {
      float z = q->zeros[i];
      if (z != std::nearbyint(z) || z < 0 || z > float(maxCode))
        return layerError(name, "zero point " + llvm::Twine(std::to_string(z)) +
                                    " is not an integer code: GPTQ "
                                    "checkpoints store integer zero points");
      zeros[i] = uint8_t(z);
      if (zeros[i] != (maxCode + 1) / 2)
        config.sym = false;
    }
    if (!q->gIdx.empty())
      for (int64_t c = 0; c < k; ++c)
        if (q->gIdx[c] != c / q->groupSize)
          config.descAct = true;

    llvm::Expected<std::vector<int32_t>> qweight =
        quant::packGptqWeight(q->codes, n, k, q->bits);
    if (!qweight)
      return layerError(name, llvm::toString(qweight.takeError()));
    llvm::Expected<std::vector<int32_t>> qzeros =
        quant::packGptqZeros(zeros, n, groups, q->bits, format);
    if (!qzeros)
      return layerError(name, llvm::toString(qzeros.takeError()));
    std::vector<uint16_t> scales(groups * n);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        float s = q->scales[r * groups + g];
        uint16_t half = floatToHalfBits(s);
        if (!std::isfinite(halfBitsToFloat(half)))
          return layerError(name, "scale " + llvm::Twine(std::to_string(s)) +
                                      " does not fit in the checkpoint's F16");
        scales[g * n + r] = half;
      }
    std::vector<int32_t> gIdx(k);
    for (int64_t c = 0; c < k; ++c)
      gIdx[c] = int32_t(q->getGroup(c));

    std::array<int64_t, 2> weightShape =
        quant::getGptqWeightShape(n, k, q->bits);
    std::array<int64_t, 2> zerosShape =
        quant::getGptqZerosShape(n, groups, q->bits);
    std::string prefix = name.str();
    if (llvm::Error err = writer.add(prefix + ".qweight", DType::I32,
                                     weightShape, asBytes(*qweight)))
      return err;
    if (llvm::Error err = writer.add(prefix + ".qzeros", DType::I32,
                                     zerosShape, asBytes(*qzeros)))
      return err;
    if (llvm::Error err = writer.add(prefix + ".scales", DType::F16,
                                     {groups, n}, asBytes(scales)))
      return err;
    if (llvm::Error err =
            writer.add(prefix + ".g_idx", DType::I32, {k}, asBytes(gIdx)))
      return err;
    if (progress)
      *progress << "exported " << name << " (" << n << "x" << k << ")\n";
  }

  if (std::error_code ec = llvm::sys::fs::create_directories(directory))
    return llvm::createStringError("cannot create '" + directory +
                                   "': " + ec.message());
  llvm::SmallString<256> tensors(directory), configPath(directory);
  llvm::sys::path::append(tensors, "model.safetensors");
  llvm::sys::path::append(configPath, "quantize_config.json");
  writer.setMetadata("format", "pt");
  if (llvm::Error err = writer.writeFile(tensors))
    return err;
  return config.save(configPath);
}
