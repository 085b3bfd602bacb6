//===- TransformerConfigFuzzer.cpp - Fuzz the config.json reader ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: the text of a Hugging Face config.json, as qwha-import reads it. An
// accepted config must hold what the BERT and Llama builders take for
// granted (lib/Import/*Builder.cpp): positive sizes, heads that split into
// whole key/value groups and, for BERT, the hidden size; an even head
// dimension for rotary embeddings; positive, finite epsilons and RoPE
// settings of a supported kind; a supported activation; and weight shapes
// [rows, columns] built from these sizes whose element counts fit int64.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Import/HuggingFace.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace qwha;

static bool positiveFinite(double value) {
  return std::isfinite(value) && value > 0;
}

/// rows * cols without overflow, both positive.
static bool fitsInt64(int64_t rows, int64_t cols) {
  int64_t product;
  return rows > 0 && cols > 0 && !llvm::MulOverflow(rows, cols, product);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<TransformerConfig> parsed = TransformerConfig::parse(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "config.json");
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return 0;
  }
  const TransformerConfig &c = *parsed;
  const bool bert = c.family == ModelFamily::Bert;
  QWHA_FUZZ_CHECK(bert == (c.modelType == "bert") &&
                      (bert || c.modelType == "llama" ||
                       c.modelType == "mistral" || c.modelType == "qwen2"),
                  "model_type and family disagree");
  QWHA_FUZZ_CHECK(c.hiddenSize > 0 && c.numLayers > 0 && c.numHeads > 0 &&
                      c.numKeyValueHeads > 0 && c.headDim > 0 &&
                      c.intermediateSize > 0 && c.vocabSize > 0,
                  "accepted a size that is not positive");
  QWHA_FUZZ_CHECK(c.maxPositions >= 0 && c.slidingWindow >= 0,
                  "accepted a negative length");
  QWHA_FUZZ_CHECK(c.numHeads % c.numKeyValueHeads == 0,
                  "heads do not split into key/value groups");
  QWHA_FUZZ_CHECK(positiveFinite(c.normEps) && positiveFinite(c.ropeTheta),
                  "accepted a non-positive or non-finite epsilon or theta");
  QWHA_FUZZ_CHECK(c.hiddenAct == "gelu" || c.hiddenAct == "gelu_new" ||
                      c.hiddenAct == "gelu_pytorch_tanh" ||
                      c.hiddenAct == "relu" || c.hiddenAct == "silu",
                  "accepted an activation the builders do not know");
  QWHA_FUZZ_CHECK(fitsInt64(c.numHeads, c.headDim) &&
                      fitsInt64(c.vocabSize, c.hiddenSize) &&
                      fitsInt64(c.intermediateSize, c.hiddenSize) &&
                      fitsInt64(c.numHeads * c.headDim, c.hiddenSize),
                  "a weight shape overflows int64");
  if (bert) {
    QWHA_FUZZ_CHECK(c.numKeyValueHeads == c.numHeads,
                    "BERT with grouped key/value heads");
    QWHA_FUZZ_CHECK(c.numHeads * c.headDim == c.hiddenSize,
                    "BERT heads do not split the hidden size");
    QWHA_FUZZ_CHECK(c.maxPositions > 0 && c.typeVocabSize > 0 &&
                        fitsInt64(c.maxPositions, c.hiddenSize) &&
                        fitsInt64(c.typeVocabSize, c.hiddenSize),
                    "BERT embedding tables without rows, or too large");
    return 0;
  }
  QWHA_FUZZ_CHECK(c.headDim % 2 == 0, "odd head dimension with RoPE");
  const TransformerConfig::RopeScaling &rope = c.ropeScaling;
  if (rope.type == "default")
    return 0;
  QWHA_FUZZ_CHECK(rope.type == "linear" || rope.type == "llama3",
                  "accepted a RoPE type the builder does not know");
  QWHA_FUZZ_CHECK(positiveFinite(rope.factor), "bad RoPE scaling factor");
  if (rope.type == "llama3")
    QWHA_FUZZ_CHECK(positiveFinite(rope.lowFreqFactor) &&
                        std::isfinite(rope.highFreqFactor) &&
                        rope.highFreqFactor > rope.lowFreqFactor &&
                        rope.originalMaxPositions > 0,
                    "bad llama3 RoPE frequency settings");
  return 0;
}
