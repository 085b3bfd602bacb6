//===- SafetensorsFuzzer.cpp - Fuzz the safetensors reader ----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: a safetensors file. A file the reader accepts must have views
// inside the input, element counts that match their bytes, readable
// elements, and must survive a write and read back unchanged whenever the
// writer accepts its tensors.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Support/Safetensors.h"

#include <cstring>
#include <string>

using namespace qwha;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<SafetensorsFile> file =
      SafetensorsFile::fromBuffer(fuzz::wrap(data, size, "fuzz.safetensors"));
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }

  const char *begin = reinterpret_cast<const char *>(data);
  SafetensorsWriter writer;
  bool writable = true;
  for (const TensorView &tensor : file->getTensors()) {
    QWHA_FUZZ_CHECK(file->find(tensor.name) == &tensor,
                    "find() does not return the tensor by its name");
    QWHA_FUZZ_CHECK(
        tensor.data.empty() ||
            (tensor.data.data() >= begin &&
             tensor.data.data() + tensor.data.size() <= begin + size),
        "view outside the input");
    QWHA_FUZZ_CHECK(uint64_t(tensor.getNumElements()) *
                            getDTypeSize(tensor.dtype) ==
                        tensor.data.size(),
                    "element count does not match the view's bytes");
    if (isFloatDType(tensor.dtype)) {
      llvm::Expected<std::vector<float>> values = readFloat32(tensor);
      QWHA_FUZZ_CHECK(bool(values), "float tensor of a valid file unreadable");
      QWHA_FUZZ_CHECK(values->size() == size_t(tensor.getNumElements()),
                      "read another number of elements than the shape has");
    } else {
      llvm::Expected<std::vector<int64_t>> values = readInt64(tensor);
      if (values) {
        QWHA_FUZZ_CHECK(values->size() == size_t(tensor.getNumElements()),
                        "read another number of elements than the shape has");
      } else {
        // BOOL bytes other than 0 and 1 are the one error left to
        // readInt64 once the file is valid.
        QWHA_FUZZ_CHECK(tensor.dtype == DType::Bool,
                        "integer tensor of a valid file unreadable");
        llvm::consumeError(values.takeError());
      }
    }
    if (llvm::Error error =
            writer.add(tensor.name, tensor.dtype, tensor.shape, tensor.data)) {
      // The writer is stricter than the reader (empty names); nothing to
      // compare then.
      llvm::consumeError(std::move(error));
      writable = false;
    }
  }
  if (!writable)
    return 0;
  for (const auto &[key, value] : file->getMetadata())
    writer.setMetadata(key, value);

  std::string bytes;
  llvm::raw_string_ostream os(bytes);
  if (llvm::Error error = writer.write(os)) {
    llvm::consumeError(std::move(error));
    return 0;
  }
  llvm::Expected<SafetensorsFile> again = SafetensorsFile::fromBuffer(
      llvm::MemoryBuffer::getMemBuffer(bytes, "rewritten.safetensors",
                                       /*RequiresNullTerminator=*/false));
  QWHA_FUZZ_CHECK(bool(again), "the writer's output does not read back");
  QWHA_FUZZ_CHECK(again->getTensors().size() == file->getTensors().size(),
                  "tensor count changed in a write and read back");
  QWHA_FUZZ_CHECK(again->getMetadata() == file->getMetadata(),
                  "metadata changed in a write and read back");
  for (const TensorView &tensor : file->getTensors()) {
    const TensorView *copy = again->find(tensor.name);
    QWHA_FUZZ_CHECK(copy, "tensor lost in a write and read back");
    QWHA_FUZZ_CHECK(copy->dtype == tensor.dtype && copy->shape == tensor.shape,
                    "dtype or shape changed in a write and read back");
    QWHA_FUZZ_CHECK(copy->data.size() == tensor.data.size() &&
                        (tensor.data.empty() ||
                         std::memcmp(copy->data.data(), tensor.data.data(),
                                     tensor.data.size()) == 0),
                    "bytes changed in a write and read back");
  }
  return 0;
}
