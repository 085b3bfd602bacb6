//===- AdapterTest.cpp - Tests of Walsh-Hadamard adapter initialisation ---===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Checked against the original-domain definitions, with the dense Hadamard
// matrix: the objective (e - f H_S) Hx (e - f H_S)^T, its least-squares
// minimizer, and the transform-domain error E H^T.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Adapter.h"
#include "qwha/Quant/Gptq.h"
#include "qwha/Quant/Hadamard.h"
#include "qwha/Quant/Hessian.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <random>

using namespace qwha::quant;

namespace {

std::string errorOf(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

struct Layer {
  int64_t rows, cols;
  std::vector<float> weight, quantized, hessian;
};

/// A layer, its 3-bit RTN quantization, and a full-rank Hessian.
Layer makeLayer(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  Layer l{rows, cols, std::vector<float>(rows * cols), {}, {}};
  for (float &v : l.weight)
    v = dist(rng);
  GridOptions grid;
  grid.bits = 3;
  grid.groupSize = -1;
  l.quantized = llvm::cantFail(quantizeRTN(l.weight, rows, cols, grid)).dequantize();
  HessianAccumulator acc(cols);
  std::vector<float> x(4 * cols * cols);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = dist(rng) * (1.0f + float(i % cols) / float(cols));
  EXPECT_FALSE(bool(acc.addRows(x)));
  l.hessian = acc.getHessian();
  return l;
}

/// The orthonormal H_d as doubles.
std::vector<double> denseHadamard(int64_t d) {
  std::vector<int8_t> signs = llvm::cantFail(buildHadamardMatrix(d));
  std::vector<double> h(signs.begin(), signs.end());
  for (double &v : h)
    v /= std::sqrt(double(d));
  return h;
}

/// (e - f H) Hx (e - f H)^T summed over rows, F dense, in the original
/// domain.
double directObjective(const Layer &l, const std::vector<float> &f) {
  const int64_t n = l.rows, k = l.cols;
  std::vector<double> h = denseHadamard(k);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> r(k);
    for (int64_t c = 0; c < k; ++c) {
      double fh = 0;
      for (int64_t s = 0; s < k; ++s)
        fh += f[i * k + s] * h[s * k + c];
      r[c] = double(l.weight[i * k + c]) - l.quantized[i * k + c] - fh;
    }
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b)
        total += r[a] * l.hessian[a * k + b] * r[b];
  }
  return total;
}

TEST(Adapter, SparseMatrixFromFlatIndices) {
  // Unsorted input; rows 0 and 2 have entries, row 1 none.
  llvm::Expected<SparseMatrix> m =
      SparseMatrix::fromFlat(3, 4, {9, 1, 3, 8}, {4.0f, 1.0f, 2.0f, 3.0f});
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  EXPECT_EQ(m->rowOffsets, (std::vector<int32_t>{0, 2, 2, 4}));
  EXPECT_EQ(m->colIndices, (std::vector<int32_t>{1, 3, 0, 1}));
  EXPECT_EQ(m->values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(m->getFlatIndices(), (std::vector<int64_t>{1, 3, 8, 9}));
  std::vector<float> dense = m->toDense();
  EXPECT_EQ(dense[1], 1.0f);
  EXPECT_EQ(dense[9], 4.0f);
  EXPECT_EQ(dense[5], 0.0f);

  EXPECT_NE(errorOf(SparseMatrix::fromFlat(3, 4, {1, 12}, {1, 2}).takeError())
                .find("index 12 at position 1 is outside the 3x4 matrix"),
            std::string::npos);
  EXPECT_NE(errorOf(SparseMatrix::fromFlat(3, 4, {-1}, {1}).takeError())
                .find("index -1 at position 0"),
            std::string::npos);
  EXPECT_NE(errorOf(SparseMatrix::fromFlat(3, 4, {5, 2, 5}, {1, 2, 3}).takeError())
                .find("index 5 (row 1, column 1) appears twice"),
            std::string::npos);
  EXPECT_NE(errorOf(SparseMatrix::fromFlat(3, 4, {5}, {1, 2}).takeError())
                .find("1 indices but 2 values"),
            std::string::npos);
  EXPECT_NE(errorOf(SparseMatrix::fromFlat(70000, 70000, {}, {}).takeError())
                .find("more entries than 32-bit flat indices"),
            std::string::npos);
  // 2^32 x 2^32 overflowed int64 to 0 and passed the check above; the
  // index was then reported outside the matrix (UBSan: signed overflow).
  EXPECT_NE(errorOf(SparseMatrix::fromFlat(int64_t(1) << 32, int64_t(1) << 32,
                                           {5}, {1})
                        .takeError())
                .find("a 4294967296x4294967296 adapter has more entries than "
                      "32-bit flat indices can address"),
            std::string::npos);
}

TEST(Adapter, AllocationIsProportionalAndExact) {
  // Weights sqrt(energy) = 1, 2, 3, 4 share 10 exactly.
  EXPECT_EQ(allocateRowBudgets({1, 4, 9, 16}, 10, 1.0, 100),
            (std::vector<int64_t>{1, 2, 3, 4}));
  // t = 0: uniform, the remainder to the lower rows.
  EXPECT_EQ(allocateRowBudgets({1, 4, 9, 16}, 10, 0.0, 100),
            (std::vector<int64_t>{3, 3, 2, 2}));
  // t = 2 weighs by energy: 1 + 4 + 9 + 16 = 30 shares 30.
  EXPECT_EQ(allocateRowBudgets({1, 4, 9, 16}, 30, 2.0, 100),
            (std::vector<int64_t>{1, 4, 9, 16}));
  // Row 0 would take 10 but holds 5; its excess is split between the others.
  EXPECT_EQ(allocateRowBudgets({100, 1, 1}, 12, 1.0, 5),
            (std::vector<int64_t>{5, 4, 3}));
  // More budget than room fills every row.
  EXPECT_EQ(allocateRowBudgets({1, 2}, 50, 1.0, 4),
            (std::vector<int64_t>{4, 4}));
  // No error anywhere: the budget is spread evenly.
  EXPECT_EQ(allocateRowBudgets({0, 0, 0}, 4, 1.0, 8),
            (std::vector<int64_t>{2, 1, 1}));
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> dist(0, 10);
  std::vector<double> energies(37);
  for (double &e : energies)
    e = dist(rng);
  for (int64_t budget : {0, 1, 36, 37, 500, 1000}) {
    std::vector<int64_t> b = allocateRowBudgets(energies, budget, 1.0, 20);
    int64_t sum = 0;
    for (int64_t v : b) {
      EXPECT_GE(v, 0);
      EXPECT_LE(v, 20);
      sum += v;
    }
    EXPECT_EQ(sum, std::min<int64_t>(budget, 37 * 20));
  }
}

TEST(Adapter, SelectionTakesTheLargestTransformDomainErrors) {
  Layer l = makeLayer(4, 16, 1);
  AdapterOptions options;
  options.rank = 2; // budget 2 * (4 + 16) = 40 of 64
  options.refine = false;
  llvm::Expected<AdapterInitResult> r =
      initializeAdapter(l.weight, l.quantized, 4, 16, l.hessian, options);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->budget, 40);
  EXPECT_EQ(r->adapter.getNumNonZeros(), 40);
  std::vector<double> h = denseHadamard(16);
  for (int64_t i = 0; i < 4; ++i) {
    // E H^T row by brute force.
    std::vector<double> d(16, 0.0);
    for (int64_t s = 0; s < 16; ++s)
      for (int64_t c = 0; c < 16; ++c)
        d[s] += (double(l.weight[i * 16 + c]) - l.quantized[i * 16 + c]) *
                h[s * 16 + c];
    const SparseMatrix &f = r->adapter;
    int64_t count = f.rowOffsets[i + 1] - f.rowOffsets[i];
    std::vector<double> magnitudes;
    for (double v : d)
      magnitudes.push_back(std::abs(v));
    std::sort(magnitudes.rbegin(), magnitudes.rend());
    for (int32_t q = f.rowOffsets[i]; q < f.rowOffsets[i + 1]; ++q) {
      // Selected values are the transform-domain error itself...
      EXPECT_NEAR(f.values[q], d[f.colIndices[q]], 1e-5);
      // ...and among the `count` largest in magnitude.
      if (count > 0)
        EXPECT_GE(std::abs(d[f.colIndices[q]]), magnitudes[count - 1] - 1e-9);
    }
  }
}

TEST(Adapter, RefinementIsTheLeastSquaresSolution) {
  Layer l = makeLayer(3, 8, 2);
  AdapterOptions options;
  options.rank = 1; // 11 entries over 3 rows
  options.damp = 0.0;
  llvm::Expected<AdapterInitResult> r =
      initializeAdapter(l.weight, l.quantized, 3, 8, l.hessian, options);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  // Normal equations in the original domain: (H_S Hx H_S^T) f = H_S Hx e^T.
  std::vector<double> h = denseHadamard(8);
  const SparseMatrix &f = r->adapter;
  for (int64_t i = 0; i < 3; ++i) {
    std::vector<int32_t> s(f.colIndices.begin() + f.rowOffsets[i],
                           f.colIndices.begin() + f.rowOffsets[i + 1]);
    const size_t p = s.size();
    std::vector<double> a(p * p, 0.0), b(p, 0.0);
    for (size_t u = 0; u < p; ++u) {
      for (int64_t x = 0; x < 8; ++x)
        for (int64_t y = 0; y < 8; ++y) {
          double hx = l.hessian[x * 8 + y];
          b[u] += h[s[u] * 8 + x] * hx *
                  (double(l.weight[i * 8 + y]) - l.quantized[i * 8 + y]);
          for (size_t v = 0; v < p; ++v)
            a[u * p + v] += h[s[u] * 8 + x] * hx * h[s[v] * 8 + y];
        }
    }
    // Gaussian elimination without pivoting: a is positive definite.
    for (size_t c = 0; c < p; ++c)
      for (size_t row = c + 1; row < p; ++row) {
        double factor = a[row * p + c] / a[c * p + c];
        for (size_t col = c; col < p; ++col)
          a[row * p + col] -= factor * a[c * p + col];
        b[row] -= factor * b[c];
      }
    std::vector<double> x(p);
    for (size_t c = p; c-- > 0;) {
      double sum = b[c];
      for (size_t col = c + 1; col < p; ++col)
        sum -= a[c * p + col] * x[col];
      x[c] = sum / a[c * p + c];
    }
    for (size_t u = 0; u < p; ++u)
      EXPECT_NEAR(f.values[f.rowOffsets[i] + u], x[u],
                  1e-4 * (1 + std::abs(x[u])));
  }
}

TEST(Adapter, ObjectivesMatchTheOriginalDomainAndDecrease) {
  Layer l = makeLayer(8, 24, 3); // 24 = 2 x 12: a Paley base
  AdapterOptions options;
  options.rank = 2;
  llvm::Expected<AdapterInitResult> refined =
      initializeAdapter(l.weight, l.quantized, 8, 24, l.hessian, options);
  ASSERT_TRUE(bool(refined)) << llvm::toString(refined.takeError());
  options.refine = false;
  llvm::Expected<AdapterInitResult> selected =
      initializeAdapter(l.weight, l.quantized, 8, 24, l.hessian, options);
  ASSERT_TRUE(bool(selected));

  double none = quadraticObjective(l.weight, l.quantized, 8, 24, l.hessian);
  EXPECT_NEAR(refined->objectiveNone, none, 1e-4 * none);
  EXPECT_NEAR(selected->objectiveSelected,
              directObjective(l, selected->adapter.toDense()),
              1e-4 * none);
  EXPECT_NEAR(refined->objectiveRefined,
              directObjective(l, refined->adapter.toDense()), 1e-4 * none);
  EXPECT_DOUBLE_EQ(selected->objectiveSelected, refined->objectiveSelected);
  EXPECT_LT(refined->objectiveSelected, refined->objectiveNone);
  EXPECT_LT(refined->objectiveRefined, refined->objectiveSelected);
  EXPECT_DOUBLE_EQ(selected->objectiveRefined, selected->objectiveSelected);
}

TEST(Adapter, FullBudgetRecoversTheError) {
  Layer l = makeLayer(4, 8, 4);
  AdapterOptions options;
  options.rank = 100; // capped at every entry
  options.damp = 0.0;
  llvm::Expected<AdapterInitResult> r =
      initializeAdapter(l.weight, l.quantized, 4, 8, l.hessian, options);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->adapter.getNumNonZeros(), 32);
  EXPECT_LT(r->objectiveRefined, 1e-8 * r->objectiveNone);
  // W_q x + F (H x) = W x.
  std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.75f, 0.0f, 1.0f};
  std::vector<float> adapter = llvm::cantFail(applyAdapter(r->adapter, x));
  for (int64_t i = 0; i < 4; ++i) {
    double exact = 0, quantized = 0;
    for (int64_t c = 0; c < 8; ++c) {
      exact += l.weight[i * 8 + c] * x[c];
      quantized += l.quantized[i * 8 + c] * x[c];
    }
    EXPECT_NEAR(quantized + adapter[i], exact, 1e-4);
  }
}

TEST(Adapter, RandomSelectionIsSeededAndWorseThanMagnitude) {
  Layer l = makeLayer(16, 32, 5);
  AdapterOptions options;
  options.rank = 2;
  options.selection = AdapterSelection::Random;
  options.seed = 7;
  AdapterInitResult a = llvm::cantFail(
      initializeAdapter(l.weight, l.quantized, 16, 32, l.hessian, options));
  AdapterInitResult b = llvm::cantFail(
      initializeAdapter(l.weight, l.quantized, 16, 32, l.hessian, options));
  EXPECT_EQ(a.adapter.colIndices, b.adapter.colIndices);
  options.seed = 8;
  AdapterInitResult c = llvm::cantFail(
      initializeAdapter(l.weight, l.quantized, 16, 32, l.hessian, options));
  EXPECT_NE(a.adapter.colIndices, c.adapter.colIndices);
  options.selection = AdapterSelection::Magnitude;
  AdapterInitResult m = llvm::cantFail(
      initializeAdapter(l.weight, l.quantized, 16, 32, l.hessian, options));
  EXPECT_LT(m.objectiveSelected, a.objectiveSelected);
}

TEST(Adapter, ApplyMatchesTheDenseProduct) {
  SparseMatrix f = llvm::cantFail(
      SparseMatrix::fromFlat(2, 12, {0, 5, 13, 23}, {1.0f, -2.0f, 0.5f, 3.0f}));
  std::vector<float> x(24);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.1f * float(i) - 1.0f;
  std::vector<float> y = llvm::cantFail(applyAdapter(f, x));
  std::vector<double> h = denseHadamard(12);
  std::vector<float> dense = f.toDense();
  for (int64_t s = 0; s < 2; ++s)
    for (int64_t r = 0; r < 2; ++r) {
      double expected = 0;
      for (int64_t a = 0; a < 12; ++a) {
        double hx = 0;
        for (int64_t c = 0; c < 12; ++c)
          hx += h[a * 12 + c] * x[s * 12 + c];
        expected += dense[r * 12 + a] * hx;
      }
      EXPECT_NEAR(y[s * 2 + r], expected, 1e-5);
    }
}

TEST(Adapter, BadInputsAreErrors) {
  Layer l = makeLayer(2, 8, 6);
  AdapterOptions options;
  EXPECT_NE(errorOf(initializeAdapter(std::vector<float>(12), std::vector<float>(12),
                                      2, 6, std::vector<float>(36), options)
                        .takeError())
                .find("no Hadamard matrix of order 6"),
            std::string::npos);
  std::vector<float> bad = l.weight;
  bad[3] = std::nanf("");
  EXPECT_NE(errorOf(initializeAdapter(bad, l.quantized, 2, 8, l.hessian, options)
                        .takeError())
                .find("the weight has a non-finite value (nan) at [0, 3]"),
            std::string::npos);
  EXPECT_NE(errorOf(initializeAdapter(l.weight, l.quantized, 2, 8,
                                      std::vector<float>(3), options)
                        .takeError())
                .find("Hessian has 3 values, expected 8 x 8"),
            std::string::npos);
  AdapterOptions zeroRank;
  zeroRank.rank = 0;
  EXPECT_NE(errorOf(initializeAdapter(l.weight, l.quantized, 2, 8, l.hessian,
                                      zeroRank)
                        .takeError())
                .find("rank must be positive"),
            std::string::npos);
}

} // namespace
