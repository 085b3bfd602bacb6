//===- Checkpoint.h - Tensors of a Hugging Face checkpoint ------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A Hugging Face checkpoint directory keeps its tensors in one
// `model.safetensors` or in shards listed by `model.safetensors.index.json`
// (`{"weight_map": {"<tensor>": "<shard file>", ...}}`). Importers and
// loaders look tensors up by name without caring which file holds them, and
// name the file when a tensor is wrong. The JSON helpers at the end are for
// every JSON file of such a directory (the index, config.json,
// trainer_state.json), which come from outside as much as the weights.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_CHECKPOINT_H
#define QWHA_SUPPORT_CHECKPOINT_H

#include "qwha/Support/Safetensors.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qwha {

/// The validated, memory-mapped tensors of a checkpoint directory.
class CheckpointTensors {
public:
  /// Opens `directory`/model.safetensors, or every shard named by
  /// `directory`/model.safetensors.index.json. The index must be an object
  /// with a "weight_map" object of plain file names; each tensor it lists
  /// must be in the shard it names and no tensor may be in two shards.
  static llvm::Expected<CheckpointTensors> open(llvm::StringRef directory);
  /// The index part of open() on data already in memory (tests, fuzzers):
  /// `indexText` is the text of the index file `index` (a path, for
  /// messages), and `openShard` is called once per shard the index names,
  /// in file name order, with that name (open() maps `directory`/<name>).
  /// Same rules and messages as open().
  static llvm::Expected<CheckpointTensors> fromIndex(
      llvm::StringRef directory, llvm::StringRef indexText,
      llvm::StringRef index,
      llvm::function_ref<llvm::Expected<SafetensorsFile>(llvm::StringRef)>
          openShard);

  CheckpointTensors(CheckpointTensors &&) = default;
  CheckpointTensors &operator=(CheckpointTensors &&) = default;

  /// nullptr if absent.
  const TensorView *find(llvm::StringRef name) const;
  /// Error "tensor 'x' is missing from checkpoint 'dir'" if absent.
  llvm::Expected<const TensorView &> get(llvm::StringRef name) const;
  /// The file holding `tensor` (which must come from this checkpoint).
  llvm::StringRef getFile(const TensorView &tensor) const;
  /// The same file, opened: for its metadata, or to drop the pages of a
  /// tensor once read (SafetensorsFile::dropResidentPages).
  const SafetensorsFile &getSafetensorsFile(const TensorView &tensor) const;
  /// Every file, in the order opened (shards in file name order).
  const std::vector<std::unique_ptr<SafetensorsFile>> &getFiles() const {
    return files;
  }
  /// Every tensor, by name.
  const std::map<std::string, const TensorView *> &getTensors() const {
    return byName;
  }
  llvm::StringRef getDirectory() const { return directory; }

private:
  CheckpointTensors() = default;
  llvm::Error addFile(llvm::Expected<SafetensorsFile> file);

  std::string directory;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, const TensorView *> byName;
  std::map<const TensorView *, size_t> fileIndex;
};

/// Parses the text of a JSON file of a checkpoint directory (the shard
/// index, config.json, trainer_state.json), named `path` in messages
/// ("'<path>' is not valid JSON: ..."). llvm::json parses recursively, so
/// text that nests deeper than 64 levels (real files nest a few) is refused
/// before it can overflow the stack.
llvm::Expected<llvm::json::Value> parseCheckpointJSON(llvm::StringRef text,
                                                      llvm::StringRef path);

/// `value` as an int64 when it is a number with an integer value that int64
/// holds (5, 5.0, 5e3), else nullopt. json::Value::getAsInteger also takes a
/// double of exactly 2^63, which it cannot convert (undefined behaviour).
std::optional<int64_t> getJSONInteger(const llvm::json::Value &value);

} // namespace qwha

#endif // QWHA_SUPPORT_CHECKPOINT_H
