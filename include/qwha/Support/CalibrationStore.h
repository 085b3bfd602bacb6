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
// A store loaded from a file keeps the file mapped and its Hessians are views
// into it, not copies: a model's statistics can be larger than memory (a
// 7B-parameter Llama has ~25 GiB of them) while a pass needs one layer's at a
// time. dropResidentPages() hands a layer's pages back once it is done.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_CALIBRATIONSTORE_H
#define QWHA_SUPPORT_CALIBRATIONSTORE_H

#include "llvm/ADT/ArrayRef.h"
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
    /// features x features, row-major, symmetric; owned by the store (in
    /// its file's mapping, or in memory for set() and for files whose
    /// tensor is not aligned for floats).
    llvm::ArrayRef<float> hessian;
  };

  CalibrationStore();
  CalibrationStore(CalibrationStore &&);
  CalibrationStore &operator=(CalibrationStore &&);
  // Entries point into the store's own storage: copying would alias it.
  CalibrationStore(const CalibrationStore &) = delete;
  CalibrationStore &operator=(const CalibrationStore &) = delete;
  ~CalibrationStore();

  /// Maps and validates a calibration file: every layer has both tensors
  /// with the right dtypes and shapes, at least one sample, finite values;
  /// no other tensors. Errors name the file and the tensor. The Hessians
  /// stay in the mapping (validation reads each once and drops its pages).
  static llvm::Expected<CalibrationStore> load(llvm::StringRef path);
  /// The same for a file already in memory (tests, fuzzers); messages and
  /// getPath() use the buffer's identifier as the file name.
  static llvm::Expected<CalibrationStore>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// Writes the file atomically (tensors in name order: deterministic).
  llvm::Error save(llvm::StringRef path) const;

  /// Adds or replaces a layer's statistics (`hessian` is features^2 values).
  void set(llvm::StringRef layer, int64_t features, int64_t samples,
           std::vector<float> hessian);
  /// Says that `layer`'s Hessian will not be read again soon: its pages of
  /// the mapped file stop counting towards the process's memory (see
  /// SafetensorsFile::dropResidentPages). No-op for statistics in memory.
  void dropResidentPages(llvm::StringRef layer) const;
  /// nullptr if the layer has no statistics.
  const Entry *find(llvm::StringRef layer) const;
  const std::map<std::string, Entry> &getEntries() const { return entries; }
  /// The file this store was loaded from (empty if built in memory).
  llvm::StringRef getPath() const { return path; }

private:
  static llvm::Expected<CalibrationStore>
  read(llvm::Expected<SafetensorsFile> file);

  std::map<std::string, Entry> entries;
  /// Hessians that live in memory, by layer.
  std::map<std::string, std::vector<float>> owned;
  /// The mapped file the other Hessians are views of.
  std::unique_ptr<SafetensorsFile> file;
  std::string path;
};

} // namespace qwha

#endif // QWHA_SUPPORT_CALIBRATIONSTORE_H
