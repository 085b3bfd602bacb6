//===- Hadamard.h - Hadamard matrices and the fast transform ----*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Hadamard matrices of order d = 2^n * m, built as the Kronecker product
// H_d = H_{2^n} (x) H_m of the Sylvester matrix and a base matrix H_m from a
// Paley construction, and the fast Walsh-Hadamard transform over them.
//
// Every size has exactly one matrix: m is the smallest base order with
// d / m a power of two, and each base order has one fixed construction
// (Paley II when it applies, because it gives a symmetric matrix whose
// normalized transform is its own inverse; Paley I otherwise). The compiler,
// the Python package and stored adapters all rely on this being stable.
//
// Row-major index convention: entry i of a length-d vector is (a, b) with
// i = a * m + b, and H_d[(a, b), (a', b')] = H_{2^n}[a, a'] * H_m[b, b'].
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_HADAMARD_H
#define QWHA_QUANT_HADAMARD_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace qwha::quant {

/// How a transform size factors: d = powerOfTwo * baseOrder.
struct HadamardSize {
  int64_t powerOfTwo = 1;
  int64_t baseOrder = 1;
};

/// Whether a base Hadamard matrix of order m is built by this library: m = 1,
/// m = q + 1 with q a prime power = 3 (mod 4) (Paley I), or m = 2 (q + 1)
/// with q a prime power = 1 (mod 4) (Paley II).
bool isBaseHadamardOrder(int64_t m);

/// The factorization used for size d, or std::nullopt when d is not
/// 2^n * m for any base order m (e.g. d = 172, whose known Hadamard
/// matrices are not Paley matrices; 344 = 8 * 43 is).
std::optional<HadamardSize> factorHadamardSize(int64_t d);

/// The largest base order the lowerings build H_m for. They store H_m as an
/// m x m constant, so time and memory grow with m^2 (m = 21500 took over a
/// minute and 15 GB); the hidden sizes of real models need m <= 344
/// (11008 = 32 x 344).
constexpr int64_t kMaxLoweredBaseOrder = 2048;

/// Whether H_d is symmetric, so that the normalized transform is its own
/// inverse: true for powers of two and Paley II bases, false for Paley I
/// bases (whose H_m - I is skew) and for unsupported sizes. Cheap: it does
/// not build the matrix.
bool isSymmetricHadamardSize(int64_t d);

/// The base matrix H_m, entries +-1, row-major m x m.
/// Precondition: isBaseHadamardOrder(m).
std::vector<int8_t> buildBaseHadamardMatrix(int64_t m);

/// The dense Hadamard matrix H_d, entries +-1, row-major d x d. Intended for
/// tests and small sizes: it takes d^2 bytes.
llvm::Expected<std::vector<int8_t>> buildHadamardMatrix(int64_t d);

/// The fast transform of one size. Building it builds H_m once; apply() then
/// costs O(d log d + d m) per row.
class HadamardTransform {
public:
  /// Fails with a message naming d when no construction exists.
  static llvm::Expected<HadamardTransform> create(int64_t d);

  int64_t size() const { return size_.powerOfTwo * size_.baseOrder; }
  HadamardSize factors() const { return size_; }
  /// True when H_d = H_d^T, so that the normalized transform is an
  /// involution.
  bool isSymmetric() const { return isSymmetricHadamardSize(size()); }

  /// Replaces each consecutive run of size() values in `rows` by its
  /// transform H_d x, scaled by 1/sqrt(d) when `normalized`.
  /// Precondition: rows.size() is a multiple of size().
  void apply(llvm::MutableArrayRef<float> rows, bool normalized) const;
  void apply(llvm::MutableArrayRef<double> rows, bool normalized) const;

private:
  explicit HadamardTransform(HadamardSize size);
  template <typename T>
  void applyImpl(llvm::MutableArrayRef<T> rows, bool normalized,
                 const std::vector<T> &baseTransposed) const;

  HadamardSize size_;
  /// H_m^T, row-major, in both precisions: the base product runs as axpys
  /// over contiguous columns, which vectorize without reassociating sums.
  std::vector<float> baseTransposedF32_;
  std::vector<double> baseTransposedF64_;
};

} // namespace qwha::quant

#endif // QWHA_QUANT_HADAMARD_H
