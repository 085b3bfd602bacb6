//===- TensorCoreFragmentsTest.cpp - mma.sync fragment tables -------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The tensor-core kernel addresses its tiles through the fragment tables of
// TensorCoreFragments.h. A wrong entry would silently mix up products, and
// nothing on a machine without a GPU would notice, so the tables are checked
// against upstream MLIR's independent encoding of the PTX layouts (the one
// convert-vector-to-gpu lowers vector.contract with), and for covering each
// operand exactly once.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToGPU/TensorCoreFragments.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/NVGPU/Utils/MMAUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

#include <set>

using namespace mlir;
using namespace qwha::cuda;

namespace {

/// (row, col) of every (lane, value) in upstream's map for an f32 operand of
/// `rows` x `cols` in `role`.
std::vector<std::pair<int64_t, int64_t>>
upstreamCoords(MLIRContext &context, int64_t rows, int64_t cols,
               nvgpu::MatMulOperandRole role, int64_t values) {
  OpBuilder b(&context);
  nvgpu::WarpMatrixInfo info{
      VectorType::get({rows, cols}, Float32Type::get(&context)), role};
  FailureOr<AffineMap> map =
      nvgpu::getLaneIdAndValueIdToOperandCoord(b, b.getUnknownLoc(), info);
  EXPECT_TRUE(succeeded(map));
  std::vector<std::pair<int64_t, int64_t>> coords;
  for (int64_t lane = 0; lane < 32; ++lane)
    for (int64_t value = 0; value < values; ++value) {
      SmallVector<int64_t> rc = map->compose(ArrayRef<int64_t>{lane, value});
      coords.emplace_back(rc[0], rc[1]);
    }
  return coords;
}

template <size_t N>
std::vector<std::pair<int64_t, int64_t>>
tableCoords(const std::array<FragmentCoord, N> &table, bool transposed) {
  std::vector<std::pair<int64_t, int64_t>> coords;
  for (int64_t lane = 0; lane < 32; ++lane)
    for (const FragmentCoord &coord : table) {
      int64_t row = coord.getRow(lane), col = coord.getCol(lane);
      coords.emplace_back(transposed ? col : row, transposed ? row : col);
    }
  return coords;
}

TEST(TensorCoreFragmentsTest, AMatchesUpstream) {
  MLIRContext context;
  EXPECT_EQ(tableCoords(kTF32FragmentA, false),
            upstreamCoords(context, kMmaM, kMmaK, nvgpu::MatMulOperandRole::A,
                           4));
}

TEST(TensorCoreFragmentsTest, BMatchesUpstream) {
  // Upstream describes B as the contraction's right-hand side, (n, k).
  MLIRContext context;
  EXPECT_EQ(tableCoords(kTF32FragmentB, true),
            upstreamCoords(context, kMmaN, kMmaK, nvgpu::MatMulOperandRole::B,
                           2));
}

TEST(TensorCoreFragmentsTest, CMatchesUpstream) {
  MLIRContext context;
  EXPECT_EQ(tableCoords(kF32FragmentC, false),
            upstreamCoords(context, kMmaM, kMmaN, nvgpu::MatMulOperandRole::C,
                           4));
}

/// Every element of a rows x cols operand is held by exactly one lane.
template <size_t N>
void expectCoversOnce(const std::array<FragmentCoord, N> &table, int64_t rows,
                      int64_t cols) {
  std::set<std::pair<int64_t, int64_t>> seen;
  for (auto [row, col] : tableCoords(table, false)) {
    ASSERT_GE(row, 0);
    ASSERT_LT(row, rows);
    ASSERT_GE(col, 0);
    ASSERT_LT(col, cols);
    EXPECT_TRUE(seen.emplace(row, col).second)
        << "(" << row << ", " << col << ") held twice";
  }
  EXPECT_EQ(int64_t(seen.size()), rows * cols);
}

TEST(TensorCoreFragmentsTest, EachOperandIsCoveredOnce) {
  expectCoversOnce(kTF32FragmentA, kMmaM, kMmaK);
  expectCoversOnce(kTF32FragmentB, kMmaK, kMmaN);
  expectCoversOnce(kF32FragmentC, kMmaM, kMmaN);
}

} // namespace
