//===- AdapterFileFuzzer.cpp - Fuzz the adapter file reader ---------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: an adapter file (safetensors with <layer>.wha.indices and
// <layer>.wha.values). An accepted file must have as many finite values as
// indices per layer; each layer then goes through the conversion to CSR
// that qwha-load-adapters applies, for two layer shapes: one its indices
// fit and one most of them do not.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Quant/Adapter.h"
#include "qwha/Support/AdapterFile.h"

#include <algorithm>
#include <cmath>

using namespace qwha;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<AdapterFile> file = AdapterFile::fromBuffer(
      fuzz::wrap(data, size, "fuzz-adapters.safetensors"));
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  for (const auto &[layer, entry] : file->getEntries()) {
    QWHA_FUZZ_CHECK(file->find(layer) == &entry, "find() disagrees");
    QWHA_FUZZ_CHECK(entry.indices.size() == entry.values.size(),
                    "indices and values differ in length");
    for (float value : entry.values)
      QWHA_FUZZ_CHECK(std::isfinite(value), "accepted a non-finite value");

    // Rows capped so that a large index does not make every run allocate
    // a large CSR offset array.
    int64_t largest = 0;
    for (int64_t index : entry.indices)
      largest = std::max(largest, index);
    int64_t fitRows = std::min<int64_t>(largest / 64 + 1, 1 << 14);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{fitRows, 64},
                              std::pair<int64_t, int64_t>{4, 8}}) {
      llvm::Expected<quant::SparseMatrix> matrix =
          quant::SparseMatrix::fromFlat(rows, cols, entry.indices,
                                        entry.values);
      if (!matrix) {
        llvm::consumeError(matrix.takeError());
        continue;
      }
      QWHA_FUZZ_CHECK(matrix->rowOffsets.size() == size_t(rows + 1) &&
                          matrix->rowOffsets.front() == 0 &&
                          size_t(matrix->rowOffsets.back()) ==
                              entry.indices.size(),
                      "CSR row offsets do not cover the entries");
      QWHA_FUZZ_CHECK(matrix->getFlatIndices().size() == entry.indices.size(),
                      "CSR lost entries");
    }
  }
  return 0;
}
