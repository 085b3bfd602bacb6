//===- TensorCoreFragments.h - mma.sync fragments of the GPU kernels -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The tensor-core path of convert-qwha-to-gpu multiplies with
// `mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32` (nvgpu.mma.sync with
// tf32Enabled): D[16 x 8] = A[16 x 8] B[8 x 8] + C, every operand spread over
// the 32 lanes of a warp. Lane l holds, for value v of its fragment, the
// element at
//
//   row = rowPerGroup * (l / 4) + rowPerThread * (l % 4) + rowOffset
//   col = colPerGroup * (l / 4) + colPerThread * (l % 4) + colOffset
//
// of its operand (PTX ISA, "Matrix fragments for mma.m16n8k8", .tf32). A
// and C are indexed (row, column) of the 16 x 8 matrices, B (k, n) of the
// 8 x 8 one. The kernel reads its shared-memory tiles and writes its outputs
// through these tables; the unit test checks them against upstream MLIR's
// own map (nvgpu::getLaneIdAndValueIdToOperandCoord).
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_QWHATOGPU_TENSORCOREFRAGMENTS_H
#define QWHA_CONVERSION_QWHATOGPU_TENSORCOREFRAGMENTS_H

#include <array>
#include <cstdint>

namespace qwha::cuda {

/// The shape of one tensor-core multiply: M x N outputs, K deep.
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 8;

/// Where one value of a lane's fragment sits in its operand.
struct FragmentCoord {
  int64_t rowPerGroup, rowPerThread, rowOffset;
  int64_t colPerGroup, colPerThread, colOffset;

  int64_t getRow(int64_t lane) const {
    return rowPerGroup * (lane / 4) + rowPerThread * (lane % 4) + rowOffset;
  }
  int64_t getCol(int64_t lane) const {
    return colPerGroup * (lane / 4) + colPerThread * (lane % 4) + colOffset;
  }
};

/// A (16 x 8, row-major fragment): four values.
constexpr std::array<FragmentCoord, 4> kTF32FragmentA = {{
    {1, 0, 0, 0, 1, 0},
    {1, 0, 8, 0, 1, 0},
    {1, 0, 0, 0, 1, 4},
    {1, 0, 8, 0, 1, 4},
}};

/// B (8 x 8 as (k, n), column-major fragment): two values.
constexpr std::array<FragmentCoord, 2> kTF32FragmentB = {{
    {0, 1, 0, 1, 0, 0},
    {0, 1, 4, 1, 0, 0},
}};

/// C and D (16 x 8, f32): four values; value v is element (v / 2, v % 2) of
/// nvgpu.mma.sync's vector<2x2xf32>.
constexpr std::array<FragmentCoord, 4> kF32FragmentC = {{
    {1, 0, 0, 0, 2, 0},
    {1, 0, 0, 0, 2, 1},
    {1, 0, 8, 0, 2, 0},
    {1, 0, 8, 0, 2, 1},
}};

} // namespace qwha::cuda

#endif // QWHA_CONVERSION_QWHATOGPU_TENSORCOREFRAGMENTS_H
