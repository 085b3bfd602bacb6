//===- CheckpointIndexFuzzer.cpp - Fuzz the sharded checkpoint index ------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: the text of model.safetensors.index.json, a NUL byte, then the
// shards' safetensors bytes, separated by the four bytes "\n--\n" (which no
// valid safetensors header holds). CheckpointTensors::fromIndex asks for
// the shards the index names in name order; the n-th one asked for gets the
// n-th piece, and one past the pieces does not exist. An accepted index
// must agree with its shards, which is what the importer and
// qwha-load-gptq rely on when they look a tensor up by name: every tensor
// of the weight map is in the shard the map names and nowhere else, every
// tensor of a shard is in the map, shard names are plain file names, and
// the views lie inside their shard's bytes.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Support/Checkpoint.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/JSON.h"

#include <cstring>
#include <string>
#include <vector>

using namespace qwha;

static constexpr llvm::StringLiteral kSeparator = "\n--\n";
static constexpr llvm::StringLiteral kDirectory = "fuzz-checkpoint";

static std::string shardPath(llvm::StringRef shard) {
  return (kDirectory + "/" + shard).str();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const auto *split = static_cast<const uint8_t *>(std::memchr(data, 0, size));
  if (!split)
    return 0;
  llvm::StringRef indexText(reinterpret_cast<const char *>(data), split - data);
  llvm::StringRef rest(reinterpret_cast<const char *>(split + 1),
                       size - indexText.size() - 1);
  llvm::SmallVector<llvm::StringRef> pieces;
  rest.split(pieces, kSeparator);
  // Each shard in an allocation of its own size, so that AddressSanitizer
  // sees a read past its end rather than the next shard's bytes.
  std::vector<std::unique_ptr<char[]>> copies;
  for (llvm::StringRef piece : pieces) {
    copies.push_back(std::make_unique<char[]>(piece.size()));
    std::memcpy(copies.back().get(), piece.data(), piece.size());
  }

  std::vector<std::string> asked;
  auto openShard =
      [&](llvm::StringRef shard) -> llvm::Expected<SafetensorsFile> {
    size_t i = asked.size();
    asked.push_back(shard.str());
    if (i >= pieces.size())
      return llvm::createStringError("cannot open '" + shardPath(shard) +
                                     "': No such file or directory");
    return SafetensorsFile::fromBuffer(
        fuzz::wrap(reinterpret_cast<const uint8_t *>(copies[i].get()),
                   pieces[i].size(), shardPath(shard).c_str()));
  };
  llvm::Expected<CheckpointTensors> checkpoint = CheckpointTensors::fromIndex(
      kDirectory, indexText, shardPath("model.safetensors.index.json"),
      openShard);
  if (!checkpoint) {
    llvm::consumeError(checkpoint.takeError());
    return 0;
  }

  // Shards: plain file names, each asked for once, in name order.
  for (size_t i = 0; i < asked.size(); ++i) {
    llvm::StringRef name = asked[i];
    QWHA_FUZZ_CHECK(!name.empty() && name != "." && name != ".." &&
                        !name.contains('/') && !name.contains('\0'),
                    "accepted a shard name that is not a plain file name");
    QWHA_FUZZ_CHECK(i == 0 || asked[i - 1] < asked[i],
                    "shards not opened once each in name order");
  }
  const auto &files = checkpoint->getFiles();
  QWHA_FUZZ_CHECK(files.size() == asked.size(),
                  "a shard was opened but not kept, or the reverse");
  size_t shardTensors = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    QWHA_FUZZ_CHECK(files[i]->getPath() == shardPath(asked[i]),
                    "files not in the order they were opened");
    for (const TensorView &view : files[i]->getTensors()) {
      QWHA_FUZZ_CHECK(view.data.empty() ||
                          (view.data.data() >= copies[i].get() &&
                           view.data.data() + view.data.size() <=
                               copies[i].get() + pieces[i].size()),
                      "a view outside its shard's bytes");
      QWHA_FUZZ_CHECK(checkpoint->find(view.name) == &view,
                      "a shard's tensor is not found, or found elsewhere");
    }
    shardTensors += files[i]->getTensors().size();
  }
  QWHA_FUZZ_CHECK(shardTensors == checkpoint->getTensors().size(),
                  "a tensor is in two shards");

  // The index, read again on its own, says where each tensor is.
  llvm::Expected<llvm::json::Value> index = llvm::json::parse(indexText);
  QWHA_FUZZ_CHECK(bool(index), "accepted an index that is not JSON");
  const llvm::json::Object *map =
      index->getAsObject() ? index->getAsObject()->getObject("weight_map")
                           : nullptr;
  QWHA_FUZZ_CHECK(map, "accepted an index without a weight_map object");
  QWHA_FUZZ_CHECK(map->size() == checkpoint->getTensors().size(),
                  "the weight map and the shards list different tensors");
  for (const auto &[name, shard] : *map) {
    const TensorView *view = checkpoint->find(name);
    QWHA_FUZZ_CHECK(view && view->name == llvm::StringRef(name),
                    "a tensor of the weight map is missing");
    QWHA_FUZZ_CHECK(shard.getAsString() &&
                        checkpoint->getFile(*view) ==
                            shardPath(*shard.getAsString()),
                    "a tensor is not in the shard the weight map names");
    const SafetensorsFile &file = checkpoint->getSafetensorsFile(*view);
    QWHA_FUZZ_CHECK(file.find(name) == view,
                    "getSafetensorsFile() names another file");
    llvm::Expected<const TensorView &> got = checkpoint->get(name);
    QWHA_FUZZ_CHECK(got && &*got == view, "get() disagrees with find()");
  }
  return 0;
}
