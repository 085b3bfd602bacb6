//===- AdapterFile.h - Walsh-Hadamard adapter files -------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The adapter file of DESIGN.md: a safetensors file with, per layer,
// `<layer>.wha.indices` (I32 [nnz], flat row * in + col) and
// `<layer>.wha.values` (F32, F16 or BF16 [nnz]). Shapes are the layers':
// indices are checked against them when the adapters are applied.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_ADAPTERFILE_H
#define QWHA_SUPPORT_ADAPTERFILE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qwha {

class SafetensorsFile;

class AdapterFile {
public:
  struct Entry {
    std::vector<int64_t> indices;
    std::vector<float> values;
  };

  /// Reads and validates: both tensors per layer, 1-D, I32 indices, float
  /// values of the same length, finite values, no other tensors. Errors
  /// name the file and the tensor.
  static llvm::Expected<AdapterFile> load(llvm::StringRef path);
  /// The same for a file already in memory (tests, fuzzers); messages use
  /// the buffer's identifier as the file name.
  static llvm::Expected<AdapterFile>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// Writes atomically, values as F32, tensors in name order.
  llvm::Error save(llvm::StringRef path) const;

  void set(llvm::StringRef layer, Entry entry);
  const Entry *find(llvm::StringRef layer) const;
  const std::map<std::string, Entry> &getEntries() const { return entries; }

private:
  static llvm::Expected<AdapterFile> read(llvm::Expected<SafetensorsFile> file);

  std::map<std::string, Entry> entries;
};

} // namespace qwha

#endif // QWHA_SUPPORT_ADAPTERFILE_H
