//===- QLinearKernel.h - Vectorized quantized matmul kernels ----*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Builds the kernel functions `convert-qwha-to-cpu` calls: y = x W^T for a
// weight packed by quant::packForCpu, written with scf loops over vector
// dialect ops on memrefs. The kernel's arguments are, in order:
//
//   x        memref<?xKxf32, strided<[?, ?], offset: ?>>   input rows
//   codes    memref<?xi32>    packed codes, blocks of `lanes` output rows
//   scales   memref<?xf32>    [G][Np]
//   offsets  memref<?xf32>    [G][Np]
//   columns  memref<?xi32>    packed column -> input column or -1
//                             (only when the spec gathers columns)
//   work     memref<?xf32>    getWorkspaceSize() floats
//   y        memref<?xNxf32>  output rows
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_QWHATOCPU_QLINEARKERNEL_H
#define QWHA_LIB_CONVERSION_QWHATOCPU_QLINEARKERNEL_H

#include "qwha/Quant/CpuPacking.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace qwha {

/// Everything a kernel is specialised on. Layers with equal specs share one
/// kernel.
struct QLinearKernelSpec {
  quant::CpuKernelLayout layout;
  int64_t rows = 0;        ///< N
  int64_t cols = 0;        ///< K
  int64_t numGroups = 0;   ///< G
  int64_t groupStride = 0; ///< packed columns per group
  int64_t paddedRows = 0;  ///< Np
  bool gathersColumns = false;
  /// Input rows per GEMM tile; tiles of halves of it follow, down to 2, and
  /// single rows use the GEMV kernel.
  int64_t gemmRows = 8;
  /// Output vectors per GEMM tile.
  int64_t gemmBlocks = 2;
  /// Output vectors per GEMV tile.
  int64_t gemvBlocks = 4;
  /// How far ahead of each weight stream the GEMV kernel prefetches, in
  /// bytes; 0 for none.
  int64_t prefetchDistance = 2048;
  /// More than one: output tiles are distributed over threads.
  int64_t threads = 1;

  static QLinearKernelSpec get(const quant::CpuPackedWeight &weight,
                               int64_t gemmRows, int64_t gemmBlocks,
                               int64_t gemvBlocks, int64_t prefetchDistance,
                               int64_t threads);

  int64_t getPackedColumns() const { return numGroups * groupStride; }
  /// Floats of scratch: gemmRows gathered input rows, then the group sums
  /// of one row.
  int64_t getWorkspaceSize() const {
    return gemmRows * getPackedColumns() + numGroups;
  }
  /// A symbol naming every specialisation, e.g.
  /// `qwha_cpu_qmatmul_w4_n4096_k4096_g32x128_v16_m8x2_r4_p2048`.
  std::string getFunctionName() const;
};

/// Returns the kernel for `spec` in `module`, building it at the end of the
/// module body the first time.
mlir::func::FuncOp getOrCreateQLinearKernel(mlir::ModuleOp module,
                                            const QLinearKernelSpec &spec);

} // namespace qwha

#endif // QWHA_LIB_CONVERSION_QWHATOCPU_QLINEARKERNEL_H
