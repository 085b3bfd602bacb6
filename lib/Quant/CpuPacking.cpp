//===- CpuPacking.cpp - Weight layout of the CPU kernels ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/CpuPacking.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

using namespace qwha::quant;

llvm::Expected<CpuPackedWeight>
qwha::quant::packForCpu(const QuantizedWeightView &weight,
                        const CpuKernelLayout &layout) {
  if (llvm::Error err = validate(weight))
    return std::move(err);
  if (layout.bits != weight.bits)
    return llvm::createStringError(
        "layout is for " + std::to_string(layout.bits) +
        "-bit codes, the weight has " + std::to_string(weight.bits));
  if (layout.lanes <= 0 || layout.lanes > 64 ||
      (layout.lanes & (layout.lanes - 1)))
    return llvm::createStringError("lanes must be a power of two in [1, 64], "
                                   "got " +
                                   std::to_string(layout.lanes));

  const int64_t lanes = layout.lanes;
  const int64_t chunkColumns = layout.getChunkColumns();

  CpuPackedWeight packed;
  packed.layout = layout;
  packed.rows = weight.rows;
  packed.cols = weight.cols;
  packed.numGroups = weight.numGroups();
  packed.paddedRows = (weight.rows + lanes - 1) / lanes * lanes;

  std::vector<std::vector<int32_t>> groupColumns = collectGroupColumns(weight);
  size_t largestGroup = 0;
  for (const auto &columns : groupColumns)
    largestGroup = std::max(largestGroup, columns.size());
  packed.groupStride =
      (int64_t(largestGroup) + chunkColumns - 1) / chunkColumns * chunkColumns;

  const int64_t packedCols = packed.getPackedColumns();
  std::vector<int32_t> columnOf(packedCols, -1);
  bool identity = packedCols == weight.cols;
  for (int64_t g = 0; g < packed.numGroups; ++g)
    for (auto [i, k] : llvm::enumerate(groupColumns[g])) {
      int64_t j = g * packed.groupStride + int64_t(i);
      columnOf[j] = k;
      identity &= k == j;
    }
  if (!identity)
    packed.columnOf = std::move(columnOf);
  auto inputColumn = [&](int64_t j) -> int64_t {
    return packed.columnOf.empty() ? j : packed.columnOf[j];
  };

  const int64_t blocks = packed.paddedRows / lanes;
  const int64_t chunks = packedCols / chunkColumns;
  const int64_t chunkWords = layout.getChunkWords();
  packed.codes.assign(blocks * chunks * chunkWords, 0);
  for (int64_t block = 0; block < blocks; ++block)
    for (int64_t c = 0; c < chunks; ++c) {
      uint32_t *chunk = packed.codes.data() + (block * chunks + c) * chunkWords;
      for (int64_t i = 0; i < chunkColumns; ++i) {
        int64_t k = inputColumn(c * chunkColumns + i);
        if (k < 0)
          continue;
        for (int64_t j = 0; j < lanes; ++j) {
          int64_t n = block * lanes + j;
          if (n >= weight.rows)
            break;
          uint32_t code = weight.codes[n * weight.cols + k];
          if (layout.bits == 3) {
            chunk[(i / 16) * lanes + j] |= (code & 3) << (2 * (i % 16));
            chunk[2 * lanes + j] |= (code >> 2) << i;
          } else {
            chunk[j] |= code << (i * layout.bits);
          }
        }
      }
    }

  if (llvm::Error err = checkFiniteGroupParameters(weight))
    return std::move(err);

  // m(q) = 1 + q / 2^bits, so (q - zero) s = m(q) 2^bits s - (zero + 2^bits) s.
  const float range = float(1u << layout.bits);
  packed.scales.assign(packed.numGroups * packed.paddedRows, 0.0f);
  packed.offsets.assign(packed.numGroups * packed.paddedRows, 0.0f);
  for (int64_t n = 0; n < weight.rows; ++n)
    for (int64_t g = 0; g < packed.numGroups; ++g) {
      float scale = weight.scales[n * packed.numGroups + g];
      float zero = weight.zeros[n * packed.numGroups + g];
      packed.scales[g * packed.paddedRows + n] = range * scale;
      packed.offsets[g * packed.paddedRows + n] = -(zero + range) * scale;
    }
  return packed;
}

llvm::Expected<CpuPackedWeight>
qwha::quant::packFloatForCpu(int64_t rows, int64_t cols,
                             llvm::ArrayRef<float> weight, int64_t lanes) {
  if (lanes <= 0 || lanes > 64 || (lanes & (lanes - 1)))
    return llvm::createStringError("lanes must be a power of two in [1, 64], "
                                   "got " +
                                   std::to_string(lanes));
  if (llvm::Error err = validateFloatWeight(rows, cols, weight))
    return std::move(err);
  CpuPackedWeight packed;
  packed.layout = CpuKernelLayout{32, lanes};
  packed.rows = rows;
  packed.cols = cols;
  packed.numGroups = 1;
  packed.groupStride = cols;
  packed.paddedRows = (rows + lanes - 1) / lanes * lanes;
  const int64_t blocks = packed.paddedRows / lanes;
  packed.codes.assign(blocks * cols * lanes, 0);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      float value = weight[n * cols + k];
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      packed.codes[(n / lanes * cols + k) * lanes + n % lanes] = bits;
    }
  packed.scales.assign(packed.paddedRows, 0.0f);
  std::fill(packed.scales.begin(), packed.scales.begin() + rows, 1.0f);
  packed.offsets.assign(packed.paddedRows, 0.0f);
  return packed;
}
