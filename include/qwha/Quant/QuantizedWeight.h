//===- QuantizedWeight.h - Group-quantized weights --------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The numeric meaning of a group-quantized weight, shared by the constant
// folder, the tools and the tests:
//
//   W[n, k] = (codes[n, k] - zeros[n, g(k)]) * scales[n, g(k)]
//   g(k)    = gIdx[k] if a group index is given, else k / groupSize
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_QUANTIZEDWEIGHT_H
#define QWHA_QUANT_QUANTIZEDWEIGHT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qwha::quant {

/// A read-only view of a quantized weight of `rows` x `cols` codes, stored
/// row-major and unpacked (one code per byte).
struct QuantizedWeightView {
  int64_t rows = 0;
  int64_t cols = 0;
  /// Columns per group; `cols` for a per-channel grid.
  int64_t groupSize = 0;
  unsigned bits = 0;
  llvm::ArrayRef<uint8_t> codes;  ///< rows * cols
  llvm::ArrayRef<float> scales;   ///< rows * numGroups()
  llvm::ArrayRef<float> zeros;    ///< rows * numGroups()
  llvm::ArrayRef<int32_t> gIdx;   ///< empty, or cols entries in [0, G)

  int64_t numGroups() const { return groupSize ? cols / groupSize : 0; }
};

/// Checks sizes, group size, code range and the group index; the message
/// names the first thing that is wrong.
llvm::Error validate(const QuantizedWeightView &weight);

/// The error naming the first non-finite scale or zero point of `weight`
/// (which would turn every output of its row into NaN), or success. The
/// kernel packers check this at compile time.
llvm::Error checkFiniteGroupParameters(const QuantizedWeightView &weight);

/// Checks a float weight of `rows` x `cols` (row-major), as the kernel
/// packers take for float layers: a positive shape, as many values, all
/// finite. The message names the size or the first non-finite element.
llvm::Error validateFloatWeight(int64_t rows, int64_t cols,
                                llvm::ArrayRef<float> weight);

/// The input columns of each group, in increasing order: contiguous runs of
/// groupSize, or as the g_idx of an act-order weight scatters them.
std::vector<std::vector<int32_t>>
collectGroupColumns(const QuantizedWeightView &weight);

/// Writes the float weight (rows * cols values, row-major) into `out`.
/// Validates first and returns the same errors as validate().
llvm::Error dequantize(const QuantizedWeightView &weight,
                       llvm::MutableArrayRef<float> out);

} // namespace qwha::quant

#endif // QWHA_QUANT_QUANTIZEDWEIGHT_H
