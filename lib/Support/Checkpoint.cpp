//===- Checkpoint.cpp - Tensors of a Hugging Face checkpoint --------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/Checkpoint.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <set>

using namespace qwha;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(message.str());
}

llvm::Expected<CheckpointTensors>
CheckpointTensors::open(llvm::StringRef directory) {
  CheckpointTensors checkpoint;
  checkpoint.directory = directory.str();
  if (!llvm::sys::fs::is_directory(directory))
    return makeError("checkpoint '" + directory + "' is not a directory");
  llvm::SmallString<256> index(directory);
  llvm::sys::path::append(index, "model.safetensors.index.json");
  if (!llvm::sys::fs::exists(index)) {
    llvm::SmallString<256> single(directory);
    llvm::sys::path::append(single, "model.safetensors");
    if (!llvm::sys::fs::exists(single))
      return makeError("checkpoint '" + directory +
                       "' has neither model.safetensors nor "
                       "model.safetensors.index.json");
    if (llvm::Error err = checkpoint.openFile(single))
      return std::move(err);
    return std::move(checkpoint);
  }

  auto buffer = llvm::MemoryBuffer::getFile(index);
  if (!buffer)
    return makeError("cannot read '" + index +
                     "': " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return makeError("'" + index +
                     "' is not valid JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *map =
      json->getAsObject() ? json->getAsObject()->getObject("weight_map")
                          : nullptr;
  if (!map)
    return makeError("'" + index + "' has no 'weight_map' object");
  std::map<std::string, std::string> shardOf;
  std::set<std::string> shards;
  for (const auto &entry : *map) {
    std::optional<llvm::StringRef> file = entry.second.getAsString();
    if (!file || file->empty() || llvm::sys::path::has_parent_path(*file) ||
        *file == "." || *file == "..")
      return makeError("'" + index + "': tensor '" + entry.first.str() +
                       "' maps to an invalid shard name");
    shardOf[entry.first.str()] = file->str();
    shards.insert(file->str());
  }
  for (const std::string &shard : shards) {
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, shard);
    if (llvm::Error err = checkpoint.openFile(path))
      return std::move(err);
  }
  // The index is how other readers find tensors: it must not lie.
  for (const auto &[name, shard] : shardOf) {
    const TensorView *tensor = checkpoint.find(name);
    if (!tensor)
      return makeError("'" + index + "' lists tensor '" + name + "' in '" +
                       shard + "', which does not hold it");
    llvm::StringRef file =
        llvm::sys::path::filename(checkpoint.getFile(*tensor));
    if (file != shard)
      return makeError("'" + index + "' lists tensor '" + name + "' in '" +
                       shard + "', but it is in '" + file + "'");
  }
  for (const auto &[name, tensor] : checkpoint.byName)
    if (!shardOf.count(name))
      return makeError("tensor '" + name + "' of '" +
                       checkpoint.getFile(*tensor) + "' is not listed in '" +
                       index + "'");
  return std::move(checkpoint);
}

llvm::Error CheckpointTensors::openFile(llvm::StringRef path) {
  llvm::Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file)
    return file.takeError();
  files.push_back(std::make_unique<SafetensorsFile>(std::move(*file)));
  for (const TensorView &tensor : files.back()->getTensors()) {
    auto [it, inserted] = byName.emplace(tensor.name, &tensor);
    if (!inserted)
      return makeError("tensor '" + tensor.name + "' is in both '" +
                       getFile(*it->second) + "' and '" + path + "'");
    fileIndex[&tensor] = files.size() - 1;
  }
  return llvm::Error::success();
}

const TensorView *CheckpointTensors::find(llvm::StringRef name) const {
  auto it = byName.find(name.str());
  return it == byName.end() ? nullptr : it->second;
}

llvm::Expected<const TensorView &>
CheckpointTensors::get(llvm::StringRef name) const {
  if (const TensorView *tensor = find(name))
    return *tensor;
  return makeError("tensor '" + name + "' is missing from checkpoint '" +
                   directory + "'");
}

llvm::StringRef CheckpointTensors::getFile(const TensorView &tensor) const {
  return files[fileIndex.at(&tensor)]->getPath();
}

const SafetensorsFile &
CheckpointTensors::getSafetensorsFile(const TensorView &tensor) const {
  return *files[fileIndex.at(&tensor)];
}
