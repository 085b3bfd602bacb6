//===- GpuPackingTest.cpp - Tests of the GPU kernel weight layout ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The packed weight is read back here from the layout's description
// (GpuPacking.h), bit by bit, and must give quant::dequantize of the
// original; unpackGpuWeight, which the kernel tests' references use, must
// agree with this reading.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/GpuPacking.h"

#include "TestWeights.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <tuple>

using namespace qwha::quant;
using namespace qwha::quant::test;

namespace {

/// Code of (row n, packed column j), read as GpuPacking.h describes.
unsigned readCode(const GpuPackedWeight &p, int64_t n, int64_t j) {
  auto bit = [&](unsigned plane, int64_t index) {
    const int64_t rowBits = p.getPlaneWords(plane) * 32;
    const int64_t at = n * rowBits + index;
    return (p.planes[plane][at / 32] >> (at % 32)) & 1u;
  };
  unsigned code = 0;
  if (p.bits == 3) {
    code = bit(0, 2 * j) | bit(0, 2 * j + 1) << 1 | bit(1, j) << 2;
  } else {
    for (unsigned b = 0; b < p.bits; ++b)
      code |= bit(0, j * p.bits + b) << b;
  }
  return code;
}

/// The dequantized weight the packed form describes, from the layout's
/// formula W = (1 + q / 2^bits) * scale + offset.
std::vector<float> readWeight(const GpuPackedWeight &p) {
  std::vector<float> w(p.rows * p.cols, std::nanf(""));
  for (int64_t n = 0; n < p.rows; ++n)
    for (int64_t j = 0; j < p.packedCols; ++j) {
      int64_t k = p.columnOf.empty() ? j : p.columnOf[j];
      if (k < 0) {
        EXPECT_EQ(readCode(p, n, j), 0u) << "padding column " << j;
        continue;
      }
      int64_t g = j / p.groupStride;
      double m = 1.0 + double(readCode(p, n, j)) / double(1u << p.bits);
      w[n * p.cols + k] = float(m * p.scales[n * p.numGroups + g] +
                                p.offsets[n * p.numGroups + g]);
    }
  return w;
}

using Case = std::tuple<unsigned, int64_t, int64_t, int64_t, Order>;

class GpuPackingTest : public ::testing::TestWithParam<Case> {};

TEST_P(GpuPackingTest, PackedWeightDequantizesToTheOriginal) {
  auto [bits, rows, cols, groupSize, order] = GetParam();
  RandomWeight w = makeWeight(rows, cols, groupSize, bits, order, 7 + bits);
  llvm::Expected<GpuPackedWeight> packed = packForGpu(w.view());
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());

  EXPECT_EQ(packed->packedCols % packed->getStepColumns(), 0);
  EXPECT_EQ(packed->groupStride % 32, 0);
  EXPECT_GE(packed->packedCols, cols);
  EXPECT_EQ(packed->numGroups * packed->groupStride >= packed->packedCols,
            true);
  for (unsigned plane = 0; plane < packed->getNumPlanes(); ++plane) {
    // A step of every plane is one 64- or 128-bit load.
    EXPECT_TRUE(packed->getStepWords(plane) == 4 ||
                packed->getStepWords(plane) == 2);
    EXPECT_EQ(int64_t(packed->planes[plane].size()),
              rows * packed->getPlaneWords(plane));
  }
  // Every input column appears exactly once, in its own group.
  if (!packed->columnOf.empty()) {
    std::vector<int> seen(cols, 0);
    for (int64_t j = 0; j < packed->packedCols; ++j) {
      int32_t k = packed->columnOf[j];
      if (k < 0)
        continue;
      ++seen[k];
      int64_t group = w.gIdx.empty() ? k / groupSize : w.gIdx[k];
      EXPECT_EQ(j / packed->groupStride, group) << "column " << k;
    }
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(),
                            [](int count) { return count == 1; }));
  }

  std::vector<float> expected(rows * cols);
  ASSERT_FALSE(bool(dequantize(w.view(), expected)));
  std::vector<float> read = readWeight(*packed);
  std::vector<float> unpacked = unpackGpuWeight(*packed);
  for (int64_t i = 0; i < rows * cols; ++i) {
    // The folded affine map rounds once more than (q - z) s: a few ulps of
    // 2^bits * s.
    float tolerance = 1e-5f * (1u << bits);
    ASSERT_NEAR(read[i], expected[i], tolerance) << "element " << i;
    ASSERT_NEAR(unpacked[i], read[i], tolerance) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, GpuPackingTest,
    ::testing::Values(
        Case{4, 5, 128, 32, Order::Contiguous},
        Case{4, 3, 256, 128, Order::ActOrder},
        Case{4, 4, 96, 96, Order::Contiguous},   // per-channel, not a step
        Case{2, 4, 192, 32, Order::Contiguous},  // groups smaller than a step
        Case{2, 3, 128, 64, Order::Uneven},
        Case{3, 6, 192, 64, Order::Contiguous},
        Case{3, 2, 160, 32, Order::ActOrder},
        Case{3, 2, 40, 40, Order::Contiguous},   // padded group and row
        Case{8, 3, 64, 16, Order::Contiguous},   // groups of 16: padded to 32
        Case{8, 2, 48, 48, Order::Uneven}));

TEST(GpuPackingTest, BitFieldMoveIsTheTwoShiftExtraction) {
  std::mt19937 rng(5);
  std::vector<uint32_t> words = {0u, ~0u, 0x80000001u, 0x12345678u};
  for (int i = 0; i < 60; ++i)
    words.push_back(rng());
  for (unsigned width : {1u, 2u, 3u, 4u, 8u})
    for (unsigned from = 0; from + width <= 32; ++from)
      for (unsigned to = 0; to + width <= 32; ++to) {
        BitFieldMove move = getBitFieldMove(from, width, to);
        // One shift at most, in the direction the field moves.
        EXPECT_TRUE(move.shiftLeft == 0 || move.shiftRight == 0);
        EXPECT_EQ(move.shiftLeft + move.shiftRight,
                  to > from ? to - from : from - to);
        EXPECT_EQ(uint64_t(move.mask) >> to, (uint64_t(1) << width) - 1);
        for (uint32_t word : words) {
          uint32_t field = (word >> from) & uint32_t((uint64_t(1) << width) - 1);
          ASSERT_EQ(move.apply(word), field << to)
              << "width " << width << " from " << from << " to " << to
              << " word " << word;
        }
      }
}

TEST(GpuPackingTest, MantissaBitsHoldTheCodeBelowTheExponentOfOne) {
  for (unsigned bits : {2u, 3u, 4u, 8u}) {
    RandomWeight w = makeWeight(3, 200, 40, bits, Order::Uneven, 11 + bits);
    llvm::Expected<GpuPackedWeight> packed = packForGpu(w.view());
    ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
    for (int64_t n = 0; n < packed->rows; ++n)
      for (int64_t j = 0; j < packed->packedCols; ++j)
        ASSERT_EQ(getMantissaBits(*packed, n, j),
                  0x3F800000u | readCode(*packed, n, j) << (23 - bits))
            << bits << " bits, row " << n << ", packed column " << j;
  }
}

TEST(GpuPackingTest, ContiguousStepAlignedWeightNeedsNoColumnMap) {
  RandomWeight w = makeWeight(2, 256, 128, 4, Order::Contiguous, 1);
  llvm::Expected<GpuPackedWeight> packed = packForGpu(w.view());
  ASSERT_TRUE(bool(packed));
  EXPECT_TRUE(packed->columnOf.empty());
  EXPECT_EQ(packed->packedCols, 256);
  EXPECT_EQ(packed->numGroups, 2);
  EXPECT_EQ(packed->getPlaneWords(0), 256 / 8);
}

TEST(GpuPackingTest, FloatWeightIsStoredAsItsBits) {
  std::vector<float> weight(3 * 10);
  std::iota(weight.begin(), weight.end(), -5.0f);
  llvm::Expected<GpuPackedWeight> packed = packFloatForGpu(3, 10, weight);
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  EXPECT_TRUE(packed->isFloat());
  EXPECT_EQ(packed->packedCols, 12);
  EXPECT_EQ(packed->columnOf.size(), 12u);
  EXPECT_EQ(packed->columnOf[10], -1);
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t k = 0; k < 10; ++k) {
      float value;
      std::memcpy(&value, &packed->planes[0][n * 12 + k], sizeof(value));
      EXPECT_EQ(value, weight[n * 10 + k]);
    }
  EXPECT_EQ(unpackGpuWeight(*packed), weight);
}

TEST(GpuPackingTest, RejectsWidthsWithoutKernel) {
  RandomWeight w = makeWeight(2, 64, 32, 5, Order::Contiguous, 1);
  llvm::Expected<GpuPackedWeight> packed = packForGpu(w.view());
  ASSERT_FALSE(bool(packed));
  EXPECT_NE(llvm::toString(packed.takeError()).find("5 bits"),
            std::string::npos);
}

TEST(GpuPackingTest, NamesTheNonFiniteScale) {
  RandomWeight w = makeWeight(2, 64, 32, 4, Order::Contiguous, 1);
  w.scales[3] = std::numeric_limits<float>::infinity();
  llvm::Expected<GpuPackedWeight> packed = packForGpu(w.view());
  ASSERT_FALSE(bool(packed));
  EXPECT_NE(llvm::toString(packed.takeError()).find("scale of row 1, group 1"),
            std::string::npos);
  std::vector<float> weight = {1.0f, std::nanf("")};
  llvm::Expected<GpuPackedWeight> floats = packFloatForGpu(1, 2, weight);
  ASSERT_FALSE(bool(floats));
  EXPECT_NE(llvm::toString(floats.takeError()).find("[0, 1]"),
            std::string::npos);
}

} // namespace
