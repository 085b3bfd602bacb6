//===- Adapter.h - Walsh-Hadamard adapters (QWHA) ---------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// QWHA (arXiv 2509.17428): a quantized layer gets an adapter dW = F H, with
// H the orthonormal Walsh-Hadamard transform on the input side and F sparse,
// so that the layer computes y = W_q x + F (H x). F is initialised from the
// quantization error E = W - W_q and the layer's input statistics Hx:
//
//  1. AdaAlloc: row i gets p_i = floor(p * w_i / sum w) of the budget
//     p = rank (out + in), w_i = ||(E X)_i||^t with ||(E X)_i||^2 ~
//     e_i Hx e_i^T; the remainder goes to the largest fractional parts.
//  2. Selection: in row i, the p_i largest-magnitude entries of the error in
//     the transform domain, e_i H^T (= F's dense solution, since H is
//     orthonormal).
//  3. Refinement: on that support S, the values f minimizing
//     (e_i - f H_S) Hx (e_i - f H_S)^T, a p_i x p_i least-squares problem
//     solved by Cholesky with relative damping.
//
// Everything is computed in the transform domain: with M = H Hx H^T and
// d_i = H e_i^T, the objective of values f on S is
// d_i^T M d_i - 2 f . (M d_i)_S + f^T M_SS f, so each row costs one slice
// of M, not a K x K product.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_ADAPTER_H
#define QWHA_QUANT_ADAPTER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qwha::quant {

/// A sparse matrix stored compressed by rows; columns ascend within a row.
struct SparseMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int32_t> rowOffsets; ///< rows + 1 entries
  std::vector<int32_t> colIndices;
  std::vector<float> values;

  int64_t getNumNonZeros() const { return int64_t(values.size()); }
  /// Flat indices row * cols + col (the adapter file's layout), in order.
  std::vector<int64_t> getFlatIndices() const;
  /// The dense rows x cols matrix.
  std::vector<float> toDense() const;

  /// Builds a matrix from flat indices and values in any order. Errors name
  /// the first index out of [0, rows * cols), the first duplicate, or a
  /// length mismatch.
  static llvm::Expected<SparseMatrix> fromFlat(int64_t rows, int64_t cols,
                                               llvm::ArrayRef<int64_t> flat,
                                               llvm::ArrayRef<float> values);
};

enum class AdapterSelection { Magnitude, Random };

struct AdapterOptions {
  /// Budget p = rank * (rows + cols) entries (LoRA parity), capped at
  /// rows * cols.
  int64_t rank = 64;
  /// The exponent t of AdaAlloc; 0 gives every row the same budget.
  double allocPower = 1.0;
  AdapterSelection selection = AdapterSelection::Magnitude;
  /// Seed of the random selection.
  uint64_t seed = 0;
  /// Refine the values on the support by least squares.
  bool refine = true;
  /// Relative damping of each row's Gram matrix, raised by `dampIncrement`
  /// while its Cholesky factorisation fails.
  double damp = 0.01;
  double dampIncrement = 0.01;
};

struct AdapterInitResult {
  SparseMatrix adapter;
  int64_t budget = 0;
  /// Sum over rows of (e_i - f_i H) Hx (e_i - f_i H)^T: without adapter,
  /// with the selected transform-domain values, and after refinement (equal
  /// to the selection when refinement is off).
  double objectiveNone = 0;
  double objectiveSelected = 0;
  double objectiveRefined = 0;
  /// Rows whose Gram matrix needed more damping than asked.
  int64_t dampRaisedRows = 0;
};

/// AdaAlloc: splits `budget` over rows in proportion to energy^(power / 2)
/// (energy = ||(E X)_i||^2), floor first, then the remainder by largest
/// fractional part (ties to the lower row), never giving a row more than
/// `maxPerRow`; what a full row cannot take goes to the others.
std::vector<int64_t> allocateRowBudgets(llvm::ArrayRef<double> energies,
                                        int64_t budget, double power,
                                        int64_t maxPerRow);

/// Initialises an adapter for a rows x cols layer from its float weight,
/// its dequantized quantized weight and the cols x cols Hessian of its
/// inputs. cols must be a supported Walsh-Hadamard size.
llvm::Expected<AdapterInitResult>
initializeAdapter(llvm::ArrayRef<float> weight,
                  llvm::ArrayRef<float> quantized, int64_t rows, int64_t cols,
                  llvm::ArrayRef<float> hessian,
                  const AdapterOptions &options);

/// y = F (H x / sqrt(cols)) for each row of `inputs` (count x cols): the
/// adapter's contribution, for tests and reference computations.
llvm::Expected<std::vector<float>> applyAdapter(const SparseMatrix &adapter,
                                                llvm::ArrayRef<float> inputs);

} // namespace qwha::quant

#endif // QWHA_QUANT_ADAPTER_H
