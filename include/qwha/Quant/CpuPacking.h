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
// k advances in chunks of kc = 32 / bits input columns, one 32-bit word per
// lane and plane, so that a chunk is one vector load per plane:
//
//   2, 4, 8 bits: one plane; bits [i * bits, (i + 1) * bits) of word j hold
//                 code (k + i, n0 + j), kc = 16, 8, 4.
//   3 bits:       kc = 32, three planes of V words: planes 0 and 1 hold the
//                 low two bits of codes k + i, i < 16 and i >= 16, in the
//                 2-bit layout; plane 2 holds bit 2 of code k + i in bit i.
//
// Unpacking a code is a shift and a mask per vector, no widening and no
// int-to-float conversion: the code is moved into the top `bits` bits of
// the mantissa of 1.0f, which gives the float m(q) = 1 + q / 2^bits
// exactly. The affine map from m(q) to the weight is folded into the
// stored scale and offset:
//
//   W[n, k] = (q - zero) * s = m(q) * scale + offset,
//   scale = 2^bits * s,  offset = -(zero + 2^bits) * s.
//
// (Sums of m(q) * x carry the constant part 1 * x, which cancels against
// the offset; rounding errors grow by about 2^bits / mean(q), 1-2 bits,
// far below the quantization error.)
//
// Blocks are stored one after the other, each one contiguous stream the
// hardware prefetcher follows.
//
// Columns are reordered so that every quantization group is contiguous
// (act-order weights carry a g_idx that scatters them) and each group is
// padded with zero codes to a stride that is a multiple of kc. The kernel
// gathers its input through the same map, so padded columns read zero.
// Scales and offsets are stored group-major, [G][Np], one vector load per
// block.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_CPUPACKING_H
#define QWHA_QUANT_CPUPACKING_H

#include "qwha/Quant/QuantizedWeight.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qwha::quant {

/// The shape of the layout: code width and output rows per vector. Width
/// 32 holds float weights: one column per chunk, each word a float's bits,
/// used as is (scale 1, offset 0), so float layers share the kernels.
struct CpuKernelLayout {
  unsigned bits = 4;
  int64_t lanes = 16;

  /// Input columns per chunk.
  int64_t getChunkColumns() const { return bits == 3 ? 32 : 32 / bits; }
  /// 32-bit words per lane and chunk.
  int64_t getPlanes() const { return bits == 3 ? 3 : 1; }
  /// 32-bit words per chunk and block.
  int64_t getChunkWords() const { return getPlanes() * lanes; }
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
  std::vector<uint32_t> codes;
  /// [numGroups][paddedRows]: 2^bits * s, zero for padding rows.
  std::vector<float> scales;
  /// [numGroups][paddedRows]: -(zero + 2^bits) * s, zero for padding rows.
  std::vector<float> offsets;
  /// For each packed column, the input column it reads, or -1 for padding.
  /// Empty when packed column k is input column k (no reordering, no
  /// padding).
  std::vector<int32_t> columnOf;

  int64_t getPackedColumns() const { return numGroups * groupStride; }
  int64_t getBlockWords() const {
    return getPackedColumns() / layout.getChunkColumns() *
           layout.getChunkWords();
  }
};

/// Packs `weight` (validated first) in the kernel layout. Errors name the
/// unsupported width or lane count, the inconsistency in `weight`, or its
/// first non-finite scale or zero point.
llvm::Expected<CpuPackedWeight> packForCpu(const QuantizedWeightView &weight,
                                           const CpuKernelLayout &layout);

/// Packs a float weight [rows, cols] (row-major) in the 32-bit layout: one
/// group, scales 1 (0 for padding rows), offsets 0. Error naming the first
/// non-finite element, or the lane count.
llvm::Expected<CpuPackedWeight> packFloatForCpu(int64_t rows, int64_t cols,
                                                llvm::ArrayRef<float> weight,
                                                int64_t lanes);

} // namespace qwha::quant

#endif // QWHA_QUANT_CPUPACKING_H
