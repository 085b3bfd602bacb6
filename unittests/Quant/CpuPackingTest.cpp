//===- CpuPackingTest.cpp - Tests of the CPU kernel weight layout ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The packed weight is read back here bit by bit from the layout's
// description (CpuPacking.h), never through the implementation, and the
// weight it describes must equal quant::dequantize of the original.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/CpuPacking.h"

#include "TestWeights.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

using namespace qwha::quant;
using namespace qwha::quant::test;

namespace {

/// Code (packed column j, row n) read from the words as CpuPacking.h says.
unsigned readCode(const CpuPackedWeight &p, int64_t n, int64_t j) {
  const int64_t lanes = p.layout.lanes;
  const unsigned bits = p.layout.bits;
  const int64_t kc = bits == 3 ? 32 : 32 / bits;
  const int64_t planes = bits == 3 ? 3 : 1;
  const int64_t block = n / lanes, lane = n % lanes;
  const int64_t chunk = j / kc, i = j % kc;
  const uint32_t *words =
      p.codes.data() + block * p.getBlockWords() + chunk * planes * lanes;
  if (bits != 3)
    return (words[lane] >> (i * bits)) & ((1u << bits) - 1);
  unsigned low = (words[(i / 16) * lanes + lane] >> (2 * (i % 16))) & 3;
  unsigned high = (words[2 * lanes + lane] >> i) & 1;
  return low | high << 2;
}

void expectPackedEqualsDequantized(const RandomWeight &w, int64_t lanes) {
  SCOPED_TRACE("bits " + std::to_string(w.bits) + ", lanes " +
               std::to_string(lanes) + ", " + std::to_string(w.rows) + "x" +
               std::to_string(w.cols) + ", group " +
               std::to_string(w.groupSize));
  auto packed = packForCpu(w.view(), CpuKernelLayout{w.bits, lanes});
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  const CpuPackedWeight &p = *packed;
  std::vector<float> expected(w.rows * w.cols);
  ASSERT_FALSE(bool(dequantize(w.view(), expected)));

  EXPECT_EQ(p.paddedRows % lanes, 0);
  EXPECT_GE(p.paddedRows, w.rows);
  EXPECT_LT(p.paddedRows - w.rows, lanes);
  EXPECT_EQ(p.groupStride % p.layout.getChunkColumns(), 0);
  EXPECT_EQ(int64_t(p.codes.size()), p.paddedRows / lanes * p.getBlockWords());

  // Every input column appears exactly once, inside its own group.
  std::vector<int> seen(w.cols, 0);
  for (int64_t j = 0; j < p.getPackedColumns(); ++j) {
    int64_t k = p.columnOf.empty() ? j : p.columnOf[j];
    if (k < 0)
      continue;
    ASSERT_LT(k, w.cols);
    ++seen[k];
    int64_t group = w.gIdx.empty() ? k / w.groupSize : w.gIdx[k];
    EXPECT_EQ(j / p.groupStride, group) << "column " << k;
  }
  for (int64_t k = 0; k < w.cols; ++k)
    EXPECT_EQ(seen[k], 1) << "column " << k;

  for (int64_t n = 0; n < p.paddedRows; ++n)
    for (int64_t j = 0; j < p.getPackedColumns(); ++j) {
      int64_t k = p.columnOf.empty() ? j : p.columnOf[j];
      unsigned code = readCode(p, n, j);
      if (n >= w.rows || k < 0) {
        ASSERT_EQ(code, 0u) << "padding at row " << n << ", column " << j;
        continue;
      }
      int64_t g = j / p.groupStride;
      float scale = p.scales[g * p.paddedRows + n];
      float offset = p.offsets[g * p.paddedRows + n];
      float mantissa = 1.0f + float(code) / float(1u << w.bits);
      float value = mantissa * scale + offset;
      ASSERT_NEAR(value, expected[n * w.cols + k], 1e-5f)
          << "row " << n << ", column " << k;
    }
  for (int64_t g = 0; g < p.numGroups; ++g)
    for (int64_t n = w.rows; n < p.paddedRows; ++n) {
      EXPECT_EQ(p.scales[g * p.paddedRows + n], 0.0f);
      EXPECT_EQ(p.offsets[g * p.paddedRows + n], 0.0f);
    }
}

TEST(CpuPackingTest, ReadsBackAsTheDequantizedWeight) {
  unsigned seed = 1;
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t lanes : {4, 8, 16})
      for (Order order : {Order::Contiguous, Order::ActOrder, Order::Uneven}) {
        // Group sizes that are and are not multiples of a chunk, per-channel
        // grids, and row counts below, at and above a block.
        expectPackedEqualsDequantized(
            makeWeight(37, 96, 32, bits, order, seed++), lanes);
        expectPackedEqualsDequantized(
            makeWeight(5, 60, 12, bits, order, seed++), lanes);
        expectPackedEqualsDequantized(
            makeWeight(16, 21, 21, bits, order, seed++), lanes);
      }
}

TEST(CpuPackingTest, KeepsInputOrderWhenNothingMoves) {
  RandomWeight w = makeWeight(8, 64, 16, 4, Order::Contiguous, 7);
  auto packed = packForCpu(w.view(), CpuKernelLayout{4, 8});
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_TRUE(packed->columnOf.empty());
  EXPECT_EQ(packed->groupStride, 16);
  // 64 columns in chunks of 8 make 8 chunks of 8 words (one per lane).
  EXPECT_EQ(packed->getBlockWords(), 8 * 8);

  // A g_idx that equals k / group size needs no gather either.
  for (int64_t k = 0; k < w.cols; ++k)
    w.gIdx.push_back(int32_t(k / w.groupSize));
  packed = packForCpu(w.view(), CpuKernelLayout{4, 8});
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_TRUE(packed->columnOf.empty());
}

TEST(CpuPackingTest, HandPackedFourBitChunk) {
  // Two rows, two columns, lanes 2: one chunk (padded to 8 columns) whose
  // word j holds row j's column 0 in bits 0-3 and column 1 in bits 4-7.
  RandomWeight w{2, 2, 2, 4, {0x1, 0x2, 0x3, 0x4}, {1, 1}, {0, 0}, {}};
  auto packed = packForCpu(w.view(), CpuKernelLayout{4, 2});
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_EQ(packed->groupStride, 8);
  EXPECT_EQ(packed->codes, (std::vector<uint32_t>{0x21, 0x43}));
}

TEST(CpuPackingTest, HandPackedThreeBitChunk) {
  // One row, eight columns with codes 0..7, lanes 1: low bits 0,1,2,3,0,1,2,3
  // two bits apart in plane 0, nothing in plane 1 (columns 16-31 are
  // padding), high bits 0,0,0,0,1,1,1,1 in plane 2.
  std::vector<uint8_t> codes = {0, 1, 2, 3, 4, 5, 6, 7};
  RandomWeight w{1, 8, 8, 3, codes, {1}, {0}, {}};
  auto packed = packForCpu(w.view(), CpuKernelLayout{3, 1});
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_EQ(packed->codes, (std::vector<uint32_t>{0xE4E4, 0, 0xF0}));
}

TEST(CpuPackingTest, MantissaTrickGivesOnePlusCodeOverRange) {
  // What the kernels compute from a code: its bits placed at the top of
  // the mantissa of 1.0f.
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (uint32_t q = 0; q < (1u << bits); ++q) {
      uint32_t pattern = 0x3F800000u | q << (23 - bits);
      float value;
      std::memcpy(&value, &pattern, sizeof(value));
      EXPECT_EQ(value, 1.0f + float(q) / float(1u << bits))
          << bits << " bits, code " << q;
    }
}

TEST(CpuPackingTest, ScaleAndOffsetRecoverTheAffineGrid) {
  // (q - z) s = m(q) * 2^b s - (z + 2^b) s, checked on one 8-bit weight.
  RandomWeight w{1, 4, 4, 8, {0, 1, 128, 255}, {0.5f}, {128.0f}, {}};
  auto packed = packForCpu(w.view(), CpuKernelLayout{8, 1});
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_EQ(packed->scales[0], 128.0f);
  EXPECT_EQ(packed->offsets[0], -(128.0f + 256.0f) * 0.5f);
}

TEST(CpuPackingTest, RejectsBadLayoutsAndWeights) {
  RandomWeight w = makeWeight(4, 16, 8, 4, Order::Contiguous, 3);
  auto wrongBits = packForCpu(w.view(), CpuKernelLayout{2, 8});
  ASSERT_FALSE(bool(wrongBits));
  EXPECT_EQ(llvm::toString(wrongBits.takeError()),
            "layout is for 2-bit codes, the weight has 4");
  for (int64_t lanes : {0, 3, 128}) {
    auto bad = packForCpu(w.view(), CpuKernelLayout{4, lanes});
    ASSERT_FALSE(bool(bad));
    EXPECT_NE(llvm::toString(bad.takeError()).find("lanes must be"),
              std::string::npos);
  }
  w.scales[3] = std::numeric_limits<float>::infinity();
  auto badScale = packForCpu(w.view(), CpuKernelLayout{4, 8});
  ASSERT_FALSE(bool(badScale));
  EXPECT_EQ(llvm::toString(badScale.takeError()),
            "scale of row 1, group 1 is not finite (inf)");
  w.scales[3] = 1.0f;
  w.zeros[0] = std::numeric_limits<float>::quiet_NaN();
  auto badZero = packForCpu(w.view(), CpuKernelLayout{4, 8});
  ASSERT_FALSE(bool(badZero));
  EXPECT_EQ(llvm::toString(badZero.takeError()),
            "zero point of row 0, group 0 is not finite (nan)");
  w.zeros[0] = 0.0f;

  w.codes[5] = 16;
  auto badCode = packForCpu(w.view(), CpuKernelLayout{4, 8});
  ASSERT_FALSE(bool(badCode));
  EXPECT_EQ(llvm::toString(badCode.takeError()),
            "code 16 at index 5 does not fit in 4 bits");
}

TEST(CpuPackingTest, FloatWeightsKeepTheirBitsLaneByLane) {
  // 5 x 3 weight, 4 lanes: two blocks, the second with three padding lanes.
  const int64_t rows = 5, cols = 3, lanes = 4;
  std::vector<float> weight(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    weight[i] = 0.25f * float(i) - 1.0f;
  auto packed = packFloatForCpu(rows, cols, weight, lanes);
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_EQ(packed->layout.bits, 32u);
  EXPECT_EQ(packed->layout.getChunkColumns(), 1);
  EXPECT_EQ(packed->numGroups, 1);
  EXPECT_EQ(packed->groupStride, cols);
  EXPECT_EQ(packed->paddedRows, 8);
  EXPECT_TRUE(packed->columnOf.empty());
  ASSERT_EQ(packed->codes.size(), size_t(2 * cols * lanes));
  // Word (block * K + k) * lanes + lane holds W[block * lanes + lane, k].
  for (int64_t n = 0; n < 8; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      uint32_t word = packed->codes[(n / lanes * cols + k) * lanes + n % lanes];
      float value;
      std::memcpy(&value, &word, sizeof(value));
      EXPECT_EQ(value, n < rows ? weight[n * cols + k] : 0.0f)
          << "n=" << n << " k=" << k;
    }
  EXPECT_EQ(packed->scales,
            std::vector<float>({1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(packed->offsets, std::vector<float>(8, 0.0f));

  weight[4] = std::numeric_limits<float>::infinity();
  auto bad = packFloatForCpu(rows, cols, weight, lanes);
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "the weight has a non-finite value at [1, 1]");
  auto badLanes = packFloatForCpu(rows, cols, weight, 6);
  ASSERT_FALSE(bool(badLanes));
  EXPECT_EQ(llvm::toString(badLanes.takeError()),
            "lanes must be a power of two in [1, 64], got 6");
  auto badSize = packFloatForCpu(rows, cols + 1, weight, lanes);
  ASSERT_FALSE(bool(badSize));
  EXPECT_EQ(llvm::toString(badSize.takeError()),
            "a 5x4 weight needs 20 values, got 15");
}

} // namespace
