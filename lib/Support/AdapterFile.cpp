//===- AdapterFile.cpp - Walsh-Hadamard adapter files ---------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/AdapterFile.h"
#include "qwha/Support/Safetensors.h"

#include <cmath>
#include <limits>

using namespace qwha;

static llvm::Error fileError(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError("adapter file '" + path + "': " + message);
}

llvm::Expected<AdapterFile> AdapterFile::load(llvm::StringRef path) {
  return read(SafetensorsFile::open(path));
}

llvm::Expected<AdapterFile>
AdapterFile::fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  return read(SafetensorsFile::fromBuffer(std::move(buffer)));
}

llvm::Expected<AdapterFile>
AdapterFile::read(llvm::Expected<SafetensorsFile> file) {
  if (!file)
    return file.takeError();
  llvm::StringRef path = file->getPath();
  std::map<std::string, const TensorView *> indices, values;
  for (const TensorView &tensor : file->getTensors()) {
    llvm::StringRef name = tensor.name;
    if (name.consume_back(".wha.indices"))
      indices[name.str()] = &tensor;
    else if (name.consume_back(".wha.values"))
      values[name.str()] = &tensor;
    else
      return fileError(path, "unexpected tensor '" + tensor.name +
                                 "' (expected <layer>.wha.indices and "
                                 "<layer>.wha.values)");
  }
  for (auto &[layer, tensor] : values)
    if (!indices.count(layer))
      return fileError(path, "layer '" + layer + "' has values but no '" +
                                 layer + ".wha.indices'");
  AdapterFile result;
  for (auto &[layer, index] : indices) {
    auto it = values.find(layer);
    if (it == values.end())
      return fileError(path, "layer '" + layer + "' has indices but no '" +
                                 layer + ".wha.values'");
    const TensorView &value = *it->second;
    if (index->dtype != DType::I32 || index->shape.size() != 1)
      return fileError(path, "'" + index->name +
                                 "' must be a 1-D I32 tensor, got " +
                                 getDTypeName(index->dtype) + " of rank " +
                                 llvm::Twine(index->shape.size()));
    if (!isFloatDType(value.dtype) || value.shape.size() != 1)
      return fileError(path, "'" + value.name +
                                 "' must be a 1-D float tensor, got " +
                                 getDTypeName(value.dtype) + " of rank " +
                                 llvm::Twine(value.shape.size()));
    if (index->shape[0] != value.shape[0])
      return fileError(path, "layer '" + layer + "' has " +
                                 llvm::Twine(index->shape[0]) +
                                 " indices but " + llvm::Twine(value.shape[0]) +
                                 " values");
    llvm::Expected<std::vector<int64_t>> flat = readInt64(*index);
    if (!flat)
      return flat.takeError();
    llvm::Expected<std::vector<float>> numbers = readFloat32(value);
    if (!numbers)
      return numbers.takeError();
    for (size_t i = 0; i < numbers->size(); ++i)
      if (!std::isfinite((*numbers)[i]))
        return fileError(path, "'" + value.name +
                                   "' has a non-finite value at index " +
                                   llvm::Twine(i));
    result.entries[layer] = Entry{std::move(*flat), std::move(*numbers)};
  }
  return result;
}

llvm::Error AdapterFile::save(llvm::StringRef path) const {
  SafetensorsWriter writer;
  for (const auto &[layer, entry] : entries) {
    std::vector<int32_t> indices(entry.indices.size());
    for (size_t i = 0; i < indices.size(); ++i) {
      if (entry.indices[i] < 0 ||
          entry.indices[i] > std::numeric_limits<int32_t>::max())
        return llvm::createStringError(
            "layer '" + layer + "': index " + std::to_string(entry.indices[i]) +
            " does not fit the adapter file's 32-bit indices");
      indices[i] = int32_t(entry.indices[i]);
    }
    int64_t count = int64_t(indices.size());
    if (llvm::Error err = writer.add(
            layer + ".wha.indices", DType::I32, {count},
            llvm::ArrayRef<char>(reinterpret_cast<const char *>(indices.data()),
                                 indices.size() * sizeof(int32_t))))
      return err;
    if (llvm::Error err = writer.add(
            layer + ".wha.values", DType::F32, {count},
            llvm::ArrayRef<char>(
                reinterpret_cast<const char *>(entry.values.data()),
                entry.values.size() * sizeof(float))))
      return err;
  }
  writer.setMetadata("format", "qwha-adapters");
  return writer.writeFile(path);
}

void AdapterFile::set(llvm::StringRef layer, Entry entry) {
  entries[layer.str()] = std::move(entry);
}

const AdapterFile::Entry *AdapterFile::find(llvm::StringRef layer) const {
  auto it = entries.find(layer.str());
  return it == entries.end() ? nullptr : &it->second;
}
