//===- Hessian.h - Layer input statistics for GPTQ --------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// H = (2/N) sum_x x x^T over the N input rows x a linear layer saw: the
// Hessian of the layer's squared output error ||(W - Q) X||^2 / N with
// respect to its weight rows. N counts rows (tokens), so H = 2 E[x x^T];
// the GPTQ reference divides by the number of sequences instead, which only
// scales H, and neither GPTQ (damping is relative) nor relative errors
// depend on that scale.
//
// Rows arrive in batches; their sum of outer products accumulates in double
// (BLAS dsyrk), so that millions of rows do not lose the small ones, and is
// handed out in float32, the precision GPTQ works in.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_HESSIAN_H
#define QWHA_QUANT_HESSIAN_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qwha::quant {

class HessianAccumulator {
public:
  explicit HessianAccumulator(int64_t dim);

  int64_t getDim() const { return dim_; }
  /// Rows seen so far.
  int64_t getNumSamples() const { return samples_; }

  /// Adds `rows.size() / dim` rows (row-major). Errors, leaving the
  /// accumulator unchanged, when the size is not a multiple of dim or a
  /// value is not finite.
  llvm::Error addRows(llvm::ArrayRef<float> rows);

  /// Adds another accumulator's rows (same dim).
  llvm::Error merge(const HessianAccumulator &other);

  /// H = (2/N) sum x x^T, dim x dim, both triangles filled. All zeros
  /// before the first row.
  std::vector<float> getHessian() const;

private:
  int64_t dim_;
  int64_t samples_ = 0;
  /// sum x x^T, upper triangle (row-major), in double.
  std::vector<double> sum_;
  std::vector<double> scratch_;
};

} // namespace qwha::quant

#endif // QWHA_QUANT_HESSIAN_H
