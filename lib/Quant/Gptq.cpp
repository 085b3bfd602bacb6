//===- Gptq.cpp - GPTQ quantization ---------------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Gptq.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

using namespace qwha::quant;

namespace {

/// Reverses the order of rows and columns of a square matrix in place:
/// P A P for the reversal permutation P.
void reverseBoth(std::vector<float> &a) {
  std::reverse(a.begin(), a.end());
}

/// Replaces the damped Hessian `a` (n x n, row-major, symmetric) by the
/// upper Cholesky factor U of its inverse (U^T U = a^-1) in the upper
/// triangle. Returns false when `a` is not positive definite.
///
/// The reference computes chol(a), inverts, then factors the inverse:
/// 4/3 n^3 flops. With the reversed factorisation P a P = L L^T,
/// a = (P L P)(P L P)^T with P L P upper triangular, so U = (P L P)^-1 =
/// P L^-1 P: one factorisation and one triangular inverse, 2/3 n^3 flops,
/// and the same (unique) factor.
bool invertToUpperCholesky(std::vector<float> &a, int64_t n) {
  reverseBoth(a);
  // Row-major lower = column-major upper, and the matrix is symmetric, so
  // LAPACK's column-major routines work on the buffer as it is.
  if (LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', int(n), a.data(), int(n)) != 0)
    return false;
  if (LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', int(n), a.data(), int(n)) !=
      0)
    return false;
  // The row-major lower triangle now holds L^-1; reversing maps it to the
  // upper triangle: U = P L^-1 P.
  reverseBoth(a);
  return true;
}

} // namespace

double qwha::quant::quadraticObjective(llvm::ArrayRef<float> a,
                                       llvm::ArrayRef<float> b, int64_t rows,
                                       int64_t cols,
                                       llvm::ArrayRef<float> hessian) {
  std::vector<float> diff(a.begin(), a.end());
  if (!b.empty())
    for (size_t i = 0; i < diff.size(); ++i)
      diff[i] -= b[i];
  std::vector<float> product(rows * cols);
  cblas_ssymm(CblasRowMajor, CblasRight, CblasUpper, int(rows), int(cols),
              1.0f, hessian.data(), int(cols), diff.data(), int(cols), 0.0f,
              product.data(), int(cols));
  double sum = 0;
  for (size_t i = 0; i < diff.size(); ++i)
    sum += double(diff[i]) * double(product[i]);
  return sum;
}

llvm::Expected<GptqResult>
qwha::quant::quantizeGPTQ(llvm::ArrayRef<float> weight, int64_t rows,
                          int64_t cols, llvm::ArrayRef<float> hessian,
                          const GptqOptions &options) {
  const GridOptions &grid = options.grid;
  if (llvm::Error err = validate(grid, cols))
    return std::move(err);
  if (options.blockSize <= 0)
    return llvm::createStringError("block size must be positive, got " +
                                   std::to_string(options.blockSize));
  if (!(options.damp >= 0 && options.damp < 1) ||
      !(options.dampIncrement > 0))
    return llvm::createStringError(
        "damp must be in [0, 1) and the damp increment positive");
  if (int64_t(weight.size()) != rows * cols)
    return llvm::createStringError(
        "weight has " + std::to_string(weight.size()) + " values, expected " +
        std::to_string(rows) + " x " + std::to_string(cols));
  if (int64_t(hessian.size()) != cols * cols)
    return llvm::createStringError(
        "Hessian has " + std::to_string(hessian.size()) +
        " values, expected " + std::to_string(cols) + " x " +
        std::to_string(cols));
  if (llvm::Error err = checkFinite(weight, rows, cols, "the weight"))
    return std::move(err);
  if (llvm::Error err = checkFinite(hessian, cols, cols, "the Hessian"))
    return std::move(err);

  const int64_t n = rows, k = cols;
  const bool perChannel = grid.groupSize == -1;
  const int64_t groupSize = grid.getEffectiveGroupSize(k);
  const int64_t groups = k / groupSize;
  const float maxCode = float(grid.getMaxCode());

  GptqResult result;
  QuantizedMatrix &q = result.quantized;
  q.rows = n;
  q.cols = k;
  q.bits = grid.bits;
  q.groupSize = groupSize;
  q.scales.resize(n * groups);
  q.zeros.resize(n * groups);

  std::vector<float> w(weight.begin(), weight.end());
  std::vector<float> h(hessian.begin(), hessian.end());

  // Per-channel grids come from the weight as given, before dead columns
  // are zeroed (as in the reference).
  std::vector<float> scale(n), zero(n);
  if (perChannel) {
    findRowGrids(w.data(), n, k, k, grid, scale.data(), zero.data());
    std::copy(scale.begin(), scale.end(), q.scales.begin());
    std::copy(zero.begin(), zero.end(), q.zeros.begin());
  }

  // A column no input ever excited carries no information: zero it.
  std::vector<bool> dead(k, false);
  for (int64_t c = 0; c < k; ++c)
    if (h[c * k + c] == 0.0f) {
      dead[c] = true;
      h[c * k + c] = 1.0f;
      for (int64_t r = 0; r < n; ++r)
        w[r * k + c] = 0.0f;
      ++result.deadColumns;
    }

  // Static groups: every group's grid fixed up front, in the original order.
  if (options.staticGroups && !perChannel)
    for (int64_t g = 0; g < groups; ++g) {
      findRowGrids(w.data() + g * groupSize, n, groupSize, k, grid,
                   scale.data(), zero.data());
      for (int64_t r = 0; r < n; ++r) {
        q.scales[r * groups + g] = scale[r];
        q.zeros[r * groups + g] = zero[r];
      }
    }

  // Act-order: largest diagonal first.
  std::vector<int64_t> perm(k);
  std::iota(perm.begin(), perm.end(), 0);
  if (options.actOrder) {
    std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      // Ties keep the original order, as a stable sort would.
      float da = h[a * k + a], db = h[b * k + b];
      return da > db || (da == db && a < b);
    });
    std::vector<float> wp(n * k), hp(k * k);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        wp[r * k + c] = w[r * k + perm[c]];
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        hp[i * k + j] = h[perm[i] * k + perm[j]];
    w.swap(wp);
    h.swap(hp);
    result.permutation = perm;
  }

  // Damping, raised until the factorisation succeeds.
  double meanDiagonal = 0;
  for (int64_t c = 0; c < k; ++c)
    meanDiagonal += h[c * k + c];
  meanDiagonal /= double(k);
  std::vector<float> hinv;
  double damp = options.damp;
  float lambda = 0;
  while (true) {
    hinv = h;
    lambda = float(damp * meanDiagonal);
    for (int64_t c = 0; c < k; ++c)
      hinv[c * k + c] += lambda;
    if (invertToUpperCholesky(hinv, k))
      break;
    damp += options.dampIncrement;
    ++result.dampRaises;
    if (damp >= 1.0)
      return llvm::createStringError(
          "the Hessian is not positive definite even with damp raised to " +
          std::to_string(damp - options.dampIncrement) +
          " (the limit is 1): the calibration statistics are degenerate or "
          "corrupt");
  }
  result.damp = damp;

  // Column by column, in blocks. `block` holds the block's columns
  // transposed (one contiguous row of n values per column), so that the
  // error feedback inside the block is a run of contiguous axpys.
  std::vector<uint8_t> codesPermuted(n * k);
  std::vector<float> block(options.blockSize * n), errors(options.blockSize * n);
  double errorEnergy = 0, residualEnergy = 0;
  for (int64_t i1 = 0; i1 < k; i1 += options.blockSize) {
    const int64_t count = std::min(options.blockSize, k - i1);
    const int64_t i2 = i1 + count;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < count; ++j)
        block[j * n + r] = w[r * k + i1 + j];

    for (int64_t i = 0; i < count; ++i) {
      const int64_t c = i1 + i;
      if (!perChannel) {
        if (options.staticGroups) {
          const int64_t g = perm[c] / groupSize;
          for (int64_t r = 0; r < n; ++r) {
            scale[r] = q.scales[r * groups + g];
            zero[r] = q.zeros[r * groups + g];
          }
        } else if (c % groupSize == 0) {
          // Like the reference, read the weight as previous blocks left it.
          findRowGrids(w.data() + c, n, groupSize, k, grid, scale.data(),
                       zero.data());
          const int64_t g = c / groupSize;
          for (int64_t r = 0; r < n; ++r) {
            q.scales[r * groups + g] = scale[r];
            q.zeros[r * groups + g] = zero[r];
          }
        }
      }
      const float d = hinv[c * k + c];
      float *column = block.data() + i * n;
      float *err = errors.data() + i * n;
      const int64_t original = perm[c];
      for (int64_t r = 0; r < n; ++r) {
        const float code = quantizeToCode(column[r], scale[r], zero[r], maxCode);
        codesPermuted[r * k + c] = uint8_t(code);
        const float value = codeToValue(code, scale[r], zero[r]);
        err[r] = (column[r] - value) / d;
        errorEnergy += double(err[r]) * err[r];
        const float residual =
            (dead[original] ? 0.0f : weight[r * k + original]) - value;
        residualEnergy += double(residual) * residual;
      }
      const float *hrow = hinv.data() + c * k;
      for (int64_t j = i + 1; j < count; ++j) {
        const float factor = hrow[i1 + j];
        float *target = block.data() + j * n;
        for (int64_t r = 0; r < n; ++r)
          target[r] -= factor * err[r];
      }
    }
    // Lazy update of the later columns: W[:, i2:] -= Err @ Hinv[i1:i2, i2:].
    if (i2 < k)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(n),
                  int(k - i2), int(count), -1.0f, errors.data(), int(n),
                  hinv.data() + i1 * k + i2, int(k), 1.0f, w.data() + i2,
                  int(k));
  }
  result.objective = errorEnergy - double(lambda) * residualEnergy;

  // Back to the original column order.
  q.codes.resize(n * k);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      q.codes[r * k + perm[c]] = codesPermuted[r * k + c];
  if (options.actOrder && !options.staticGroups && groups > 1) {
    q.gIdx.resize(k);
    for (int64_t c = 0; c < k; ++c)
      q.gIdx[perm[c]] = int32_t(c / groupSize);
  }

  if (options.computeBaselines) {
    llvm::Expected<QuantizedMatrix> rtn = quantizeRTN(weight, n, k, grid);
    if (!rtn)
      return rtn.takeError();
    std::vector<float> rtnValues = rtn->dequantize();
    result.objectiveRTN =
        quadraticObjective(weight, rtnValues, n, k, hessian);
    result.outputEnergy = quadraticObjective(weight, {}, n, k, hessian);
  } else {
    result.objectiveRTN = std::nan("");
    result.outputEnergy = std::nan("");
  }
  return result;
}
