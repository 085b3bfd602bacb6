//===- GpuKernels.h - gpu.func kernels of convert-qwha-to-gpu ---*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The kernels are written as gpu.funcs over memrefs with scf, arith, vector
// and gpu ops, and lowered by upstream's NVVM pipeline. Weights are
// constant memref.globals in the kernel's gpu.module (global address
// space), so they are loaded onto the device with the module and never
// copied per call.
//
// Row kernel (qwha.qlinear, qwha.linear, qwha.sparse_linear and
// qwha.qlinear_wha): y[b, n] = sum_k x[b, k] W[n, k] (+ sum_p F[n, p] h[b,
// col(p)]). A block is `warps` warps; each warp owns `rowsPerWarp` output
// rows and a tile of `batchTile` input rows (grid: output row tiles x input
// row tiles; a kernel for a dynamic batch also has a branch for a single
// input row, the decode step). Its lanes walk the rows' packed weight one
// step (GpuPacking.h: one 128-bit load per plane) at a time, 32 steps
// apart, dequantize in registers (mantissa trick, no int-to-float
// conversion), and keep rowsPerWarp x batchTile partial sums; the adapter's stored entries of a
// row are spread over the lanes the same way and added into the same sums;
// a butterfly of warp shuffles reduces them and lane 0 writes the outputs.
//
// Tensor-core path of the row kernel (batches of mmaMinBatch rows or more,
// TensorCoreKernel.cpp): a block of `warps` warps owns 32 * warps output
// rows and mmaBatchTile input rows. It walks the packed columns 32 at a
// time: thread t dequantizes output row t's chunk into a shared tile (one
// or two 128-bit loads per plane, TF32-rounded), the block loads the
// inputs' chunk into another, and each warp multiplies its 32 rows with
// mma.sync m16n8k8 (TF32 operands, f32 accumulators held in registers
// across chunks). The adapter F is densified the same way, chunk by chunk
// from its CSR rows, and multiplied with the transform's chunk into the
// same accumulators.
//
// FWHT kernel (qwha.fwht, and the transform of qwha.qlinear_wha): one block
// per row, the row in dynamic shared memory. H_m (m > 1) is applied while
// loading, reading the table from a global; for m = 1 the first five
// butterfly stages run in registers across lanes (shuffles), the others in
// shared memory between barriers.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_QWHATOGPU_GPUKERNELS_H
#define QWHA_LIB_CONVERSION_QWHATOGPU_GPUKERNELS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <optional>

namespace qwha::cuda {

/// The quantized (or float) weight of a row kernel: globals laid out as
/// GpuPacking.h describes.
struct RowKernelWeight {
  unsigned bits = 4;
  int64_t numSteps = 0;
  /// Packed columns per row: numSteps whole steps.
  int64_t packedCols = 0;
  int64_t groupStride = 0;
  /// Plane globals ([N, words] i32), scale and offset globals ([N, G] f32,
  /// null for floats) and the column map ([packed columns] i32, or null).
  llvm::SmallVector<mlir::memref::GlobalOp, 2> planes;
  mlir::memref::GlobalOp scales, offsets, columnOf;
};

/// A sparse adapter F in CSR form: row_offsets [N + 1], cols and values.
struct RowKernelAdapter {
  mlir::memref::GlobalOp rowOffsets, cols, values;
  /// Whether F multiplies the input itself (qwha.sparse_linear) rather than
  /// a second operand holding its transform (qwha.qlinear_wha).
  bool readsInput = false;
};

/// Columns of the tensor-core path's shared-memory tiles, and their row
/// stride in floats: the padding spreads the fragment loads and the
/// 128-bit stores of consecutive rows over all 32 banks.
constexpr int64_t kTensorCoreChunk = 32;
constexpr int64_t kTensorCoreTileStride = kTensorCoreChunk + 4;

struct RowKernelSpec {
  int64_t outputs = 0; ///< N
  int64_t inputs = 0;  ///< K
  std::optional<RowKernelWeight> weight;
  std::optional<RowKernelAdapter> adapter;
  int64_t warps = 4;
  int64_t rowsPerWarp = 2;
  int64_t batchTile = 4;
  /// Batches of at least this many input rows take the tensor-core path
  /// (0: never); smaller ones the warp-per-rows path.
  int64_t mmaMinBatch = 0;
  /// Input rows per block on the tensor-core path: a multiple of 8.
  int64_t mmaBatchTile = 32;
  /// The number of input rows when the input's shape fixes it: the kernel
  /// then holds the one path that batch takes, with no branch.
  std::optional<int64_t> staticBatch;

  int64_t getBlockSize() const { return 32 * warps; }
  int64_t getRowsPerBlock() const { return warps * rowsPerWarp; }
  /// Whether the kernel takes the transformed input as a second argument.
  bool takesTransform() const { return adapter && !adapter->readsInput; }

  bool hasRowPath() const {
    return mmaMinBatch == 0 || !staticBatch || *staticBatch < mmaMinBatch;
  }
  bool hasTensorCorePath() const {
    return mmaMinBatch > 0 && (!staticBatch || *staticBatch >= mmaMinBatch);
  }
  /// Output rows per block on the tensor-core path: one per thread, 32 per
  /// warp.
  int64_t getTensorCoreRowsPerBlock() const { return 32 * warps; }
  /// Whether the tensor-core path adds the adapter chunk by chunk with the
  /// weight: packed column k is input column k, so both walk the same
  /// chunks.
  bool fusesAdapter() const { return weight && adapter && !weight->columnOf; }
  /// Dynamic shared memory of the tensor-core path: the weight (or adapter)
  /// tile, the input tile and, when fused, the transform's.
  int64_t getTensorCoreSharedMemoryBytes() const {
    int64_t rows = getTensorCoreRowsPerBlock() +
                   mmaBatchTile * (fusesAdapter() ? 2 : 1);
    return rows * kTensorCoreTileStride * 4;
  }
};

/// Creates `gpu.func @name(x: memref<?xKxf32>, [h: memref<?xKxf32>,]
/// y: memref<?xNxf32>) kernel` at the end of `module`. For a batch of M
/// input rows, launch it with getBlockSize() threads per block on
///   row path:         ceil(N / getRowsPerBlock()) x max(1, ceil(M /
///                     batchTile)) blocks, no dynamic shared memory;
///   tensor-core path: ceil(N / getTensorCoreRowsPerBlock()) x max(1,
///                     ceil(M / mmaBatchTile)) blocks and
///                     getTensorCoreSharedMemoryBytes().
/// A kernel with both paths takes the tensor-core one when M >= mmaMinBatch.
mlir::gpu::GPUFuncOp buildRowKernel(mlir::gpu::GPUModuleOp module,
                                    mlir::Location loc, llvm::StringRef name,
                                    const RowKernelSpec &spec);

/// Emits the tensor-core path of the row kernel `spec` at `b`
/// (TensorCoreKernel.cpp).
void emitTensorCoreRowKernel(mlir::ImplicitLocOpBuilder &b,
                             const RowKernelSpec &spec, mlir::Value x,
                             mlir::Value h, mlir::Value y);

struct FWHTKernelSpec {
  int64_t powerOfTwo = 1;
  int64_t baseOrder = 1;
  bool normalized = true;
  /// [m * m] f32 H_m, row-major; only when baseOrder > 1.
  mlir::memref::GlobalOp baseMatrix;

  int64_t getSize() const { return powerOfTwo * baseOrder; }
  int64_t getBlockSize() const;
  int64_t getSharedMemoryBytes() const { return getSize() * 4; }
};

/// The largest transform whose row fits in an H100's shared memory (227 KiB
/// per block), with room to spare: upstream's lowering of
/// gpu.dynamic_shared_memory declares an internal zero-size global, which
/// the NVPTX backend demotes to a small static one placed before the
/// dynamic area.
constexpr int64_t kMaxGpuFWHTSize = 56 * 1024;

/// Creates `gpu.func @name(x: memref<?xdxf32>, y: memref<?xdxf32>) kernel`.
/// Launch it on max(1, M) blocks of getBlockSize() threads with
/// getSharedMemoryBytes() of dynamic shared memory.
mlir::gpu::GPUFuncOp buildFWHTKernel(mlir::gpu::GPUModuleOp module,
                                     mlir::Location loc, llvm::StringRef name,
                                     const FWHTKernelSpec &spec);

} // namespace qwha::cuda

#endif // QWHA_LIB_CONVERSION_QWHATOGPU_GPUKERNELS_H
