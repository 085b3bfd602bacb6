//===- TransformerConfig.cpp - config.json of a Hugging Face model -------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Import/HuggingFace.h"
#include "qwha/Support/Checkpoint.h"

#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace qwha;

namespace {

/// Reads keys of one config object, remembering the first error.
class ConfigReader {
public:
  ConfigReader(const llvm::json::Object &object, llvm::StringRef path)
      : object(object), path(path) {}

  /// A positive integer; `fallback` (when >= 0) if the key is absent or null.
  int64_t positive(llvm::StringRef key, int64_t fallback = -1) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null) {
      if (fallback < 0)
        fail("has no '" + key + "'");
      return fallback;
    }
    std::optional<int64_t> integer = getJSONInteger(*value);
    if (!integer || *integer <= 0) {
      fail("'" + key + "' must be a positive integer");
      return 1;
    }
    return *integer;
  }

  double number(llvm::StringRef key, double fallback, bool positiveOnly) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback;
    std::optional<double> number = value->getAsNumber();
    if (!number || !std::isfinite(*number) ||
        (positiveOnly && *number <= 0)) {
      fail("'" + key + "' must be a " +
           (positiveOnly ? "positive " : "finite ") + "number");
      return fallback;
    }
    return *number;
  }

  std::string string(llvm::StringRef key, llvm::StringRef fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback.str();
    std::optional<llvm::StringRef> string = value->getAsString();
    if (!string) {
      fail("'" + key + "' must be a string");
      return fallback.str();
    }
    return string->str();
  }

  bool boolean(llvm::StringRef key, bool fallback) {
    const llvm::json::Value *value = object.get(key);
    if (!value || value->kind() == llvm::json::Value::Null)
      return fallback;
    std::optional<bool> flag = value->getAsBoolean();
    if (!flag) {
      fail("'" + key + "' must be true or false");
      return fallback;
    }
    return *flag;
  }

  bool has(llvm::StringRef key) const {
    const llvm::json::Value *value = object.get(key);
    return value && value->kind() != llvm::json::Value::Null;
  }

  void fail(const llvm::Twine &message) {
    if (error.empty())
      error = ("'" + path + "' " + message).str();
  }

  llvm::Error takeError() {
    if (error.empty())
      return llvm::Error::success();
    return llvm::createStringError(error);
  }

private:
  const llvm::json::Object &object;
  llvm::StringRef path;
  std::string error;
};

} // namespace

llvm::Expected<TransformerConfig>
TransformerConfig::fromJSON(const llvm::json::Object &object,
                            llvm::StringRef path) {
  ConfigReader read(object, path);
  TransformerConfig config;
  if (!read.has("model_type"))
    return llvm::createStringError(
        "'" + path + "' has no 'model_type' (expected one of: bert, llama, "
                     "mistral, qwen2)");
  config.modelType = read.string("model_type", "");
  if (config.modelType == "bert") {
    config.family = ModelFamily::Bert;
  } else if (config.modelType == "llama" || config.modelType == "mistral" ||
             config.modelType == "qwen2") {
    config.family = ModelFamily::Llama;
  } else {
    if (llvm::Error err = read.takeError())
      return std::move(err);
    return llvm::createStringError("'" + path + "': model_type '" +
                                   config.modelType +
                                   "' is not supported (supported: bert, "
                                   "llama, mistral, qwen2)");
  }

  config.hiddenSize = read.positive("hidden_size");
  config.numLayers = read.positive("num_hidden_layers");
  config.numHeads = read.positive("num_attention_heads");
  config.intermediateSize = read.positive("intermediate_size");
  config.vocabSize = read.positive("vocab_size");
  config.maxPositions = read.positive("max_position_embeddings", 0);
  const bool bert = config.family == ModelFamily::Bert;
  config.numKeyValueHeads =
      bert ? config.numHeads
           : read.positive("num_key_value_heads", config.numHeads);
  config.headDim =
      read.positive("head_dim", config.hiddenSize / config.numHeads);
  if (bert) {
    config.typeVocabSize = read.positive("type_vocab_size", 2);
    config.normEps = read.number("layer_norm_eps", 1e-12, true);
    config.hiddenAct = read.string("hidden_act", "gelu");
    std::string positions =
        read.string("position_embedding_type", "absolute");
    if (positions != "absolute")
      read.fail("position_embedding_type '" + positions +
                "' is not supported (only 'absolute')");
    if (!config.maxPositions)
      read.fail("has no 'max_position_embeddings'");
  } else {
    config.normEps = read.number("rms_norm_eps", 1e-6, true);
    config.ropeTheta = read.number("rope_theta", 10000, true);
    // transformers 5 writes the RoPE settings as one object (theta and
    // scaling); version 4 as rope_theta and a rope_scaling object.
    const llvm::json::Object *rope = object.getObject("rope_parameters");
    if (!rope)
      rope = object.getObject("rope_scaling");
    if (rope) {
      ConfigReader readRope(*rope, path);
      config.ropeTheta = readRope.number("rope_theta", config.ropeTheta, true);
      RopeScaling &scaling = config.ropeScaling;
      scaling.type =
          readRope.string("rope_type", readRope.string("type", "default"));
      if (readRope.number("partial_rotary_factor", 1, true) != 1)
        readRope.fail("sets a partial_rotary_factor, which is not supported");
      if (scaling.type == "linear" || scaling.type == "llama3")
        scaling.factor = readRope.number("factor", 0, true);
      if (scaling.type == "llama3") {
        // transformers reads both without a default; the fallbacks below
        // only keep the reader going to the first error.
        for (llvm::StringRef key : {"low_freq_factor", "high_freq_factor"})
          if (!readRope.has(key))
            readRope.fail("has no '" + key + "' for RoPE type 'llama3'");
        scaling.lowFreqFactor = readRope.number("low_freq_factor", 0, true);
        scaling.highFreqFactor = readRope.number("high_freq_factor", 0, true);
        scaling.originalMaxPositions =
            readRope.positive("original_max_position_embeddings");
        if (scaling.highFreqFactor <= scaling.lowFreqFactor)
          readRope.fail("sets high_freq_factor <= low_freq_factor");
      }
      if ((scaling.type == "linear" || scaling.type == "llama3") &&
          scaling.factor <= 0)
        readRope.fail("needs a positive RoPE scaling 'factor'");
      if (scaling.type != "default" && scaling.type != "linear" &&
          scaling.type != "llama3")
        readRope.fail("sets RoPE type '" + scaling.type +
                      "', which is not supported (default, linear, llama3)");
      if (llvm::Error err = readRope.takeError())
        return std::move(err);
    }
    config.hiddenAct = read.string("hidden_act", "silu");
    config.tieWordEmbeddings = read.boolean("tie_word_embeddings", false);
    config.attentionBias = config.modelType == "qwen2"
                               ? true
                               : read.boolean("attention_bias", false);
    if (config.modelType == "mistral" ||
        (config.modelType == "qwen2" &&
         read.boolean("use_sliding_window", false)))
      config.slidingWindow = read.positive("sliding_window", 0);
    if (config.modelType == "llama" && read.boolean("mlp_bias", false))
      read.fail("sets 'mlp_bias', which is not supported");
  }
  if (llvm::Error err = read.takeError())
    return std::move(err);

  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(("'" + path + "': " + message).str());
  };
  if (config.hiddenAct != "gelu" && config.hiddenAct != "gelu_new" &&
      config.hiddenAct != "gelu_pytorch_tanh" && config.hiddenAct != "relu" &&
      config.hiddenAct != "silu")
    return fail("hidden_act '" + config.hiddenAct +
                "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, "
                "relu, silu)");
  if (config.numHeads % config.numKeyValueHeads != 0)
    return fail("num_attention_heads (" + llvm::Twine(config.numHeads) +
                ") is not a multiple of num_key_value_heads (" +
                llvm::Twine(config.numKeyValueHeads) + ")");
  // The builders multiply these sizes into weight shapes [rows, hidden]; a
  // shape whose element count overflows int64 is undefined behaviour to
  // compute, long before a checkpoint tensor could be compared with it.
  int64_t attention, elements;
  if (llvm::MulOverflow(config.numHeads, config.headDim, attention))
    return fail("num_attention_heads (" + llvm::Twine(config.numHeads) +
                ") x head_dim (" + llvm::Twine(config.headDim) +
                ") overflows int64");
  std::pair<llvm::StringRef, int64_t> rows[] = {
      {"vocab_size", config.vocabSize},
      {"intermediate_size", config.intermediateSize},
      {"num_attention_heads x head_dim", attention},
      {"max_position_embeddings", bert ? config.maxPositions : 0},
      {"type_vocab_size", config.typeVocabSize}};
  for (auto [name, count] : rows)
    if (llvm::MulOverflow(count, config.hiddenSize, elements))
      return fail(llvm::Twine(name) + " (" + llvm::Twine(count) +
                  ") x hidden_size (" + llvm::Twine(config.hiddenSize) +
                  ") overflows int64");
  if (bert && attention != config.hiddenSize)
    return fail("hidden_size (" + llvm::Twine(config.hiddenSize) +
                ") is not a multiple of num_attention_heads (" +
                llvm::Twine(config.numHeads) + ")");
  // Without head_dim, heads are hidden_size / num_attention_heads wide,
  // rounded down (transformers' default).
  if (config.headDim == 0)
    return fail("hidden_size (" + llvm::Twine(config.hiddenSize) +
                ") is smaller than num_attention_heads (" +
                llvm::Twine(config.numHeads) +
                "), which leaves the heads no dimension (set head_dim)");
  if (!bert && config.headDim % 2 != 0)
    return fail("the head dimension (" + llvm::Twine(config.headDim) +
                ") must be even for rotary embeddings");
  return config;
}

llvm::Expected<TransformerConfig>
TransformerConfig::parse(llvm::StringRef text, llvm::StringRef path) {
  llvm::Expected<llvm::json::Value> json = parseCheckpointJSON(text, path);
  if (!json)
    return json.takeError();
  const llvm::json::Object *object = json->getAsObject();
  if (!object)
    return llvm::createStringError("'" + path + "' is not a JSON object");
  return fromJSON(*object, path);
}

llvm::Expected<TransformerConfig>
TransformerConfig::load(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError("cannot read '" + path +
                                   "': " + buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}
