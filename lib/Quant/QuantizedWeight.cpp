//===- QuantizedWeight.cpp - Group-quantized weights ----------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/QuantizedWeight.h"

#include <cmath>
#include <string>

using namespace qwha::quant;

static llvm::Error sizeError(const char *what, size_t actual,
                             int64_t expected) {
  return llvm::createStringError(std::string(what) + " has " +
                                 std::to_string(actual) + " entries, expected " +
                                 std::to_string(expected));
}

llvm::Error qwha::quant::validate(const QuantizedWeightView &weight) {
  if (weight.rows < 0 || weight.cols <= 0)
    return llvm::createStringError("quantized weight has an empty shape");
  if (weight.bits != 2 && weight.bits != 3 && weight.bits != 4 &&
      weight.bits != 8)
    return llvm::createStringError("unsupported code width " +
                                   std::to_string(weight.bits) +
                                   " bits (expected 2, 3, 4 or 8)");
  if (weight.groupSize <= 0 || weight.cols % weight.groupSize != 0)
    return llvm::createStringError(
        "group size " + std::to_string(weight.groupSize) +
        " does not divide the " + std::to_string(weight.cols) + " columns");
  int64_t groups = weight.numGroups();
  if (int64_t(weight.codes.size()) != weight.rows * weight.cols)
    return sizeError("codes", weight.codes.size(), weight.rows * weight.cols);
  if (int64_t(weight.scales.size()) != weight.rows * groups)
    return sizeError("scales", weight.scales.size(), weight.rows * groups);
  if (int64_t(weight.zeros.size()) != weight.rows * groups)
    return sizeError("zeros", weight.zeros.size(), weight.rows * groups);
  if (!weight.gIdx.empty() && int64_t(weight.gIdx.size()) != weight.cols)
    return sizeError("g_idx", weight.gIdx.size(), weight.cols);
  const unsigned maxCode = (1u << weight.bits) - 1;
  for (size_t i = 0; i < weight.codes.size(); ++i)
    if (weight.codes[i] > maxCode)
      return llvm::createStringError(
          "code " + std::to_string(weight.codes[i]) + " at index " +
          std::to_string(i) + " does not fit in " +
          std::to_string(weight.bits) + " bits");
  for (size_t k = 0; k < weight.gIdx.size(); ++k)
    if (weight.gIdx[k] < 0 || weight.gIdx[k] >= groups)
      return llvm::createStringError(
          "g_idx[" + std::to_string(k) + "] = " +
          std::to_string(weight.gIdx[k]) + " is not a group in [0, " +
          std::to_string(groups) + ")");
  return llvm::Error::success();
}

llvm::Error qwha::quant::dequantize(const QuantizedWeightView &weight,
                                    llvm::MutableArrayRef<float> out) {
  if (llvm::Error err = validate(weight))
    return err;
  if (int64_t(out.size()) != weight.rows * weight.cols)
    return sizeError("output", out.size(), weight.rows * weight.cols);
  const int64_t groups = weight.numGroups();
  for (int64_t n = 0; n < weight.rows; ++n)
    for (int64_t k = 0; k < weight.cols; ++k) {
      int64_t g = weight.gIdx.empty() ? k / weight.groupSize : weight.gIdx[k];
      float code = weight.codes[n * weight.cols + k];
      out[n * weight.cols + k] =
          (code - weight.zeros[n * groups + g]) * weight.scales[n * groups + g];
    }
  return llvm::Error::success();
}

llvm::Error
qwha::quant::checkFiniteGroupParameters(const QuantizedWeightView &weight) {
  const int64_t groups = weight.numGroups();
  for (int64_t i = 0; i < weight.rows * groups; ++i)
    for (auto [values, what] :
         {std::pair{weight.scales, "scale"}, {weight.zeros, "zero point"}})
      if (!std::isfinite(values[i]))
        return llvm::createStringError(
            std::string(what) + " of row " + std::to_string(i / groups) +
            ", group " + std::to_string(i % groups) + " is not finite (" +
            std::to_string(values[i]) + ")");
  return llvm::Error::success();
}

std::vector<std::vector<int32_t>>
qwha::quant::collectGroupColumns(const QuantizedWeightView &weight) {
  std::vector<std::vector<int32_t>> columns(weight.numGroups());
  for (int64_t k = 0; k < weight.cols; ++k) {
    int64_t g = weight.gIdx.empty() ? k / weight.groupSize : weight.gIdx[k];
    columns[g].push_back(int32_t(k));
  }
  return columns;
}

llvm::Error qwha::quant::validateFloatWeight(int64_t rows, int64_t cols,
                                             llvm::ArrayRef<float> weight) {
  if (rows <= 0 || cols <= 0 || int64_t(weight.size()) != rows * cols)
    return llvm::createStringError(
        "a " + std::to_string(rows) + "x" + std::to_string(cols) +
        " weight needs " + std::to_string(rows * cols) + " values, got " +
        std::to_string(weight.size()));
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(weight[i]))
      return llvm::createStringError(
          "the weight has a non-finite value at [" + std::to_string(i / cols) +
          ", " + std::to_string(i % cols) + "]");
  return llvm::Error::success();
}
