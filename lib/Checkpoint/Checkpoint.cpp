//===- Checkpoint.cpp - Model checkpoints as training saves them ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Checkpoint/Checkpoint.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Errc.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace qwha;

static Error makeError(const Twine &message) {
  return createStringError(errc::invalid_argument, message);
}

static std::string joinPath(StringRef directory, StringRef name) {
  SmallString<256> path(directory);
  sys::path::append(path, name);
  return std::string(path);
}

Expected<Checkpoint> Checkpoint::open(StringRef path) {
  Checkpoint result;
  result.path = path.str();
  sys::fs::file_status status;
  if (std::error_code ec = sys::fs::status(path, status))
    return createStringError(ec, "cannot open checkpoint '%s': %s",
                             path.str().c_str(), ec.message().c_str());

  if (!sys::fs::is_directory(status)) {
    Expected<SafetensorsFile> file = SafetensorsFile::open(path);
    if (!file)
      return file.takeError();
    result.single = std::make_unique<SafetensorsFile>(std::move(*file));
    std::string name = sys::path::filename(path).str();
    for (const TensorView &view : result.single->getTensors())
      result.tensors[view.name] =
          CheckpointEntry{&view, result.single.get(), name};
    return std::move(result);
  }

  Expected<CheckpointTensors> opened = CheckpointTensors::open(path);
  if (!opened)
    return opened.takeError();
  result.directory.emplace(std::move(*opened));
  // CheckpointTensors reads the index whenever there is one.
  result.sharded =
      sys::fs::exists(joinPath(path, "model.safetensors.index.json"));
  for (const auto &[name, view] : result.directory->getTensors()) {
    const SafetensorsFile &file = result.directory->getSafetensorsFile(*view);
    result.tensors[name] =
        CheckpointEntry{view, &file, sys::path::filename(file.getPath()).str()};
  }
  return std::move(result);
}

const CheckpointEntry *Checkpoint::find(StringRef name) const {
  auto it = tensors.find(name.str());
  return it == tensors.end() ? nullptr : &it->second;
}

const std::map<std::string, std::string> &Checkpoint::getMetadata() const {
  static const std::map<std::string, std::string> none;
  if (single)
    return single->getMetadata();
  // CheckpointTensors opens shards in file name order.
  return directory->getFiles().empty()
             ? none
             : directory->getFiles().front()->getMetadata();
}

bool qwha::isWeightOrStateFile(StringRef name) {
  static constexpr StringLiteral extensions[] = {
      ".safetensors", ".index.json", ".bin", ".pt",   ".pth", ".ckpt",
      ".h5",          ".msgpack",    ".npz", ".gguf", ".onnx"};
  for (StringRef extension : extensions)
    if (name.ends_with_insensitive(extension))
      return true;
  return name == "trainer_state.json" || name == "latest" ||
         name == "zero_to_fp32.py";
}

Expected<std::vector<std::string>> Checkpoint::listModelFiles() const {
  std::vector<std::string> names;
  if (!isDirectory())
    return names;
  std::error_code ec;
  for (sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
       it.increment(ec)) {
    StringRef name = sys::path::filename(it->path());
    if (name.starts_with(".") || isWeightOrStateFile(name))
      continue;
    // status() follows links, so a linked tokenizer file is copied as one.
    sys::fs::file_status status;
    if (std::error_code statusError = sys::fs::status(it->path(), status))
      return createStringError(statusError, "cannot read '%s': %s",
                               it->path().c_str(),
                               statusError.message().c_str());
    if (sys::fs::is_regular_file(status))
      names.push_back(name.str());
  }
  if (ec)
    return createStringError(ec, "cannot list '%s': %s", path.c_str(),
                             ec.message().c_str());
  llvm::sort(names);
  return names;
}

Expected<int64_t> qwha::findTrainingStep(StringRef path) {
  StringRef name = path;
  while (name.size() > 1 && sys::path::is_separator(name.back()))
    name = name.drop_back();
  name = sys::path::filename(name);
  name.consume_back(".safetensors");
  size_t lastNonDigit = name.find_last_not_of("0123456789");
  StringRef digits = lastNonDigit == StringRef::npos
                         ? name
                         : name.drop_front(lastNonDigit + 1);
  int64_t step;
  if (!digits.empty()) {
    if (digits.getAsInteger(10, step))
      return makeError("the step number in the name of '" + path +
                       "' is too large");
    return step;
  }

  std::string state = joinPath(path, "trainer_state.json");
  if (sys::fs::is_directory(path) && sys::fs::exists(state)) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
        MemoryBuffer::getFile(state);
    if (!buffer)
      return createStringError(buffer.getError(), "cannot read '%s': %s",
                               state.c_str(),
                               buffer.getError().message().c_str());
    return parseTrainerState((*buffer)->getBuffer(), state);
  }
  return makeError("cannot tell the training step of '" + path +
                   "': its name does not end in a number (as in "
                   "checkpoint-1200 or step_1200) and it has no "
                   "trainer_state.json with a global_step");
}

Expected<int64_t> qwha::parseTrainerState(StringRef text, StringRef path) {
  Expected<json::Value> json = parseCheckpointJSON(text, path);
  if (!json)
    return json.takeError();
  std::optional<int64_t> globalStep;
  if (const json::Object *object = json->getAsObject())
    if (const json::Value *value = object->get("global_step"))
      globalStep = getJSONInteger(*value);
  if (!globalStep || *globalStep < 0)
    return makeError("'" + path +
                     "' has no non-negative integer 'global_step'");
  return *globalStep;
}
