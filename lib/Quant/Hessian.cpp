//===- Hessian.cpp - Layer input statistics for GPTQ ----------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hessian.h"

#include <cblas.h>

#include <cmath>
#include <string>

using namespace qwha::quant;

HessianAccumulator::HessianAccumulator(int64_t dim)
    : dim_(dim), sum_(dim * dim, 0.0) {}

llvm::Error HessianAccumulator::addRows(llvm::ArrayRef<float> rows) {
  if (dim_ == 0 || rows.size() % dim_ != 0)
    return llvm::createStringError(
        std::to_string(rows.size()) + " values are not whole rows of " +
        std::to_string(dim_) + " features");
  const int64_t count = rows.size() / dim_;
  if (count == 0)
    return llvm::Error::success();
  for (size_t i = 0; i < rows.size(); ++i)
    if (!std::isfinite(rows[i]))
      return llvm::createStringError(
          "input row " + std::to_string(i / dim_) + " has a non-finite value (" +
          std::to_string(rows[i]) + ") at feature " +
          std::to_string(i % dim_));
  scratch_.assign(rows.begin(), rows.end());
  // sum += X^T X, X = count x dim row-major: upper triangle only.
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(dim_), int(count),
              1.0, scratch_.data(), int(dim_), 1.0, sum_.data(), int(dim_));
  samples_ += count;
  return llvm::Error::success();
}

llvm::Error HessianAccumulator::merge(const HessianAccumulator &other) {
  if (other.dim_ != dim_)
    return llvm::createStringError("cannot merge statistics of " +
                                   std::to_string(other.dim_) +
                                   " features into " + std::to_string(dim_));
  for (size_t i = 0; i < sum_.size(); ++i)
    sum_[i] += other.sum_[i];
  samples_ += other.samples_;
  return llvm::Error::success();
}

std::vector<float> HessianAccumulator::getHessian() const {
  std::vector<float> h(dim_ * dim_, 0.0f);
  if (samples_ == 0)
    return h;
  const double scale = 2.0 / double(samples_);
  for (int64_t i = 0; i < dim_; ++i)
    for (int64_t j = i; j < dim_; ++j) {
      float v = float(scale * sum_[i * dim_ + j]);
      h[i * dim_ + j] = v;
      h[j * dim_ + i] = v;
    }
  return h;
}
