//===- Grid.h - Uniform quantization grids and round-to-nearest -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The per-row min-max grids of the GPTQ reference implementation
// (`Quantizer.find_params(weight=True)` and `quantize` in gptq/quant.py),
// computed in float32 like the reference so that results can be compared
// code for code:
//
//   xmin = min(0, min x), xmax = max(0, max x)
//   symmetric: xmax = max(|xmin|, xmax), and xmin = -xmax if xmin < 0
//   xmin = -1, xmax = 1 when both are 0
//   scale = (xmax - xmin) / maxq
//   zero  = (maxq + 1) / 2 if symmetric, else round(-xmin / scale)
//   q     = clamp(round(x / scale) + zero, 0, maxq)     (round half to even)
//
// With `mse`, the range is shrunk by p = 1, 0.99, ... (maxShrink * grid
// steps) and the p minimizing sum |Q(x) - x|^norm is kept, per row.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_GRID_H
#define QWHA_QUANT_GRID_H

#include "qwha/Quant/QuantizedWeight.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace qwha::quant {

struct GridOptions {
  /// Code width: 2, 3, 4 or 8.
  unsigned bits = 4;
  /// Columns per group, or -1 for one group per row (per-channel).
  int64_t groupSize = 128;
  bool symmetric = false;
  /// Shrink search for each grid, with the reference's constants.
  bool mse = false;
  double mseNorm = 2.4;
  int mseGrid = 100;
  double mseMaxShrink = 0.8;

  unsigned getMaxCode() const { return (1u << bits) - 1; }
  /// Columns per group for a layer with `cols` input features.
  int64_t getEffectiveGroupSize(int64_t cols) const {
    return groupSize == -1 ? cols : groupSize;
  }
};

/// Checks bits, the group size against `cols`, and the MSE constants.
llvm::Error validate(const GridOptions &options, int64_t cols);

/// Quantizes one value to its code.
inline float quantizeToCode(float x, float scale, float zero, float maxCode) {
  float q = std::nearbyint(x / scale) + zero;
  return q < 0.0f ? 0.0f : (q > maxCode ? maxCode : q);
}

/// The value a code stands for.
inline float codeToValue(float code, float scale, float zero) {
  return scale * (code - zero);
}

/// Computes the grid of each of `rows` rows of `width` values (row r starts
/// at x + r * stride). `scales` and `zeros` receive one value per row.
void findRowGrids(const float *x, int64_t rows, int64_t width, int64_t stride,
                  const GridOptions &options, float *scales, float *zeros);

/// A group-quantized matrix with its grids, codes in original column order.
struct QuantizedMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  unsigned bits = 0;
  /// Columns per group (cols for per-channel grids).
  int64_t groupSize = 0;
  std::vector<uint8_t> codes;  ///< rows x cols
  std::vector<float> scales;   ///< rows x groups
  std::vector<float> zeros;    ///< rows x groups, integral values
  /// Group of each column; empty when it is k / groupSize.
  std::vector<int32_t> gIdx;

  int64_t getNumGroups() const { return cols / groupSize; }
  int64_t getGroup(int64_t col) const {
    return gIdx.empty() ? col / groupSize : gIdx[col];
  }
  /// The float matrix the codes stand for, rows x cols.
  std::vector<float> dequantize() const;
  /// A view of this matrix, as the packers and validate() take.
  QuantizedWeightView view() const {
    return QuantizedWeightView{rows, cols, groupSize, bits,
                               codes, scales, zeros, gIdx};
  }
};

/// Round-to-nearest with the grid options: the baseline GPTQ improves on.
/// Errors for invalid options and non-finite weights.
llvm::Expected<QuantizedMatrix> quantizeRTN(llvm::ArrayRef<float> weight,
                                            int64_t rows, int64_t cols,
                                            const GridOptions &options);

/// Error naming the first non-finite entry of a rows x cols matrix, or
/// success. `what` names the matrix in the message.
llvm::Error checkFinite(llvm::ArrayRef<float> matrix, int64_t rows,
                        int64_t cols, llvm::StringRef what);

} // namespace qwha::quant

#endif // QWHA_QUANT_GRID_H
