//===- HuggingFace.h - Import Hugging Face checkpoints ----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Builds the forward pass of a Hugging Face transformer (config.json plus
// safetensors weights) as an MLIR module on tensors - linalg, tensor, arith,
// math and func, the form torch-mlir and IREE's input conversion produce -
// so that every later stage (raising, calibration, quantization, lowering)
// treats an imported model like any other input. Linear layers are
// `linalg.matmul`s of the transposed weight constant, named with
// `qwha.name` after their parameter (`model.layers.0.mlp.down_proj`);
// weights are `dense_resource` blobs in f32, whatever the checkpoint's
// floating-point dtype.
//
// Families:
// - BERT encoders (`model_type` "bert"; MiniLM): `@forward(input_ids,
//   attention_mask)` -> the last hidden state `[B, S, hidden]`;
// - Llama-style decoders ("llama", "mistral", "qwen2"; SmolLM is "llama"):
//   `@forward(input_ids)` -> logits `[B, S, vocab]`, causal attention with
//   rotary position embeddings, grouped-query attention, SwiGLU.
// Shapes are static (batch and sequence length are import options), as
// calibration and the ahead-of-time compiler need.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_IMPORT_HUGGINGFACE_H
#define QWHA_IMPORT_HUGGINGFACE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>

namespace qwha {

enum class ModelFamily { Bert, Llama };

/// The fields of config.json the importer uses, checked for consistency.
struct TransformerConfig {
  ModelFamily family = ModelFamily::Bert;
  std::string modelType;
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKeyValueHeads = 0;
  int64_t headDim = 0;
  int64_t intermediateSize = 0;
  int64_t vocabSize = 0;
  /// Longest sequence the model supports (position table, RoPE range);
  /// 0 when the config does not say.
  int64_t maxPositions = 0;
  /// BERT: rows of the token type table (token type 0 is used).
  int64_t typeVocabSize = 0;
  /// layer_norm_eps (BERT) or rms_norm_eps (Llama).
  double normEps = 0;
  double ropeTheta = 10000;
  /// RoPE frequency scaling as transformers applies it: "default" (none),
  /// "linear" (every frequency / factor) or "llama3" (Llama 3.1: low
  /// frequencies / factor, high ones kept, a smooth ramp between).
  struct RopeScaling {
    std::string type = "default";
    double factor = 1;
    double lowFreqFactor = 1;
    double highFreqFactor = 4;
    int64_t originalMaxPositions = 0;
  } ropeScaling;
  /// "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh form), "relu" or
  /// "silu".
  std::string hiddenAct;
  bool tieWordEmbeddings = false;
  /// Llama/Mistral `attention_bias` (q, k, v and o projections); always set
  /// for Qwen2 (q, k and v only).
  bool attentionBias = false;
  /// Mistral-style sliding window; 0 when there is none.
  int64_t slidingWindow = 0;

  /// Reads and checks a parsed config.json; messages name `path` and the key.
  static llvm::Expected<TransformerConfig>
  fromJSON(const llvm::json::Object &object, llvm::StringRef path);
  /// Parses and checks the text of a config.json, named `path` in messages
  /// (tests, fuzzers); load() goes through it.
  static llvm::Expected<TransformerConfig> parse(llvm::StringRef text,
                                                 llvm::StringRef path);
  /// Reads `path` (a config.json).
  static llvm::Expected<TransformerConfig> load(llvm::StringRef path);
};

struct ImportOptions {
  int64_t batch = 1;
  int64_t seqLen = 128;
  std::string function = "forward";
};

/// Imports the model in `directory` (config.json and model.safetensors or a
/// sharded index). Errors name the file and the tensor or key at fault: an
/// unknown or missing model_type, a missing tensor, a wrong shape or dtype,
/// a non-finite weight, a sequence longer than the model supports.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importHuggingFaceModel(mlir::MLIRContext &context, llvm::StringRef directory,
                       const ImportOptions &options);

} // namespace qwha

#endif // QWHA_IMPORT_HUGGINGFACE_H
