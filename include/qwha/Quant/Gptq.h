//===- Gptq.h - GPTQ quantization -------------------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// GPTQ (Frantar et al., 2022) as the reference implementation runs it
// (gptq.py, `fasterquant`), so that results can be compared option by
// option with it and with GPTQModel:
//
// - dead columns (zero Hessian diagonal) are zeroed and their diagonal set
//   to 1; per-channel grids are found on the weight before that;
// - damping damp * mean(diag H), raised by `dampIncrement` while the
//   Cholesky factorisation fails (GPTQModel's auto-increment) up to damp < 1;
// - the upper Cholesky factor U of H^-1 drives the column-by-column error
//   feedback, lazily applied across blocks of `blockSize` columns (BLAS);
// - group grids are fixed when a group's first column is reached, from the
//   weight as updated by previous blocks (like the reference, updates inside
//   the current block are not yet visible to a grid fixed mid-block);
// - act-order processes columns by decreasing diagonal (stable for ties),
//   with groups formed in that order, or fixed beforehand in the original
//   order with `staticGroups`.
//
// Everything runs in float32 like the reference. The objective of the
// result is exact and free: with E = W - Q and errors err_i = (w_i - q_i) /
// U_ii, the update rule gives E = Err U, and U H_damped U^T = I, so
// tr(E H_damped E^T) = ||Err||^2; subtracting the damping term lambda ||E||^2
// leaves tr(E H E^T).
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_GPTQ_H
#define QWHA_QUANT_GPTQ_H

#include "qwha/Quant/Grid.h"

namespace qwha::quant {

struct GptqOptions {
  GridOptions grid;
  /// Relative damping: damp * mean(diag H) is added to the diagonal.
  double damp = 0.01;
  /// Added to `damp` each time the Cholesky factorisation fails; the search
  /// stops with an error once damp reaches 1.
  double dampIncrement = 0.0025;
  int64_t blockSize = 128;
  bool actOrder = false;
  bool staticGroups = false;
  /// Also compute the RTN objective and tr(W H W^T) for reports: two
  /// rows x cols x cols products, as much work again as GPTQ itself.
  bool computeBaselines = true;
};

struct GptqResult {
  QuantizedMatrix quantized;
  /// Column order GPTQ processed (act-order), empty otherwise.
  std::vector<int64_t> permutation;
  /// The damping actually used and how many times it was raised.
  double damp = 0;
  int dampRaises = 0;
  int64_t deadColumns = 0;
  /// tr((W - Q) H (W - Q)^T) for GPTQ's Q.
  double objective = 0;
  /// The same for round-to-nearest with the same grid options, and
  /// tr(W H W^T), when computeBaselines is set (else NaN).
  double objectiveRTN = 0;
  double outputEnergy = 0;
};

/// Quantizes a rows x cols weight (row-major, [out, in]) given the cols x
/// cols Hessian of its inputs. Errors name what is wrong: options, sizes,
/// non-finite values, or a Hessian still not positive definite at damp 1.
llvm::Expected<GptqResult> quantizeGPTQ(llvm::ArrayRef<float> weight,
                                        int64_t rows, int64_t cols,
                                        llvm::ArrayRef<float> hessian,
                                        const GptqOptions &options);

/// tr(E H E^T) for E = a - b (rows x cols) and H (cols x cols), computed
/// with BLAS in float32 and summed in double.
double quadraticObjective(llvm::ArrayRef<float> a, llvm::ArrayRef<float> b,
                          int64_t rows, int64_t cols,
                          llvm::ArrayRef<float> hessian);

} // namespace qwha::quant

#endif // QWHA_QUANT_GPTQ_H
