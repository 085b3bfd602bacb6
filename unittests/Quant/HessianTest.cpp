//===- HessianTest.cpp - Tests of Hessian accumulation --------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hessian.h"

#include "gtest/gtest.h"

#include <random>

using namespace qwha::quant;

namespace {

std::vector<float> randomRows(int64_t count, int64_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> x(count * dim);
  for (float &v : x)
    v = dist(rng);
  return x;
}

TEST(Hessian, EqualsTwoOverNSumOfOuterProducts) {
  const int64_t dim = 7, count = 13;
  std::vector<float> x = randomRows(count, dim, 1);
  HessianAccumulator acc(dim);
  ASSERT_FALSE(bool(acc.addRows(x)));
  std::vector<float> h = acc.getHessian();
  EXPECT_EQ(acc.getNumSamples(), count);
  for (int64_t i = 0; i < dim; ++i)
    for (int64_t j = 0; j < dim; ++j) {
      double expected = 0;
      for (int64_t r = 0; r < count; ++r)
        expected += double(x[r * dim + i]) * x[r * dim + j];
      expected *= 2.0 / count;
      EXPECT_NEAR(h[i * dim + j], expected, 1e-5 * (1 + std::abs(expected)));
    }
}

TEST(Hessian, BatchingAndMergingDoNotMatter) {
  const int64_t dim = 5;
  std::vector<float> x = randomRows(20, dim, 2);
  HessianAccumulator once(dim), batched(dim), left(dim), right(dim);
  ASSERT_FALSE(bool(once.addRows(x)));
  // Batches [0, 3), [3, 11), [11, 20).
  ASSERT_FALSE(bool(batched.addRows(llvm::ArrayRef<float>(x).slice(0, 3 * dim))));
  ASSERT_FALSE(bool(batched.addRows(llvm::ArrayRef<float>(x).slice(3 * dim, 8 * dim))));
  ASSERT_FALSE(bool(batched.addRows(llvm::ArrayRef<float>(x).slice(11 * dim))));
  ASSERT_FALSE(bool(left.addRows(llvm::ArrayRef<float>(x).take_front(9 * dim))));
  ASSERT_FALSE(bool(right.addRows(llvm::ArrayRef<float>(x).drop_front(9 * dim))));
  ASSERT_FALSE(bool(left.merge(right)));
  std::vector<float> a = once.getHessian(), b = batched.getHessian(),
                     c = left.getHessian();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-6 * (1 + std::abs(a[i])));
    EXPECT_NEAR(a[i], c[i], 1e-6 * (1 + std::abs(a[i])));
  }
  EXPECT_EQ(left.getNumSamples(), 20);
}

TEST(Hessian, ErrorsLeaveTheAccumulatorUnchanged) {
  HessianAccumulator acc(4);
  std::vector<float> partial(6, 1.0f);
  llvm::Error err = acc.addRows(partial);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("not whole rows of 4"),
            std::string::npos);
  std::vector<float> bad = {1, 2, 3, 4, 5, std::numeric_limits<float>::infinity(), 7, 8};
  err = acc.addRows(bad);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err))
                .find("input row 1 has a non-finite value (inf) at feature 1"),
            std::string::npos);
  EXPECT_EQ(acc.getNumSamples(), 0);
  for (float v : acc.getHessian())
    EXPECT_EQ(v, 0.0f);
  HessianAccumulator other(3);
  err = acc.merge(other);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("3 features into 4"),
            std::string::npos);
}

} // namespace
