//===- HadamardTest.cpp - Tests of the Hadamard library -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Checks against definitions rather than the implementation: a Hadamard
// matrix has +-1 entries and H H^T = m I; the fast transform equals the
// product with the dense Kronecker matrix; the orthonormal transform keeps
// norms and is inverted by its transpose.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hadamard.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace qwha::quant;

namespace {

/// Brute-force H H^T == m I and entries in {-1, +1}.
::testing::AssertionResult isHadamard(const std::vector<int8_t> &h,
                                      int64_t m) {
  if (int64_t(h.size()) != m * m)
    return ::testing::AssertionFailure() << "size " << h.size();
  for (int8_t v : h)
    if (v != 1 && v != -1)
      return ::testing::AssertionFailure() << "entry " << int(v);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      int64_t dot = 0;
      for (int64_t t = 0; t < m; ++t)
        dot += h[i * m + t] * h[j * m + t];
      if (dot != (i == j ? m : 0))
        return ::testing::AssertionFailure()
               << "rows " << i << " and " << j << " have dot " << dot;
    }
  return ::testing::AssertionSuccess();
}

bool isSymmetric(const std::vector<int8_t> &h, int64_t m) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j)
      if (h[i * m + j] != h[j * m + i])
        return false;
  return true;
}

std::vector<double> randomVector(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist;
  std::vector<double> v(n);
  for (double &x : v)
    x = dist(rng);
  return v;
}

std::vector<double> denseProduct(const std::vector<int8_t> &h, int64_t d,
                                 const std::vector<double> &x,
                                 bool transpose = false) {
  std::vector<double> y(d, 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      y[i] += (transpose ? h[j * d + i] : h[i * d + j]) * x[j];
  return y;
}

TEST(Hadamard, PaleyOrdersAreHadamardMatrices) {
  // The orders DESIGN.md names that have Paley matrices, and more.
  for (int64_t m : {12, 20, 28, 36, 44, 52, 60, 68, 76, 84, 100, 108, 124,
                    140, 148, 344}) {
    SCOPED_TRACE(m);
    ASSERT_TRUE(isBaseHadamardOrder(m));
    EXPECT_TRUE(isHadamard(buildBaseHadamardMatrix(m), m));
  }
}

TEST(Hadamard, EveryBuildableOrderUpTo400IsHadamard) {
  int count = 0;
  for (int64_t m = 2; m <= 400; ++m) {
    if (!isBaseHadamardOrder(m))
      continue;
    SCOPED_TRACE(m);
    ++count;
    EXPECT_EQ(m % 4, 0) << "Hadamard orders above 2 are multiples of 4";
    EXPECT_TRUE(isHadamard(buildBaseHadamardMatrix(m), m));
  }
  // Counted independently: 59 of the 100 multiples of 4 up to 400 are q + 1
  // (q = 3 mod 4) or 2 (q + 1) (q = 1 mod 4) for a prime power q. The
  // others (16, 40, 56, ...) are either 2^n times a smaller order, which
  // factorHadamardSize covers, or lack a Paley matrix (92, 156, 172, ...).
  EXPECT_EQ(count, 59);
}

TEST(Hadamard, OrdersWithoutPaleyConstruction) {
  for (int64_t m : {2, 3, 6, 10, 16, 40, 92, 116, 156, 172, 188})
    EXPECT_FALSE(isBaseHadamardOrder(m)) << m;
}

TEST(Hadamard, PaleyIIIsSymmetricPaleyIIsNot) {
  // 12 = 2 (5 + 1) and 36 = 2 (17 + 1) are Paley II; 44 = 43 + 1 and
  // 140 = 139 + 1 only have Paley I, whose H - I is skew.
  EXPECT_TRUE(isSymmetric(buildBaseHadamardMatrix(12), 12));
  EXPECT_TRUE(isSymmetric(buildBaseHadamardMatrix(36), 36));
  EXPECT_FALSE(isSymmetric(buildBaseHadamardMatrix(44), 44));
  std::vector<int8_t> h = buildBaseHadamardMatrix(140);
  for (int64_t i = 0; i < 140; ++i)
    for (int64_t j = 0; j < 140; ++j)
      if (i != j)
        EXPECT_EQ(h[i * 140 + j], -h[j * 140 + i]) << i << "," << j;
}

TEST(Hadamard, SymmetryPredicateMatchesTheMatrices) {
  for (int64_t d : {1, 2, 12, 20, 24, 28, 36, 44, 52, 60, 88, 108, 140, 148}) {
    SCOPED_TRACE(d);
    llvm::Expected<std::vector<int8_t>> h = buildHadamardMatrix(d);
    ASSERT_TRUE(bool(h));
    EXPECT_EQ(isSymmetricHadamardSize(d), isSymmetric(*h, d));
  }
  EXPECT_FALSE(isSymmetricHadamardSize(172)); // unsupported
}

TEST(Hadamard, FactorizationOfModelSizes) {
  struct Case {
    int64_t d, powerOfTwo, baseOrder;
  };
  for (Case c : std::initializer_list<Case>{{1, 1, 1},
                                            {4096, 4096, 1},
                                            {384, 32, 12},
                                            {1536, 128, 12},
                                            {576, 16, 36},
                                            {5120, 256, 20},
                                            {11008, 32, 344},
                                            {13824, 128, 108},
                                            {14336, 512, 28},
                                            {18944, 128, 148},
                                            {24, 2, 12}}) {
    SCOPED_TRACE(c.d);
    std::optional<HadamardSize> size = factorHadamardSize(c.d);
    ASSERT_TRUE(size.has_value());
    EXPECT_EQ(size->powerOfTwo, c.powerOfTwo);
    EXPECT_EQ(size->baseOrder, c.baseOrder);
  }
  for (int64_t d : {0, -4, 3, 172, 156, 92})
    EXPECT_FALSE(factorHadamardSize(d).has_value()) << d;
}

TEST(Hadamard, SylvesterEntriesAreParityOfCommonBits) {
  llvm::Expected<std::vector<int8_t>> h = buildHadamardMatrix(64);
  ASSERT_TRUE(bool(h)) << llvm::toString(h.takeError());
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 64; ++j)
      EXPECT_EQ((*h)[i * 64 + j], __builtin_popcountll(i & j) % 2 ? -1 : 1);
}

TEST(Hadamard, DenseMatricesAreHadamardAndKronecker) {
  for (int64_t d : {2, 8, 24, 48, 88, 112}) {
    SCOPED_TRACE(d);
    llvm::Expected<std::vector<int8_t>> h = buildHadamardMatrix(d);
    ASSERT_TRUE(bool(h)) << llvm::toString(h.takeError());
    EXPECT_TRUE(isHadamard(*h, d));
    // H_d[(a, b), (a', b')] = H_{2^n}[a, a'] H_m[b, b'].
    HadamardSize size = *factorHadamardSize(d);
    std::vector<int8_t> base = buildBaseHadamardMatrix(size.baseOrder);
    int64_t m = size.baseOrder;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) {
        int sign = __builtin_popcountll((i / m) & (j / m)) % 2 ? -1 : 1;
        ASSERT_EQ((*h)[i * d + j], sign * base[(i % m) * m + j % m]);
      }
  }
}

TEST(Hadamard, FastTransformEqualsDenseProduct) {
  for (int64_t d : {1, 2, 4, 12, 16, 24, 40, 64, 88, 96, 112, 344}) {
    SCOPED_TRACE(d);
    llvm::Expected<HadamardTransform> transform = HadamardTransform::create(d);
    ASSERT_TRUE(bool(transform)) << llvm::toString(transform.takeError());
    llvm::Expected<std::vector<int8_t>> h = buildHadamardMatrix(d);
    ASSERT_TRUE(bool(h));
    // Three rows at once, to check that rows are independent.
    std::vector<double> x = randomVector(3 * d, unsigned(d));
    std::vector<double> y = x;
    transform->apply(y, /*normalized=*/false);
    for (int row = 0; row < 3; ++row) {
      std::vector<double> xr(x.begin() + row * d, x.begin() + (row + 1) * d);
      std::vector<double> expected = denseProduct(*h, d, xr);
      for (int64_t i = 0; i < d; ++i)
        ASSERT_NEAR(y[row * d + i], expected[i], 1e-9 * d) << row << "," << i;
    }
  }
}

TEST(Hadamard, NormalizedTransformIsOrthonormal) {
  for (int64_t d : {8, 12, 44, 88, 1024, 11008}) {
    SCOPED_TRACE(d);
    llvm::Expected<HadamardTransform> transform = HadamardTransform::create(d);
    ASSERT_TRUE(bool(transform));
    std::vector<double> x = randomVector(d, 7);
    std::vector<double> y = x;
    transform->apply(y, /*normalized=*/true);
    double nx = 0, ny = 0;
    for (int64_t i = 0; i < d; ++i) {
      nx += x[i] * x[i];
      ny += y[i] * y[i];
    }
    EXPECT_NEAR(ny, nx, 1e-9 * nx);
    // Applying it again inverts it exactly when H is symmetric.
    std::vector<double> z = y;
    transform->apply(z, /*normalized=*/true);
    double err = 0;
    for (int64_t i = 0; i < d; ++i)
      err = std::max(err, std::abs(z[i] - x[i]));
    if (transform->isSymmetric())
      EXPECT_LT(err, 1e-9);
    else
      EXPECT_GT(err, 1e-3);
  }
}

TEST(Hadamard, TransposeInvertsNonSymmetricTransform) {
  const int64_t d = 88; // 2 * 44, Paley I base
  llvm::Expected<HadamardTransform> transform = HadamardTransform::create(d);
  ASSERT_TRUE(bool(transform));
  EXPECT_FALSE(transform->isSymmetric());
  llvm::Expected<std::vector<int8_t>> h = buildHadamardMatrix(d);
  ASSERT_TRUE(bool(h));
  std::vector<double> x = randomVector(d, 3);
  std::vector<double> y = x;
  transform->apply(y, /*normalized=*/false);
  std::vector<double> back = denseProduct(*h, d, y, /*transpose=*/true);
  for (int64_t i = 0; i < d; ++i)
    EXPECT_NEAR(back[i] / d, x[i], 1e-9);
}

TEST(Hadamard, FloatAndDoubleAgree) {
  const int64_t d = 384;
  llvm::Expected<HadamardTransform> transform = HadamardTransform::create(d);
  ASSERT_TRUE(bool(transform));
  std::vector<double> x = randomVector(d, 11);
  std::vector<float> xf(x.begin(), x.end());
  transform->apply(x, true);
  transform->apply(xf, true);
  for (int64_t i = 0; i < d; ++i)
    EXPECT_NEAR(xf[i], x[i], 1e-4);
}

TEST(Hadamard, ConstructionIsDeterministic) {
  EXPECT_EQ(buildBaseHadamardMatrix(344), buildBaseHadamardMatrix(344));
  EXPECT_EQ(buildBaseHadamardMatrix(52), buildBaseHadamardMatrix(52));
}

TEST(Hadamard, UnsupportedSizeNamesTheSize) {
  llvm::Expected<HadamardTransform> transform = HadamardTransform::create(172);
  ASSERT_FALSE(bool(transform));
  std::string message = llvm::toString(transform.takeError());
  EXPECT_NE(message.find("order 172"), std::string::npos) << message;
}

} // namespace
