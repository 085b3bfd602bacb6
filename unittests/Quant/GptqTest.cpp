//===- GptqTest.cpp - Tests of GPTQ ---------------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The blocked, Cholesky-based implementation is checked against the
// textbook form of the algorithm (Frantar et al., 2022, Sec. 3): quantize
// one column, spread its error over the remaining columns with the inverse
// Hessian, then remove the column from the inverse by Gaussian elimination,
// all in double with an explicit inverse.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Gptq.h"
#include "qwha/Quant/Hessian.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <numeric>
#include <random>

using namespace qwha::quant;

namespace {

std::string errorOf(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

/// Inputs with correlated features, and a weight: the setting where GPTQ's
/// error feedback pays off.
struct Layer {
  int64_t rows, cols;
  std::vector<float> weight, hessian;
};

Layer makeLayer(int64_t rows, int64_t cols, unsigned seed,
                int64_t samples = 256) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> mix(cols * cols);
  for (float &v : mix)
    v = dist(rng);
  std::vector<float> x(samples * cols, 0.0f);
  for (int64_t s = 0; s < samples; ++s) {
    std::vector<float> z(cols);
    for (float &v : z)
      v = dist(rng);
    for (int64_t i = 0; i < cols; ++i) {
      // Feature i mixes latent 0..i: strongly correlated neighbours, and
      // feature scales that differ (so act-order changes the order).
      float sum = 0;
      for (int64_t j = 0; j <= std::min<int64_t>(i, 3); ++j)
        sum += mix[i * cols + j] * z[i - j];
      x[s * cols + i] = sum * (1.0f + 0.1f * float(i % 5));
    }
  }
  HessianAccumulator acc(cols);
  EXPECT_FALSE(bool(acc.addRows(x)));
  Layer layer{rows, cols, std::vector<float>(rows * cols), acc.getHessian()};
  for (float &v : layer.weight)
    v = 0.1f * dist(rng);
  return layer;
}

/// The textbook algorithm, unblocked, with an explicit inverse in double.
/// Grids are fixed at group starts from the fully updated weight, which is
/// what the blocked version sees when groups start at block boundaries.
QuantizedMatrix textbookGPTQ(const Layer &layer, const GptqOptions &options) {
  const int64_t n = layer.rows, k = layer.cols;
  const GridOptions &grid = options.grid;
  const int64_t groupSize = grid.getEffectiveGroupSize(k);
  const int64_t groups = k / groupSize;
  const float maxCode = float(grid.getMaxCode());
  std::vector<float> w = layer.weight;
  std::vector<double> h(layer.hessian.begin(), layer.hessian.end());

  QuantizedMatrix q;
  q.rows = n;
  q.cols = k;
  q.bits = grid.bits;
  q.groupSize = groupSize;
  q.codes.resize(n * k);
  q.scales.resize(n * groups);
  q.zeros.resize(n * groups);
  std::vector<float> scale(n), zero(n);
  if (grid.groupSize == -1) {
    findRowGrids(w.data(), n, k, k, grid, scale.data(), zero.data());
    q.scales = scale;
    q.zeros = zero;
  }
  for (int64_t c = 0; c < k; ++c)
    if (h[c * k + c] == 0) {
      h[c * k + c] = 1;
      for (int64_t r = 0; r < n; ++r)
        w[r * k + c] = 0;
    }
  if (options.staticGroups && grid.groupSize != -1)
    for (int64_t g = 0; g < groups; ++g) {
      findRowGrids(w.data() + g * groupSize, n, groupSize, k, grid,
                   scale.data(), zero.data());
      for (int64_t r = 0; r < n; ++r) {
        q.scales[r * groups + g] = scale[r];
        q.zeros[r * groups + g] = zero[r];
      }
    }
  std::vector<int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  if (options.actOrder)
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      double da = h[a * k + a], db = h[b * k + b];
      return da > db || (da == db && a < b);
    });

  // Explicit inverse of the damped Hessian by Gauss-Jordan.
  double mean = 0;
  for (int64_t c = 0; c < k; ++c)
    mean += h[c * k + c];
  mean /= k;
  std::vector<double> a = h, inv(k * k, 0.0);
  for (int64_t c = 0; c < k; ++c) {
    a[c * k + c] += options.damp * mean;
    inv[c * k + c] = 1;
  }
  for (int64_t c = 0; c < k; ++c) {
    double pivot = a[c * k + c];
    for (int64_t j = 0; j < k; ++j) {
      a[c * k + j] /= pivot;
      inv[c * k + j] /= pivot;
    }
    for (int64_t i = 0; i < k; ++i)
      if (i != c) {
        double f = a[i * k + c];
        for (int64_t j = 0; j < k; ++j) {
          a[i * k + j] -= f * a[c * k + j];
          inv[i * k + j] -= f * inv[c * k + j];
        }
      }
  }

  if (options.actOrder && !options.staticGroups && grid.groupSize != -1)
    q.gIdx.resize(k);
  for (int64_t pos = 0; pos < k; ++pos) {
    const int64_t c = order[pos];
    if (grid.groupSize != -1) {
      if (options.staticGroups) {
        for (int64_t r = 0; r < n; ++r) {
          scale[r] = q.scales[r * groups + c / groupSize];
          zero[r] = q.zeros[r * groups + c / groupSize];
        }
      } else if (pos % groupSize == 0) {
        // The group is the next groupSize columns in processing order.
        std::vector<float> cols(n * groupSize);
        for (int64_t r = 0; r < n; ++r)
          for (int64_t j = 0; j < groupSize; ++j)
            cols[r * groupSize + j] = w[r * k + order[pos + j]];
        findRowGrids(cols.data(), n, groupSize, groupSize, grid, scale.data(),
                     zero.data());
        for (int64_t r = 0; r < n; ++r) {
          q.scales[r * groups + pos / groupSize] = scale[r];
          q.zeros[r * groups + pos / groupSize] = zero[r];
        }
      }
      if (!q.gIdx.empty())
        q.gIdx[c] = int32_t(pos / groupSize);
    }
    const double d = inv[c * k + c];
    for (int64_t r = 0; r < n; ++r) {
      float code = quantizeToCode(w[r * k + c], scale[r], zero[r], maxCode);
      q.codes[r * k + c] = uint8_t(code);
      double err = (w[r * k + c] - codeToValue(code, scale[r], zero[r])) / d;
      for (int64_t later = pos + 1; later < k; ++later) {
        int64_t j = order[later];
        w[r * k + j] -= float(err * inv[c * k + j]);
      }
    }
    // Remove column c from the inverse: inv -= inv[:, c] inv[c, :] / inv[c, c].
    std::vector<double> row(inv.begin() + c * k, inv.begin() + (c + 1) * k);
    for (int64_t i = 0; i < k; ++i) {
      double f = inv[i * k + c] / d;
      for (int64_t j = 0; j < k; ++j)
        inv[i * k + j] -= f * row[j];
    }
  }
  return q;
}

GptqOptions makeOptions(unsigned bits, int64_t group, bool actOrder,
                        bool staticGroups, bool symmetric, bool mse,
                        int64_t block) {
  GptqOptions o;
  o.grid.bits = bits;
  o.grid.groupSize = group;
  o.grid.symmetric = symmetric;
  o.grid.mse = mse;
  o.actOrder = actOrder;
  o.staticGroups = staticGroups;
  o.blockSize = block;
  return o;
}

TEST(Gptq, BlockedEqualsTextbook) {
  Layer layer = makeLayer(6, 32, 11);
  int configs = 0;
  for (int64_t group : {int64_t(-1), int64_t(8), int64_t(16)})
    for (int64_t block : {int64_t(4), int64_t(8), int64_t(32)})
      for (bool actOrder : {false, true})
        for (bool staticGroups : {false, true}) {
          // Groups must start at block starts for the two to see the same
          // weight when a grid is fixed (see Gptq.h).
          if (group != -1 && group % block != 0 && !staticGroups)
            continue;
          GptqOptions options =
              makeOptions(4, group, actOrder, staticGroups, false, false, block);
          SCOPED_TRACE(testing::Message()
                       << "group " << group << " block " << block << " act "
                       << actOrder << " static " << staticGroups);
          llvm::Expected<GptqResult> blocked =
              quantizeGPTQ(layer.weight, 6, 32, layer.hessian, options);
          ASSERT_TRUE(bool(blocked)) << llvm::toString(blocked.takeError());
          QuantizedMatrix expected = textbookGPTQ(layer, options);
          int mismatches = 0;
          for (size_t i = 0; i < expected.codes.size(); ++i)
            mismatches += expected.codes[i] != blocked->quantized.codes[i];
          // float32 against double: a code may flip where a value sits on a
          // rounding boundary, nowhere else.
          EXPECT_LE(mismatches, 1);
          EXPECT_EQ(expected.gIdx, blocked->quantized.gIdx);
          for (size_t i = 0; i < expected.scales.size(); ++i)
            EXPECT_NEAR(expected.scales[i], blocked->quantized.scales[i],
                        1e-4 * std::abs(expected.scales[i]));
          ++configs;
        }
  EXPECT_GE(configs, 20);
}

TEST(Gptq, ObjectiveIdentityMatchesDirectComputation) {
  Layer layer = makeLayer(8, 64, 12);
  for (bool actOrder : {false, true}) {
    GptqOptions options = makeOptions(3, 16, actOrder, false, false, false, 16);
    llvm::Expected<GptqResult> r =
        quantizeGPTQ(layer.weight, 8, 64, layer.hessian, options);
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    // Dequantizing through codes, grids and g_idx also checks that the
    // result was put back in the original column order.
    std::vector<float> values = r->quantized.dequantize();
    double direct = quadraticObjective(layer.weight, values, 8, 64, layer.hessian);
    EXPECT_NEAR(r->objective, direct, 1e-3 * direct) << "act-order " << actOrder;
    EXPECT_GT(r->objective, 0);
  }
}

TEST(Gptq, BeatsRoundToNearestOnCorrelatedInputs) {
  Layer layer = makeLayer(16, 64, 13);
  for (unsigned bits : {2u, 3u, 4u})
    for (bool actOrder : {false, true}) {
      GptqOptions options = makeOptions(bits, 16, actOrder, false, false, false, 16);
      llvm::Expected<GptqResult> r =
          quantizeGPTQ(layer.weight, 16, 64, layer.hessian, options);
      ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
      EXPECT_LT(r->objective, 0.8 * r->objectiveRTN)
          << bits << " bits, act-order " << actOrder;
      EXPECT_GT(r->outputEnergy, r->objectiveRTN);
    }
}

TEST(Gptq, EveryOptionCombination) {
  Layer layer = makeLayer(8, 64, 14);
  int runs = 0;
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t group : {int64_t(-1), int64_t(16)})
      for (bool actOrder : {false, true})
        for (bool staticGroups : {false, true})
          for (bool symmetric : {false, true})
            for (bool mse : {false, true}) {
              GptqOptions options = makeOptions(bits, group, actOrder,
                                                staticGroups, symmetric, mse, 16);
              SCOPED_TRACE(testing::Message()
                           << bits << "b g" << group << " act " << actOrder
                           << " static " << staticGroups << " sym "
                           << symmetric << " mse " << mse);
              llvm::Expected<GptqResult> r =
                  quantizeGPTQ(layer.weight, 8, 64, layer.hessian, options);
              ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
              const QuantizedMatrix &q = r->quantized;
              for (uint8_t c : q.codes)
                ASSERT_LE(c, (1u << bits) - 1);
              EXPECT_EQ(q.getNumGroups(), group == -1 ? 1 : 4);
              // g_idx only for act-order with dynamic groups, and then every
              // group has exactly groupSize columns.
              bool expectGIdx = actOrder && !staticGroups && group != -1;  // 4 groups
              ASSERT_EQ(q.gIdx.empty(), !expectGIdx);
              if (expectGIdx) {
                std::vector<int> sizes(q.getNumGroups(), 0);
                for (int32_t g : q.gIdx)
                  ++sizes[g];
                for (int s : sizes)
                  EXPECT_EQ(s, 16);
              }
              EXPECT_EQ(r->permutation.empty(), !actOrder);
              EXPECT_TRUE(std::isfinite(r->objective));
              double direct = quadraticObjective(layer.weight, q.dequantize(),
                                                 8, 64, layer.hessian);
              EXPECT_NEAR(r->objective, direct, 2e-3 * direct + 1e-9);
              if (bits <= 4)
                EXPECT_LT(r->objective, r->objectiveRTN);
              // Deterministic: the same inputs give the same codes.
              llvm::Expected<GptqResult> again =
                  quantizeGPTQ(layer.weight, 8, 64, layer.hessian, options);
              ASSERT_TRUE(bool(again));
              EXPECT_EQ(again->quantized.codes, q.codes);
              ++runs;
            }
  EXPECT_EQ(runs, 128);
}

TEST(Gptq, DeadColumnsAreZeroed) {
  Layer layer = makeLayer(4, 16, 15);
  // Column 5 never saw a nonzero input.
  for (int64_t j = 0; j < 16; ++j) {
    layer.hessian[5 * 16 + j] = 0;
    layer.hessian[j * 16 + 5] = 0;
  }
  GptqOptions options = makeOptions(4, 8, true, false, false, false, 8);
  llvm::Expected<GptqResult> r =
      quantizeGPTQ(layer.weight, 4, 16, layer.hessian, options);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->deadColumns, 1);
  std::vector<float> values = r->quantized.dequantize();
  for (int64_t n = 0; n < 4; ++n)
    EXPECT_EQ(values[n * 16 + 5], 0.0f);
}

TEST(Gptq, DampingIsRaisedForSingularHessians) {
  // A rank-one Hessian: not positive definite without damping.
  const int64_t k = 8;
  std::vector<float> h(k * k, 1.0f), w(2 * k);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.01f * float(i);
  GptqOptions options = makeOptions(4, -1, false, false, false, false, 4);
  options.damp = 0.0;
  llvm::Expected<GptqResult> r = quantizeGPTQ(w, 2, k, h, options);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_GE(r->dampRaises, 1);
  EXPECT_DOUBLE_EQ(r->damp, 0.0025 * r->dampRaises);
}

TEST(Gptq, HessianNotPositiveDefiniteIsAnError) {
  // -I stays indefinite whatever the (relative, here negative) damping.
  const int64_t k = 4;
  std::vector<float> h(k * k, 0.0f), w(k, 0.5f);
  for (int64_t i = 0; i < k; ++i)
    h[i * k + i] = -1.0f;
  GptqOptions options = makeOptions(4, -1, false, false, false, false, 4);
  std::string message = errorOf(quantizeGPTQ(w, 1, k, h, options).takeError());
  EXPECT_NE(message.find("the Hessian is not positive definite even with damp "
                         "raised to"),
            std::string::npos)
      << message;
}

TEST(Gptq, BadInputsAreErrors) {
  Layer layer = makeLayer(2, 8, 16);
  GptqOptions options = makeOptions(4, -1, false, false, false, false, 4);
  auto message = [&](std::vector<float> w, std::vector<float> h,
                     GptqOptions o) {
    return errorOf(quantizeGPTQ(w, 2, 8, h, o).takeError());
  };
  std::vector<float> nanWeight = layer.weight;
  nanWeight[9] = std::nanf("");
  EXPECT_NE(message(nanWeight, layer.hessian, options)
                .find("the weight has a non-finite value (nan) at [1, 1]"),
            std::string::npos);
  std::vector<float> infHessian = layer.hessian;
  infHessian[3] = std::numeric_limits<float>::infinity();
  EXPECT_NE(message(layer.weight, infHessian, options)
                .find("the Hessian has a non-finite value (inf) at [0, 3]"),
            std::string::npos);
  EXPECT_NE(message(layer.weight, std::vector<float>(10), options)
                .find("Hessian has 10 values, expected 8 x 8"),
            std::string::npos);
  EXPECT_NE(message(std::vector<float>(3), layer.hessian, options)
                .find("weight has 3 values, expected 2 x 8"),
            std::string::npos);
  GptqOptions badBlock = options;
  badBlock.blockSize = 0;
  EXPECT_NE(message(layer.weight, layer.hessian, badBlock)
                .find("block size must be positive, got 0"),
            std::string::npos);
  GptqOptions badDamp = options;
  badDamp.damp = 1.5;
  EXPECT_NE(message(layer.weight, layer.hessian, badDamp)
                .find("damp must be in [0, 1)"),
            std::string::npos);
  GptqOptions badBits = options;
  badBits.grid.bits = 6;
  EXPECT_NE(message(layer.weight, layer.hessian, badBits)
                .find("unsupported bit width 6"),
            std::string::npos);
}

} // namespace
