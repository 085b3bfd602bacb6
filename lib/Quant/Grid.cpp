//===- Grid.cpp - Uniform quantization grids and round-to-nearest ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Grid.h"

#include <limits>
#include <string>

using namespace qwha::quant;

llvm::Error qwha::quant::validate(const GridOptions &options, int64_t cols) {
  if (options.bits != 2 && options.bits != 3 && options.bits != 4 &&
      options.bits != 8)
    return llvm::createStringError("unsupported bit width " +
                                   std::to_string(options.bits) +
                                   " (expected 2, 3, 4 or 8)");
  if (options.groupSize != -1 &&
      (options.groupSize <= 0 || cols % options.groupSize != 0))
    return llvm::createStringError(
        "group size " + std::to_string(options.groupSize) +
        " is not -1 (per-channel) or a positive divisor of the " +
        std::to_string(cols) + " input features");
  if (options.mse && (options.mseGrid <= 0 || options.mseMaxShrink <= 0 ||
                      options.mseMaxShrink > 1 || options.mseNorm <= 0))
    return llvm::createStringError(
        "the MSE grid search needs grid > 0, 0 < max shrink <= 1, norm > 0");
  return llvm::Error::success();
}

llvm::Error qwha::quant::checkFinite(llvm::ArrayRef<float> matrix,
                                     int64_t rows, int64_t cols,
                                     llvm::StringRef what) {
  for (int64_t i = 0, e = int64_t(matrix.size()); i < e; ++i)
    if (!std::isfinite(matrix[i]))
      return llvm::createStringError(
          what.str() + " has a non-finite value (" +
          std::to_string(matrix[i]) + ") at [" + std::to_string(i / cols) +
          ", " + std::to_string(i % cols) + "] of a " + std::to_string(rows) +
          "x" + std::to_string(cols) + " matrix");
  return llvm::Error::success();
}

namespace {

/// The range the reference derives from a row's min and max: it always
/// contains 0, is mirrored for symmetric grids, and is [-1, 1] for a row of
/// zeros.
std::pair<float, float> adjustRange(float xmin, float xmax, bool symmetric) {
  xmin = std::min(xmin, 0.0f);
  xmax = std::max(xmax, 0.0f);
  if (symmetric) {
    xmax = std::max(std::abs(xmin), xmax);
    if (xmin < 0)
      xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f)
    return {-1.0f, 1.0f};
  return {xmin, xmax};
}

} // namespace

void qwha::quant::findRowGrids(const float *x, int64_t rows, int64_t width,
                               int64_t stride, const GridOptions &options,
                               float *scales, float *zeros) {
  const float maxCode = float(options.getMaxCode());
  const float symmetricZero = (maxCode + 1.0f) / 2.0f;
  const int shrinkSteps = int(options.mseMaxShrink * options.mseGrid);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * stride;
    float xmin = std::numeric_limits<float>::infinity();
    float xmax = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < width; ++j) {
      xmin = std::min(xmin, row[j]);
      xmax = std::max(xmax, row[j]);
    }
    auto [lo, hi] = adjustRange(xmin, xmax, options.symmetric);
    float scale = (hi - lo) / maxCode;
    float zero =
        options.symmetric ? symmetricZero : std::nearbyint(-lo / scale);
    if (options.mse) {
      float best = std::numeric_limits<float>::infinity();
      for (int i = 0; i < shrinkSteps; ++i) {
        // Python computes 1 - i / grid in double; torch multiplies in f32.
        const float p = float(1.0 - double(i) / options.mseGrid);
        const float lo1 = p * lo, hi1 = p * hi;
        const float scale1 = (hi1 - lo1) / maxCode;
        const float zero1 =
            options.symmetric ? symmetricZero : std::nearbyint(-lo1 / scale1);
        float err = 0.0f;
        for (int64_t j = 0; j < width; ++j) {
          float q = codeToValue(quantizeToCode(row[j], scale1, zero1, maxCode),
                                scale1, zero1);
          err += std::pow(std::abs(q - row[j]), float(options.mseNorm));
        }
        if (err < best) {
          best = err;
          scale = scale1;
          zero = zero1;
        }
      }
    }
    scales[r] = scale;
    zeros[r] = zero;
  }
}

std::vector<float> QuantizedMatrix::dequantize() const {
  std::vector<float> out(rows * cols);
  const int64_t groups = getNumGroups();
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      int64_t g = getGroup(k);
      out[n * cols + k] = codeToValue(float(codes[n * cols + k]),
                                      scales[n * groups + g],
                                      zeros[n * groups + g]);
    }
  return out;
}

llvm::Expected<QuantizedMatrix>
qwha::quant::quantizeRTN(llvm::ArrayRef<float> weight, int64_t rows,
                         int64_t cols, const GridOptions &options) {
  if (llvm::Error err = validate(options, cols))
    return std::move(err);
  if (int64_t(weight.size()) != rows * cols)
    return llvm::createStringError("weight has " +
                                   std::to_string(weight.size()) +
                                   " values, expected " +
                                   std::to_string(rows * cols));
  if (llvm::Error err = checkFinite(weight, rows, cols, "the weight"))
    return std::move(err);

  QuantizedMatrix result;
  result.rows = rows;
  result.cols = cols;
  result.bits = options.bits;
  result.groupSize = options.getEffectiveGroupSize(cols);
  const int64_t groups = result.getNumGroups();
  result.codes.resize(rows * cols);
  result.scales.resize(rows * groups);
  result.zeros.resize(rows * groups);
  const float maxCode = float(options.getMaxCode());
  std::vector<float> scales(rows), zeros(rows);
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t begin = g * result.groupSize;
    findRowGrids(weight.data() + begin, rows, result.groupSize, cols, options,
                 scales.data(), zeros.data());
    for (int64_t n = 0; n < rows; ++n) {
      result.scales[n * groups + g] = scales[n];
      result.zeros[n * groups + g] = zeros[n];
      for (int64_t k = begin; k < begin + result.groupSize; ++k)
        result.codes[n * cols + k] = uint8_t(
            quantizeToCode(weight[n * cols + k], scales[n], zeros[n], maxCode));
    }
  }
  return result;
}
