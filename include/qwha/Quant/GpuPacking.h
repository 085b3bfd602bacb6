//===- GpuPacking.h - Weight layout of the GPU kernels ----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GPU GEMV kernels give each warp a few output rows; its 32 lanes walk
// the row's packed codes in "steps", one 128-bit load per plane and step, so
// that a warp's load is 512 contiguous bytes. Rows are stored one after the
// other (row-major), each row's codes packed along the input:
//
//   2, 4, 8 bits: one plane; bits [i * bits, (i + 1) * bits) of word w hold
//                 the code of packed column w * (32 / bits) + i. A step is
//                 four words: 64, 32 or 16 columns.
//   3 bits:       two planes: the low two bits in the 2-bit layout (a step
//                 is four words, 64 columns) and bit 2 in a 1-bit layout
//                 (two words per step).
//   32 bits:      float weights: each word a float's bits, a step is four
//                 columns; no scales.
//
// As on the CPU (CpuPacking.h), a code becomes a float without an
// int-to-float conversion: moved into the top `bits` bits of the mantissa of
// 1.0f it reads m(q) = 1 + q / 2^bits, and the stored scale and offset give
// W[n, k] = m(q) * scale + offset with scale = 2^bits s and
// offset = -(zero + 2^bits) s. The kernel sums x * m(q) and x per group and
// applies scale and offset once per group and step.
//
// Columns are reordered so that every group is contiguous (act-order
// weights carry a g_idx that scatters them), each group padded to a
// multiple of 32 columns and the whole row to a multiple of the step. The
// kernel reads its input through `columnOf` when the order is not the
// identity; padded columns read zero.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_GPUPACKING_H
#define QWHA_QUANT_GPUPACKING_H

#include "qwha/Quant/QuantizedWeight.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace qwha::quant {

/// A weight packed for the GPU kernels.
struct GpuPackedWeight {
  /// Code width: 2, 3, 4, 8, or 32 for float weights.
  unsigned bits = 4;
  /// The weight's shape, N x K.
  int64_t rows = 0;
  int64_t cols = 0;
  /// Packed columns per group: a multiple of 32 (of the step for floats).
  int64_t groupStride = 0;
  /// Groups per row in `scales` and `offsets`, padding groups included.
  int64_t numGroups = 0;
  /// Packed columns per row: a multiple of getStepColumns().
  int64_t packedCols = 0;

  /// Plane p is rows x getPlaneWords(p) words, row-major.
  std::vector<std::vector<uint32_t>> planes;
  /// rows x numGroups: 2^bits * s (zero in padding groups). Empty for
  /// floats.
  std::vector<float> scales;
  /// rows x numGroups: -(zero + 2^bits) * s. Empty for floats.
  std::vector<float> offsets;
  /// For each packed column, the input column it reads, or -1 for padding.
  /// Empty when packed column k is input column k.
  std::vector<int32_t> columnOf;

  static int64_t getStepColumns(unsigned bits) {
    switch (bits) {
    case 2:
    case 3:
      return 64;
    case 4:
      return 32;
    case 8:
      return 16;
    default:
      return 4;
    }
  }
  int64_t getStepColumns() const { return getStepColumns(bits); }
  int64_t getNumSteps() const { return packedCols / getStepColumns(); }
  /// Bits per column of plane p.
  unsigned getPlaneBits(unsigned plane) const {
    return bits == 3 ? (plane == 0 ? 2 : 1) : bits;
  }
  unsigned getNumPlanes() const { return bits == 3 ? 2 : 1; }
  /// 32-bit words of plane p per step: 4 (one 128-bit load), or 2 for the
  /// high bit of 3-bit codes.
  int64_t getStepWords(unsigned plane) const {
    return getStepColumns() * getPlaneBits(plane) / 32;
  }
  int64_t getPlaneWords(unsigned plane) const {
    return getNumSteps() * getStepWords(plane);
  }
  bool isFloat() const { return bits == 32; }
};

/// How a kernel moves the `width`-bit field at bit `from` of a word to bit
/// `to`: one shift and one mask, where the plain ((word >> from) & mask) <<
/// to takes two shifts. Or-ed into 1.0f's bits, the mask fuses with the or
/// (a three-input LOP3 on NVIDIA GPUs): two instructions per code.
struct BitFieldMove {
  unsigned shiftLeft = 0;  ///< when the field moves up
  unsigned shiftRight = 0; ///< when it moves down
  uint32_t mask = 0;       ///< the field's bits at `to`

  uint32_t apply(uint32_t word) const {
    return (shiftLeft ? word << shiftLeft : word >> shiftRight) & mask;
  }
};

/// The move of the `width`-bit field at bit `from` to bit `to` (both fields
/// within 32 bits).
constexpr BitFieldMove getBitFieldMove(unsigned from, unsigned width,
                                       unsigned to) {
  BitFieldMove move;
  if (to >= from)
    move.shiftLeft = to - from;
  else
    move.shiftRight = from - to;
  move.mask = static_cast<uint32_t>(((uint64_t(1) << width) - 1) << to);
  return move;
}

/// The bits of the float m(q) = 1 + q / 2^bits of packed column `column`
/// of `packed`'s row `row`, from its words as the kernels read them.
uint32_t getMantissaBits(const GpuPackedWeight &packed, int64_t row,
                         int64_t column);

/// Packs `weight` (validated first). Errors name the unsupported width, the
/// inconsistency in `weight`, or its first non-finite scale or zero point.
llvm::Expected<GpuPackedWeight> packForGpu(const QuantizedWeightView &weight);

/// Packs a float weight [rows, cols] (row-major) as 32-bit codes. Error
/// naming the first non-finite element.
llvm::Expected<GpuPackedWeight> packFloatForGpu(int64_t rows, int64_t cols,
                                                llvm::ArrayRef<float> weight);

/// The weight `packed` holds, [rows, cols] row-major, computed as the kernel
/// does (m(q) * scale + offset): the inverse of packing, for checks.
std::vector<float> unpackGpuWeight(const GpuPackedWeight &packed);

} // namespace qwha::quant

#endif // QWHA_QUANT_GPUPACKING_H
