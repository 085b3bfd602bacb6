//===- CpuPacking.h - Weight layout of the CPU kernels ----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The CPU kernels compute y[n] = sum_k x[k] W[n, k] with V output rows in the
// lanes of a vector (V = `lanes`), so that one input value is broadcast and
// multiplied into V outputs at once and no horizontal reduction is needed.
// The weight is therefore stored in blocks of V output rows; inside a block,
// k advances in chunks of `kc` input columns, one chunk per load of B bytes:
//
//   8 bits: kc = 1, B = V:  byte j holds code (k, n0 + j).
//   4 bits: kc = 2, B = V:  byte j holds (k, n0 + j) in bits 0-3 and
//                           (k + 1, n0 + j) in bits 4-7.
//   2 bits: kc = 4, B = V:  byte j holds (k + i, n0 + j) in bits 2i, 2i + 1.
//   3 bits: kc = 8, B = 3V: two 2-bit planes of V bytes hold the low two
//                           bits of (k + i, n0 + j), i < 4 and i >= 4, in
//                           the 2-bit layout; a third plane of V bytes holds
//                           bit 2 of (k + i, n0 + j) in its bit i.
//
// So unpacking a chunk is shifts and masks on bytes and one widening per
// code, the same for every chunk. Blocks are stored one after the other,
// each one contiguous stream the hardware prefetcher follows.
//
// Columns are reordered so that every quantization group is contiguous
// (act-order weights carry a g_idx that scatters them) and each group is
// padded with zero codes to a stride that is a multiple of kc. The kernel
// gathers its input through the same map, so padded columns read zero.
// Scales and zero points are stored group-major, [G][Np], one vector load
// per block, with the zero point folded into -zero * scale:
//
//   W[n, k] = q * scale + negScaledZero.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_CPUPACKING_H
#define QWHA_QUANT_CPUPACKING_H

#include "qwha/Quant/QuantizedWeight.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qwha::quant {

/// The shape of the layout: code width and output rows per vector.
struct CpuKernelLayout {
  unsigned bits = 4;
  int64_t lanes = 16;

  /// Input columns per chunk.
  int64_t getChunkColumns() const { return bits == 3 ? 8 : 8 / bits; }
  /// Bytes per chunk and block.
  int64_t getChunkBytes() const { return bits == 3 ? 3 * lanes : lanes; }
};

/// A weight packed for the CPU kernels.
struct CpuPackedWeight {
  CpuKernelLayout layout;
  /// The weight's shape, N x K.
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t numGroups = 0;
  /// Packed columns per group (a multiple of the chunk columns).
  int64_t groupStride = 0;
  /// Rows rounded up to whole blocks of `layout.lanes`.
  int64_t paddedRows = 0;

  /// paddedRows / lanes blocks of getPackedColumns() / kc chunks.
  std::vector<uint8_t> codes;
  /// [numGroups][paddedRows], zero for padding rows.
  std::vector<float> scales;
  /// [numGroups][paddedRows]: -zero * scale.
  std::vector<float> negScaledZeros;
  /// For each packed column, the input column it reads, or -1 for padding.
  /// Empty when packed column k is input column k (no reordering, no
  /// padding).
  std::vector<int32_t> columnOf;

  int64_t getPackedColumns() const { return numGroups * groupStride; }
  int64_t getBlockBytes() const {
    return getPackedColumns() / layout.getChunkColumns() *
           layout.getChunkBytes();
  }
};

/// Packs `weight` (validated first) in the kernel layout. Errors name the
/// unsupported width or lane count, or the inconsistency in `weight`.
llvm::Expected<CpuPackedWeight> packForCpu(const QuantizedWeightView &weight,
                                           const CpuKernelLayout &layout);

} // namespace qwha::quant

#endif // QWHA_QUANT_CPUPACKING_H
