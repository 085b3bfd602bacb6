//===- CalibrationStore.h - Per-layer calibration statistics ----*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The calibration file of DESIGN.md: a safetensors file with, per layer,
// `<layer>.hessian` (F32 [K, K], H = (2/N) sum x x^T) and `<layer>.nsamples`
// (I64 scalar N, the number of input rows).
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_CALIBRATIONSTORE_H
#define QWHA_SUPPORT_CALIBRATIONSTORE_H

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

class CalibrationStore {
public:
  struct Entry {
    int64_t features = 0;
    int64_t samples = 0;
    /// features x features, row-major, symmetric.
    std::vector<float> hessian;
  };

  /// Reads and validates a calibration file: every layer has both tensors
  /// with the right dtypes and shapes, at least one sample, finite values;
  /// no other tensors. Errors name the file and the tensor.
  static llvm::Expected<CalibrationStore> load(llvm::StringRef path);
  /// The same for a file already in memory (tests, fuzzers); messages and
  /// getPath() use the buffer's identifier as the file name.
  static llvm::Expected<CalibrationStore>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// Writes the file atomically (tensors in name order: deterministic).
  llvm::Error save(llvm::StringRef path) const;

  void set(llvm::StringRef layer, Entry entry);
  /// nullptr if the layer has no statistics.
  const Entry *find(llvm::StringRef layer) const;
  const std::map<std::string, Entry> &getEntries() const { return entries; }
  /// The file this store was loaded from (empty if built in memory).
  llvm::StringRef getPath() const { return path; }

private:
  static llvm::Expected<CalibrationStore>
  read(llvm::Expected<SafetensorsFile> file);

  std::map<std::string, Entry> entries;
  std::string path;
};

} // namespace qwha

#endif // QWHA_SUPPORT_CALIBRATIONSTORE_H
