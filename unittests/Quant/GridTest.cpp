//===- GridTest.cpp - Tests of quantization grids and RTN -----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Grid.h"

#include "gtest/gtest.h"

#include <random>

using namespace qwha::quant;

namespace {

std::string errorOf(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

struct RowGrid {
  float scale, zero;
};

RowGrid gridOf(std::vector<float> row, GridOptions options) {
  RowGrid g;
  findRowGrids(row.data(), 1, int64_t(row.size()), int64_t(row.size()),
               options, &g.scale, &g.zero);
  return g;
}

TEST(Grid, MinMaxClosedForms) {
  GridOptions asym;
  asym.bits = 4;
  // Range [-1, 2]: scale 3/15, zero round(1 / 0.2) = 5.
  RowGrid g = gridOf({-1.0f, 0.5f, 2.0f}, asym);
  EXPECT_FLOAT_EQ(g.scale, 3.0f / 15.0f);
  EXPECT_EQ(g.zero, 5.0f);
  // Symmetric: range [-2, 2], zero (15 + 1) / 2 = 8.
  GridOptions sym = asym;
  sym.symmetric = true;
  g = gridOf({-1.0f, 0.5f, 2.0f}, sym);
  EXPECT_FLOAT_EQ(g.scale, 4.0f / 15.0f);
  EXPECT_EQ(g.zero, 8.0f);
  // The range always contains 0: an all-positive row has zero point 0.
  g = gridOf({1.0f, 3.0f}, asym);
  EXPECT_FLOAT_EQ(g.scale, 3.0f / 15.0f);
  EXPECT_EQ(g.zero, 0.0f);
  // A row of zeros gets the range [-1, 1]: 3 bits, scale 2/7, zero 4.
  GridOptions three = asym;
  three.bits = 3;
  g = gridOf({0.0f, 0.0f}, three);
  EXPECT_FLOAT_EQ(g.scale, 2.0f / 7.0f);
  EXPECT_EQ(g.zero, std::nearbyint(1.0f / (2.0f / 7.0f)));
}

TEST(Grid, RoundsHalfToEven) {
  // torch.round rounds half to even; so must we.
  EXPECT_EQ(quantizeToCode(2.5f, 1.0f, 0.0f, 15.0f), 2.0f);
  EXPECT_EQ(quantizeToCode(3.5f, 1.0f, 0.0f, 15.0f), 4.0f);
  EXPECT_EQ(quantizeToCode(-0.5f, 1.0f, 3.0f, 15.0f), 3.0f);
  // Clamped to [0, maxq].
  EXPECT_EQ(quantizeToCode(100.0f, 1.0f, 0.0f, 15.0f), 15.0f);
  EXPECT_EQ(quantizeToCode(-100.0f, 1.0f, 8.0f, 15.0f), 0.0f);
}

TEST(Grid, MseNeverWorseThanMinMaxAndShrinksForOutliers) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  GridOptions minmax;
  minmax.bits = 3;
  GridOptions mse = minmax;
  mse.mse = true;
  auto normError = [](const std::vector<float> &row, RowGrid g, float maxq) {
    double e = 0;
    for (float x : row)
      e += std::pow(std::abs(codeToValue(quantizeToCode(x, g.scale, g.zero, maxq),
                                         g.scale, g.zero) - x), 2.4);
    return e;
  };
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> row(64);
    for (float &x : row)
      x = dist(rng);
    row[trial % 64] = 12.0f; // an outlier
    RowGrid a = gridOf(row, minmax), b = gridOf(row, mse);
    EXPECT_LE(normError(row, b, 7.0f), normError(row, a, 7.0f) * (1 + 1e-6));
    EXPECT_LT(b.scale, a.scale) << "the outlier should be clipped";
  }
}

TEST(Grid, RtnErrorIsAtMostHalfAStep) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> dist(-1, 1);
  const int64_t rows = 5, cols = 48;
  std::vector<float> w(rows * cols);
  for (float &x : w)
    x = dist(rng);
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t group : {int64_t(-1), int64_t(16)})
      for (bool symmetric : {false, true}) {
        GridOptions options;
        options.bits = bits;
        options.groupSize = group;
        options.symmetric = symmetric;
        llvm::Expected<QuantizedMatrix> q = quantizeRTN(w, rows, cols, options);
        ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
        EXPECT_EQ(q->getNumGroups(), group == -1 ? 1 : 3);
        std::vector<float> values = q->dequantize();
        for (int64_t n = 0; n < rows; ++n)
          for (int64_t k = 0; k < cols; ++k) {
            ASSERT_LE(q->codes[n * cols + k], (1u << bits) - 1);
            float step = q->scales[n * q->getNumGroups() + q->getGroup(k)];
            // Inside the grid's range the error is at most half a step.
            EXPECT_LE(std::abs(values[n * cols + k] - w[n * cols + k]),
                      step / 2 * (1 + 1e-4f) + 1e-7f)
                << bits << " bits, group " << group << ", sym " << symmetric;
          }
      }
}

TEST(Grid, ErrorsNameTheProblem) {
  std::vector<float> w(16, 1.0f);
  GridOptions bad;
  bad.bits = 5;
  EXPECT_NE(errorOf(quantizeRTN(w, 2, 8, bad).takeError())
                .find("unsupported bit width 5"),
            std::string::npos);
  GridOptions group;
  group.groupSize = 3;
  EXPECT_NE(errorOf(quantizeRTN(w, 2, 8, group).takeError())
                .find("group size 3 is not -1"),
            std::string::npos);
  GridOptions mse;
  mse.groupSize = -1;
  mse.mse = true;
  mse.mseMaxShrink = 2;
  EXPECT_NE(errorOf(quantizeRTN(w, 2, 8, mse).takeError()).find("max shrink"),
            std::string::npos);
  w[11] = std::nanf("");
  GridOptions ok;
  ok.groupSize = -1;
  EXPECT_NE(errorOf(quantizeRTN(w, 2, 8, ok).takeError())
                .find("the weight has a non-finite value (nan) at [1, 3]"),
            std::string::npos);
  EXPECT_NE(errorOf(quantizeRTN(w, 3, 8, ok).takeError())
                .find("weight has 16 values, expected 24"),
            std::string::npos);
}

} // namespace
