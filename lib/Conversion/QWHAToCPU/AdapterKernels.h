//===- AdapterKernels.h - Walsh-Hadamard and sparse CPU kernels -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Kernels for the two halves of a QWHA adapter, y = F (H x), on rows of f32:
//
// FWHT, `(x: memref<?xdxf32, strided<[?, 1], offset: ?>>,
//         [baseT: memref<?xf32>, work: memref<?xf32>,] y: memref<?xdxf32>)`:
//   y = H_d x / sqrt(d) (when normalized) for every row, H_d = H_{2^n} (x)
//   H_m as in quant::HadamardTransform: the H_m product on each run of m
//   values (vectorized over outputs, from H_m^T padded to whole vectors;
//   `baseT` and `work` only when m > 1), then n butterfly stages across
//   runs, each a pass of vector adds and subtracts over the row (in-register
//   shuffles for strides below a vector, masked vectors for strides that
//   are not a multiple of one). The 1/sqrt(d) rides on H_m or on the last
//   stage.
//
// Sparse product, `(h: memref<?xdxf32, strided<[?, 1], offset: ?>>,
//                   rowOffsets: memref<?xi32>, cols: memref<?xi32>,
//                   values: memref<?xf32>, work: memref<?xf32>,
//                   y: memref<?xNxf32>)`:
//   y[r, n] = sum over row n's entries of values[p] * h[r, cols[p]] (CSR).
//   Tiles of `lanes` rows are transposed into the workspace so that an
//   entry costs one broadcast, one contiguous load and one FMA for all of
//   them; the remaining rows gather a vector of entries at a time and
//   reduce once per output (gathers run at about one element per cycle).
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_QWHATOCPU_ADAPTERKERNELS_H
#define QWHA_LIB_CONVERSION_QWHATOCPU_ADAPTERKERNELS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace qwha {

struct FWHTKernelSpec {
  int64_t powerOfTwo = 1; ///< 2^n
  int64_t baseOrder = 1;  ///< m
  bool normalized = true;
  /// f32 lanes per vector: the requested width, reduced to the largest
  /// power of two not above d.
  int64_t lanes = 16;

  static FWHTKernelSpec get(int64_t powerOfTwo, int64_t baseOrder,
                            bool normalized, int64_t requestedLanes);

  int64_t getSize() const { return powerOfTwo * baseOrder; }
  /// m rounded up to whole vectors: the row length of the stored H_m^T.
  int64_t getPaddedBaseOrder() const {
    return (baseOrder + lanes - 1) / lanes * lanes;
  }
  /// Floats of scratch: one run of m values (none when m = 1).
  int64_t getWorkspaceSize() const { return baseOrder > 1 ? baseOrder : 0; }
  std::string getFunctionName() const;
};

mlir::func::FuncOp getOrCreateFWHTKernel(mlir::ModuleOp module,
                                         const FWHTKernelSpec &spec);

struct SparseKernelSpec {
  int64_t inputs = 0;  ///< d, the columns of F
  int64_t outputs = 0; ///< N, the rows of F
  int64_t lanes = 16;

  /// Floats of scratch: a transposed tile of input rows and of outputs.
  int64_t getWorkspaceSize() const { return (inputs + outputs) * lanes; }
  std::string getFunctionName() const;
};

mlir::func::FuncOp getOrCreateSparseKernel(mlir::ModuleOp module,
                                           const SparseKernelSpec &spec);

} // namespace qwha

#endif // QWHA_LIB_CONVERSION_QWHATOCPU_ADAPTERKERNELS_H
