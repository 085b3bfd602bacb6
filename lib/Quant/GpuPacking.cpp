//===- GpuPacking.cpp - Weight layout of the GPU kernels ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/GpuPacking.h"

#include "llvm/ADT/STLExtras.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

using namespace qwha::quant;

static int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// Sizes the planes and the column map: packed column j of group g is
/// g * groupStride + i for the group's i-th input column.
static void layOutColumns(GpuPackedWeight &packed,
                          llvm::ArrayRef<std::vector<int32_t>> groupColumns) {
  const int64_t used = int64_t(groupColumns.size()) * packed.groupStride;
  packed.packedCols = roundUp(used, packed.getStepColumns());
  packed.numGroups =
      (packed.packedCols + packed.groupStride - 1) / packed.groupStride;
  std::vector<int32_t> columnOf(packed.packedCols, -1);
  bool identity = packed.packedCols == packed.cols;
  for (auto [g, columns] : llvm::enumerate(groupColumns))
    for (auto [i, k] : llvm::enumerate(columns)) {
      int64_t j = int64_t(g) * packed.groupStride + int64_t(i);
      columnOf[j] = k;
      identity &= k == j;
    }
  if (!identity)
    packed.columnOf = std::move(columnOf);
  packed.planes.clear();
  for (unsigned p = 0; p < packed.getNumPlanes(); ++p)
    packed.planes.emplace_back(packed.rows * packed.getPlaneWords(p), 0u);
}

llvm::Expected<GpuPackedWeight>
qwha::quant::packForGpu(const QuantizedWeightView &weight) {
  if (llvm::Error err = validate(weight))
    return std::move(err);
  if (llvm::Error err = checkFiniteGroupParameters(weight))
    return std::move(err);
  const int64_t groups = weight.numGroups();

  GpuPackedWeight packed;
  packed.bits = weight.bits;
  packed.rows = weight.rows;
  packed.cols = weight.cols;

  std::vector<std::vector<int32_t>> groupColumns = collectGroupColumns(weight);
  size_t largest = 0;
  for (const auto &columns : groupColumns)
    largest = std::max(largest, columns.size());
  packed.groupStride = roundUp(int64_t(largest), 32);
  layOutColumns(packed, groupColumns);

  auto inputColumn = [&](int64_t j) -> int64_t {
    return packed.columnOf.empty() ? j : packed.columnOf[j];
  };
  const int64_t words0 = packed.getPlaneWords(0);
  for (int64_t n = 0; n < packed.rows; ++n) {
    uint32_t *low = packed.planes[0].data() + n * words0;
    uint32_t *high = packed.bits == 3
                         ? packed.planes[1].data() + n * packed.getPlaneWords(1)
                         : nullptr;
    for (int64_t j = 0; j < packed.packedCols; ++j) {
      int64_t k = inputColumn(j);
      if (k < 0)
        continue;
      uint32_t code = weight.codes[n * weight.cols + k];
      if (packed.bits == 3) {
        low[j / 16] |= (code & 3u) << (2 * (j % 16));
        high[j / 32] |= (code >> 2) << (j % 32);
      } else {
        const int64_t perWord = 32 / packed.bits;
        low[j / perWord] |= code << (packed.bits * (j % perWord));
      }
    }
  }

  // m(q) = 1 + q / 2^bits, so (q - zero) s = m(q) 2^bits s - (zero + 2^bits) s.
  const float range = float(1u << packed.bits);
  packed.scales.assign(packed.rows * packed.numGroups, 0.0f);
  packed.offsets.assign(packed.rows * packed.numGroups, 0.0f);
  for (int64_t n = 0; n < packed.rows; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      float scale = weight.scales[n * groups + g];
      float zero = weight.zeros[n * groups + g];
      packed.scales[n * packed.numGroups + g] = range * scale;
      packed.offsets[n * packed.numGroups + g] = -(zero + range) * scale;
    }
  return packed;
}

llvm::Expected<GpuPackedWeight>
qwha::quant::packFloatForGpu(int64_t rows, int64_t cols,
                             llvm::ArrayRef<float> weight) {
  if (llvm::Error err = validateFloatWeight(rows, cols, weight))
    return std::move(err);
  GpuPackedWeight packed;
  packed.bits = 32;
  packed.rows = rows;
  packed.cols = cols;
  packed.groupStride = roundUp(cols, packed.getStepColumns());
  std::vector<std::vector<int32_t>> columns(1);
  columns[0].resize(cols);
  std::iota(columns[0].begin(), columns[0].end(), 0);
  layOutColumns(packed, columns);
  const int64_t words = packed.getPlaneWords(0);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      float value = weight[n * cols + k];
      std::memcpy(&packed.planes[0][n * words + k], &value, sizeof(value));
    }
  return packed;
}

uint32_t qwha::quant::getMantissaBits(const GpuPackedWeight &packed,
                                      int64_t row, int64_t column) {
  assert(!packed.isFloat() && "float weights are stored as their bits");
  const unsigned top = 23 - packed.bits;
  const uint32_t *low =
      packed.planes[0].data() + row * packed.getPlaneWords(0);
  uint32_t field;
  if (packed.bits == 3) {
    const uint32_t *high =
        packed.planes[1].data() + row * packed.getPlaneWords(1);
    field = getBitFieldMove(2 * (column % 16), 2, top).apply(low[column / 16]) |
            getBitFieldMove(column % 32, 1, top + 2).apply(high[column / 32]);
  } else {
    const int64_t perWord = 32 / packed.bits;
    field = getBitFieldMove(packed.bits * (column % perWord), packed.bits, top)
                .apply(low[column / perWord]);
  }
  return 0x3F800000u | field;
}

std::vector<float> qwha::quant::unpackGpuWeight(const GpuPackedWeight &packed) {
  std::vector<float> weight(packed.rows * packed.cols, 0.0f);
  for (int64_t n = 0; n < packed.rows; ++n)
    for (int64_t j = 0; j < packed.packedCols; ++j) {
      int64_t k = packed.columnOf.empty() ? j : packed.columnOf[j];
      if (k < 0)
        continue;
      const uint32_t *low =
          packed.planes[0].data() + n * packed.getPlaneWords(0);
      float value;
      if (packed.isFloat()) {
        std::memcpy(&value, &low[j], sizeof(value));
      } else {
        uint32_t mantissa = getMantissaBits(packed, n, j);
        float m;
        std::memcpy(&m, &mantissa, sizeof(m));
        int64_t g = j / packed.groupStride;
        value = m * packed.scales[n * packed.numGroups + g] +
                packed.offsets[n * packed.numGroups + g];
      }
      weight[n * packed.cols + k] = value;
    }
  return weight;
}
