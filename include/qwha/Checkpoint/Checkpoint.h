//===- Checkpoint.h - Model checkpoints as training saves them --*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A checkpoint as Hugging Face tools save it during training: a directory
// holding model.safetensors, or shards listed by model.safetensors.index.json,
// beside config.json, tokenizer files and training state; or a single
// .safetensors file. Directories are read by CheckpointTensors
// (qwha/Support/Checkpoint.h), as the importer and qwha-load-gptq read
// them; this adds single files, where each tensor lives (for an output laid
// out the same way), the model files beside the weights, and training steps.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CHECKPOINT_CHECKPOINT_H
#define QWHA_CHECKPOINT_CHECKPOINT_H

#include "qwha/Support/Checkpoint.h"
#include "qwha/Support/Safetensors.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qwha {

/// One tensor of a checkpoint and the file that holds it.
struct CheckpointEntry {
  const TensorView *view;
  const SafetensorsFile *file;
  /// The file's name inside the checkpoint ("model.safetensors",
  /// "model-00001-of-00002.safetensors"); for a single-file checkpoint, the
  /// file's own name.
  std::string shard;
};

class Checkpoint {
public:
  /// Opens a directory with CheckpointTensors (the shards of
  /// model.safetensors.index.json if there is one, else model.safetensors)
  /// or a safetensors file. Errors name the path, and the index or shard at
  /// fault.
  static llvm::Expected<Checkpoint> open(llvm::StringRef path);

  Checkpoint(Checkpoint &&) = default;
  Checkpoint &operator=(Checkpoint &&) = default;

  /// The path given to open().
  llvm::StringRef getPath() const { return path; }
  bool isDirectory() const { return directory.has_value(); }
  /// Whether the tensors come from the shards of an index.
  bool isSharded() const { return sharded; }
  /// Every tensor, in bytewise name order.
  const std::map<std::string, CheckpointEntry> &getTensors() const {
    return tensors;
  }
  /// nullptr if absent.
  const CheckpointEntry *find(llvm::StringRef name) const;
  /// The safetensors metadata of the first file (in shard name order):
  /// where frameworks record {"format": "pt"}, which loaders check.
  const std::map<std::string, std::string> &getMetadata() const;
  /// Names of the directory's regular files that a copy of the model needs
  /// besides its weights (config.json, generation_config.json, tokenizer
  /// files, ...): all but weights and training state (see
  /// isWeightOrStateFile) and hidden files; subdirectories are not included.
  /// Sorted; empty for a single-file checkpoint.
  llvm::Expected<std::vector<std::string>> listModelFiles() const;

private:
  Checkpoint() = default;

  std::string path;
  /// A directory's tensors, or a single file.
  std::optional<CheckpointTensors> directory;
  std::unique_ptr<SafetensorsFile> single;
  bool sharded = false;
  std::map<std::string, CheckpointEntry> tensors;
};

/// Whether a file of a checkpoint directory holds weights or training state
/// rather than something a copy of the model needs: safetensors files and
/// weight indexes (`*.index.json`), other weight formats (.bin, .pt, .pth,
/// .ckpt, .h5, .msgpack, .npz, .gguf, .onnx, which also covers optimizer,
/// scheduler, scaler and random-number state), trainer_state.json (the step
/// and log of one checkpoint), and DeepSpeed's `latest` and zero_to_fp32.py.
bool isWeightOrStateFile(llvm::StringRef name);

/// The training step of the checkpoint at `path`: the number that ends its
/// name (checkpoint-1200, step_1200, global_step1200.safetensors: a
/// `.safetensors` extension and trailing separators are ignored), else the
/// "global_step" of the trainer_state.json the Hugging Face Trainer writes
/// into a checkpoint directory. Error naming the path when neither gives
/// one.
llvm::Expected<int64_t> findTrainingStep(llvm::StringRef path);

/// The "global_step" of the text of a trainer_state.json, named `path` in
/// messages (tests, fuzzers); findTrainingStep goes through it. Error unless
/// it is a JSON object whose global_step is a non-negative integer.
llvm::Expected<int64_t> parseTrainerState(llvm::StringRef text,
                                          llvm::StringRef path);

} // namespace qwha

#endif // QWHA_CHECKPOINT_CHECKPOINT_H
