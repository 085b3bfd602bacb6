//===- GptqCheckpointFuzzer.cpp - Fuzz the GPTQ checkpoint reader ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: the text of quantize_config.json, a NUL byte, then the bytes of
// model.safetensors (JSON text has no NUL, so the first one splits). Every
// layer with a qweight is read with readGptqLayer, as qwha-load-gptq reads
// it, for the layer shapes a module could pair with it: the one its qweight
// implies and the one its g_idx implies. A layer the reader accepts must
// have codes, zero points and scales that fit its shape and code width, and
// its codes must pack back into the same qweight.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Transforms/GptqCheckpoint.h"

#include <cmath>
#include <cstring>

using namespace qwha;

static void checkLayer(const SafetensorsFile &file, const GptqConfig &config,
                       const std::string &layer, int64_t n, int64_t k) {
  llvm::Expected<quant::QuantizedMatrix> q = readGptqLayer(
      [&](llvm::StringRef name) { return file.find(name); }, layer, n, k,
      config);
  if (!q) {
    llvm::consumeError(q.takeError());
    return;
  }
  const unsigned bits = config.bits;
  QWHA_FUZZ_CHECK(q->rows == n && q->cols == k && q->bits == bits,
                  "layer read with another shape or width");
  QWHA_FUZZ_CHECK(q->groupSize > 0 && k % q->groupSize == 0,
                  "group size does not divide the input features");
  const int64_t groups = q->getNumGroups();
  QWHA_FUZZ_CHECK(int64_t(q->codes.size()) == n * k &&
                      int64_t(q->scales.size()) == n * groups &&
                      int64_t(q->zeros.size()) == n * groups,
                  "tensor sizes do not match the layer");
  for (uint8_t code : q->codes)
    QWHA_FUZZ_CHECK(code < (1u << bits), "code does not fit the width");
  for (float zero : q->zeros)
    QWHA_FUZZ_CHECK(zero >= 0 && zero < float(1u << bits),
                    "zero point does not fit the width");
  for (float scale : q->scales)
    QWHA_FUZZ_CHECK(std::isfinite(scale), "non-finite scale accepted");
  for (int64_t c = 0; c < k; ++c)
    QWHA_FUZZ_CHECK(q->getGroup(c) >= 0 && q->getGroup(c) < groups,
                    "column in no group");

  llvm::Expected<std::vector<int32_t>> packed =
      quant::packGptqWeight(q->codes, n, k, bits);
  QWHA_FUZZ_CHECK(bool(packed), "accepted codes do not pack");
  const TensorView *qweight = file.find(layer + ".qweight");
  QWHA_FUZZ_CHECK(packed->size() * 4 == qweight->data.size() &&
                      std::memcmp(packed->data(), qweight->data.data(),
                                  qweight->data.size()) == 0,
                  "codes do not pack back into the same qweight");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const auto *split = static_cast<const uint8_t *>(std::memchr(data, 0, size));
  if (!split)
    return 0;
  size_t configSize = split - data;
  llvm::Expected<GptqConfig> config = GptqConfig::parse(
      llvm::StringRef(reinterpret_cast<const char *>(data), configSize),
      "quantize_config.json");
  if (!config) {
    llvm::consumeError(config.takeError());
    return 0;
  }
  llvm::Expected<SafetensorsFile> file = SafetensorsFile::fromBuffer(
      fuzz::wrap(split + 1, size - configSize - 1, "model.safetensors"));
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  for (const TensorView &tensor : file->getTensors()) {
    llvm::StringRef layerName = tensor.name;
    if (!layerName.consume_back(".qweight") || tensor.shape.size() != 2)
      continue;
    std::string layer = layerName.str();
    // qweight is [K / 32 * bits, N].
    const int64_t n = tensor.shape[1];
    checkLayer(*file, *config, layer, n, tensor.shape[0] / config->bits * 32);
    const TensorView *gIdx = file->find(layer + ".g_idx");
    if (gIdx && gIdx->shape.size() == 1)
      checkLayer(*file, *config, layer, n, gIdx->shape[0]);
  }
  return 0;
}
