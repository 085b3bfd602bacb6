//===- QuantizedWeightTest.cpp - Tests of the dequantization formula ------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/QuantizedWeight.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

using namespace qwha::quant;

namespace {

std::string errorOf(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

TEST(QuantizedWeight, HandComputedTwoGroups) {
  // 2 rows, 4 columns, groups of 2, 4-bit codes.
  std::vector<uint8_t> codes = {0, 15, 8, 9, /**/ 3, 4, 5, 6};
  std::vector<float> scales = {0.5f, 2.0f, /**/ 1.0f, -1.0f};
  std::vector<float> zeros = {8.0f, 8.0f, /**/ 0.0f, 5.0f};
  QuantizedWeightView w{2, 4, 2, 4, codes, scales, zeros, {}};
  std::vector<float> out(8);
  ASSERT_EQ(errorOf(dequantize(w, out)), "");
  std::vector<float> expected = {(0 - 8) * 0.5f, (15 - 8) * 0.5f,
                                 (8 - 8) * 2.0f, (9 - 8) * 2.0f,
                                 3.0f,           4.0f,
                                 (5 - 5) * -1.0f, (6 - 5) * -1.0f};
  EXPECT_EQ(out, expected);
}

TEST(QuantizedWeight, IdentityGroupIndexChangesNothing) {
  std::mt19937 rng(1);
  const int64_t rows = 3, cols = 32, group = 8, groups = cols / group;
  std::vector<uint8_t> codes(rows * cols);
  for (uint8_t &c : codes)
    c = rng() % 8;
  std::vector<float> scales(rows * groups), zeros(rows * groups);
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = 0.1f * (i + 1);
    zeros[i] = float(i % 8);
  }
  std::vector<int32_t> gIdx(cols);
  for (int64_t k = 0; k < cols; ++k)
    gIdx[k] = int32_t(k / group);
  std::vector<float> plain(rows * cols), indexed(rows * cols);
  QuantizedWeightView w{rows, cols, group, 3, codes, scales, zeros, {}};
  ASSERT_EQ(errorOf(dequantize(w, plain)), "");
  w.gIdx = gIdx;
  ASSERT_EQ(errorOf(dequantize(w, indexed)), "");
  EXPECT_EQ(plain, indexed);
}

TEST(QuantizedWeight, ActOrderCommutesWithColumnPermutation) {
  // Permuting the columns of codes and g_idx permutes the weight's columns.
  std::mt19937 rng(2);
  const int64_t rows = 4, cols = 16, group = 4, groups = cols / group;
  std::vector<uint8_t> codes(rows * cols);
  for (uint8_t &c : codes)
    c = rng() % 16;
  std::vector<float> scales(rows * groups), zeros(rows * groups);
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = 0.25f + i;
    zeros[i] = float(rng() % 16);
  }
  std::vector<int32_t> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> gIdx(cols);
  for (int64_t k = 0; k < cols; ++k)
    gIdx[perm[k]] = int32_t(k / group); // act-order groups
  std::vector<float> base(rows * cols);
  QuantizedWeightView w{rows, cols, group, 4, codes, scales, zeros, gIdx};
  ASSERT_EQ(errorOf(dequantize(w, base)), "");

  std::vector<uint8_t> permutedCodes(rows * cols);
  std::vector<int32_t> permutedGIdx(cols);
  for (int64_t k = 0; k < cols; ++k) {
    permutedGIdx[k] = gIdx[perm[k]];
    for (int64_t n = 0; n < rows; ++n)
      permutedCodes[n * cols + k] = codes[n * cols + perm[k]];
  }
  std::vector<float> permuted(rows * cols);
  QuantizedWeightView p{rows,  cols,  group, 4, permutedCodes,
                        scales, zeros, permutedGIdx};
  ASSERT_EQ(errorOf(dequantize(p, permuted)), "");
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k)
      EXPECT_EQ(permuted[n * cols + k], base[n * cols + perm[k]]);
}

TEST(QuantizedWeight, ValidationNamesTheProblem) {
  std::vector<uint8_t> codes = {1, 2, 3, 4};
  std::vector<float> one = {1.0f, 1.0f};
  std::vector<float> out(4);
  struct Case {
    QuantizedWeightView weight;
    const char *message;
  };
  std::vector<int32_t> badGroup = {0, 2};
  std::vector<uint8_t> wideCodes = {1, 2, 3, 200};
  for (const Case &c : std::initializer_list<Case>{
           {{2, 2, 2, 5, codes, one, one, {}}, "unsupported code width 5"},
           {{2, 2, 3, 4, codes, one, one, {}}, "group size 3 does not divide"},
           {{2, 2, 2, 4, codes, {one.data(), 1}, one, {}},
            "scales has 1 entries, expected 2"},
           {{2, 2, 2, 4, codes, one, {one.data(), 1}, {}},
            "zeros has 1 entries, expected 2"},
           {{2, 2, 2, 2, wideCodes, one, one, {}},
            "code 200 at index 3 does not fit in 2 bits"},
           {{2, 2, 2, 4, codes, one, one, badGroup},
            "g_idx[1] = 2 is not a group in [0, 1)"},
           {{2, 2, 2, 4, {codes.data(), 3}, one, one, {}},
            "codes has 3 entries, expected 4"}}) {
    std::string message = errorOf(dequantize(c.weight, out));
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "got: " << message << "\nwanted: " << c.message;
  }
}

TEST(QuantizedWeight, GroupColumnsFollowTheGroupIndex) {
  std::vector<uint8_t> codes(2 * 6, 0);
  std::vector<float> one(2 * 3, 1.0f);
  QuantizedWeightView contiguous{2, 6, 2, 4, codes, one, one, {}};
  EXPECT_EQ(collectGroupColumns(contiguous),
            (std::vector<std::vector<int32_t>>{{0, 1}, {2, 3}, {4, 5}}));
  // Act-order: each group's columns in increasing order, wherever they are.
  std::vector<int32_t> gIdx = {2, 0, 1, 0, 2, 1};
  QuantizedWeightView actOrder{2, 6, 2, 4, codes, one, one, gIdx};
  EXPECT_EQ(collectGroupColumns(actOrder),
            (std::vector<std::vector<int32_t>>{{1, 3}, {2, 5}, {0, 4}}));
}

TEST(QuantizedWeight, FiniteCheckNamesTheFirstBadParameter) {
  std::vector<uint8_t> codes(2 * 4, 0);
  std::vector<float> scales = {1.0f, 1.0f, 1.0f, 1.0f};
  std::vector<float> zeros = {8.0f, 8.0f, 8.0f, 8.0f};
  QuantizedWeightView w{2, 4, 2, 4, codes, scales, zeros, {}};
  EXPECT_EQ(errorOf(checkFiniteGroupParameters(w)), "");
  zeros[3] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(errorOf(checkFiniteGroupParameters(w)),
            "zero point of row 1, group 1 is not finite (inf)");
  scales[2] = std::nanf("");
  EXPECT_EQ(errorOf(checkFiniteGroupParameters(w)),
            "scale of row 1, group 0 is not finite (nan)");
}

} // namespace
