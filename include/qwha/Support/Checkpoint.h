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
// name the file when a tensor is wrong.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_CHECKPOINT_H
#define QWHA_SUPPORT_CHECKPOINT_H

#include "qwha/Support/Safetensors.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <memory>
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
  llvm::Error openFile(llvm::StringRef path);

  std::string directory;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, const TensorView *> byName;
  std::map<const TensorView *, size_t> fileIndex;
};

} // namespace qwha

#endif // QWHA_SUPPORT_CHECKPOINT_H
