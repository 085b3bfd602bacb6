//===- Adapter.cpp - Walsh-Hadamard adapters (QWHA) -----------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Adapter.h"
#include "qwha/Quant/Grid.h"
#include "qwha/Quant/Hadamard.h"

#include "llvm/Support/MathExtras.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

using namespace qwha::quant;

//===----------------------------------------------------------------------===//
// SparseMatrix
//===----------------------------------------------------------------------===//

std::vector<int64_t> SparseMatrix::getFlatIndices() const {
  std::vector<int64_t> flat;
  flat.reserve(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t p = rowOffsets[r]; p < rowOffsets[r + 1]; ++p)
      flat.push_back(r * cols + colIndices[p]);
  return flat;
}

std::vector<float> SparseMatrix::toDense() const {
  std::vector<float> dense(rows * cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t p = rowOffsets[r]; p < rowOffsets[r + 1]; ++p)
      dense[r * cols + colIndices[p]] = values[p];
  return dense;
}

llvm::Expected<SparseMatrix> SparseMatrix::fromFlat(int64_t rows, int64_t cols,
                                                    llvm::ArrayRef<int64_t> flat,
                                                    llvm::ArrayRef<float> values) {
  if (flat.size() != values.size())
    return llvm::createStringError(
        std::to_string(flat.size()) + " indices but " +
        std::to_string(values.size()) + " values");
  // Layer shapes come from the IR, where 2^32 x 2^32 is a valid type: the
  // product must not overflow before it is compared.
  int64_t entries;
  if (rows < 0 || cols < 0 || llvm::MulOverflow(rows, cols, entries) ||
      entries > int64_t(std::numeric_limits<int32_t>::max()))
    return llvm::createStringError(
        "a " + std::to_string(rows) + "x" + std::to_string(cols) +
        " adapter has more entries than 32-bit flat indices can address");
  std::vector<size_t> order(flat.size());
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = 0; i < flat.size(); ++i)
    if (flat[i] < 0 || flat[i] >= entries)
      return llvm::createStringError(
          "index " + std::to_string(flat[i]) + " at position " +
          std::to_string(i) + " is outside the " + std::to_string(rows) +
          "x" + std::to_string(cols) + " matrix");
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return flat[a] < flat[b]; });
  SparseMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.rowOffsets.assign(rows + 1, 0);
  m.colIndices.reserve(flat.size());
  m.values.reserve(flat.size());
  for (size_t j = 0; j < order.size(); ++j) {
    int64_t index = flat[order[j]];
    if (j > 0 && flat[order[j - 1]] == index)
      return llvm::createStringError(
          "index " + std::to_string(index) + " (row " +
          std::to_string(index / cols) + ", column " +
          std::to_string(index % cols) + ") appears twice");
    ++m.rowOffsets[index / cols + 1];
    m.colIndices.push_back(int32_t(index % cols));
    m.values.push_back(values[order[j]]);
  }
  for (int64_t r = 0; r < rows; ++r)
    m.rowOffsets[r + 1] += m.rowOffsets[r];
  return m;
}

//===----------------------------------------------------------------------===//
// AdaAlloc
//===----------------------------------------------------------------------===//

std::vector<int64_t> qwha::quant::allocateRowBudgets(
    llvm::ArrayRef<double> energies, int64_t budget, double power,
    int64_t maxPerRow) {
  const int64_t rows = int64_t(energies.size());
  std::vector<int64_t> result(rows, 0);
  if (rows == 0 || budget <= 0)
    return result;
  budget = std::min(budget, rows * maxPerRow);
  std::vector<double> weights(rows);
  for (int64_t i = 0; i < rows; ++i)
    weights[i] = std::pow(std::max(energies[i], 0.0), power / 2.0);
  std::vector<bool> full(rows, false);
  // Each round splits what is left over the rows that can still take more;
  // a round that fills a row hands its excess to the next round.
  int64_t remaining = budget;
  while (remaining > 0) {
    double total = 0;
    int64_t open = 0;
    for (int64_t i = 0; i < rows; ++i)
      if (!full[i]) {
        total += weights[i];
        ++open;
      }
    if (open == 0)
      break;
    std::vector<double> share(rows, 0.0);
    for (int64_t i = 0; i < rows; ++i)
      if (!full[i])
        share[i] = total > 0 ? double(remaining) * weights[i] / total
                             : double(remaining) / double(open);
    std::vector<int64_t> grant(rows, 0);
    int64_t granted = 0;
    for (int64_t i = 0; i < rows; ++i) {
      grant[i] = int64_t(std::floor(share[i]));
      granted += grant[i];
    }
    std::vector<int64_t> order;
    for (int64_t i = 0; i < rows; ++i)
      if (!full[i])
        order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return share[a] - std::floor(share[a]) > share[b] - std::floor(share[b]);
    });
    for (size_t j = 0; granted < remaining && j < order.size(); ++j) {
      ++grant[order[j]];
      ++granted;
    }
    int64_t placed = 0;
    for (int64_t i = 0; i < rows; ++i) {
      int64_t room = maxPerRow - result[i];
      int64_t take = std::min(grant[i], room);
      result[i] += take;
      placed += take;
      if (result[i] == maxPerRow)
        full[i] = true;
    }
    remaining -= placed;
    if (placed == 0)
      break;
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Initialisation
//===----------------------------------------------------------------------===//

namespace {

/// Solves (g + lambda I) f = b for a p x p symmetric g (row-major), lambda =
/// damp * mean(diag g), raising damp until Cholesky succeeds. Returns the
/// number of raises, or -1 if it never succeeds below damp = 1.
int solveDamped(const std::vector<double> &g, std::vector<double> &f,
                int64_t p, double damp, double increment) {
  double meanDiagonal = 0;
  for (int64_t i = 0; i < p; ++i)
    meanDiagonal += g[i * p + i];
  meanDiagonal = p ? meanDiagonal / double(p) : 0;
  if (!(meanDiagonal > 0))
    meanDiagonal = 1;
  std::vector<double> a;
  std::vector<double> rhs;
  for (int raises = 0; damp < 1.0; ++raises, damp += increment) {
    a = g;
    for (int64_t i = 0; i < p; ++i)
      a[i * p + i] += damp * meanDiagonal;
    rhs = f;
    if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', int(p), 1, a.data(), int(p),
                      rhs.data(), 1) == 0) {
      f = rhs;
      return raises;
    }
  }
  return -1;
}

/// Objective of values f on support s: energy - 2 f.b + f^T G f.
double supportObjective(double energy, const std::vector<double> &f,
                        const std::vector<double> &b,
                        const std::vector<double> &g, int64_t p) {
  double linear = 0, quadratic = 0;
  for (int64_t i = 0; i < p; ++i) {
    linear += f[i] * b[i];
    double row = 0;
    for (int64_t j = 0; j < p; ++j)
      row += g[i * p + j] * f[j];
    quadratic += f[i] * row;
  }
  return energy - 2 * linear + quadratic;
}

} // namespace

llvm::Expected<AdapterInitResult>
qwha::quant::initializeAdapter(llvm::ArrayRef<float> weight,
                               llvm::ArrayRef<float> quantized, int64_t rows,
                               int64_t cols, llvm::ArrayRef<float> hessian,
                               const AdapterOptions &options) {
  if (int64_t(weight.size()) != rows * cols ||
      int64_t(quantized.size()) != rows * cols)
    return llvm::createStringError(
        "weight and quantized weight must have " + std::to_string(rows) +
        " x " + std::to_string(cols) + " values");
  if (int64_t(hessian.size()) != cols * cols)
    return llvm::createStringError("Hessian has " +
                                   std::to_string(hessian.size()) +
                                   " values, expected " + std::to_string(cols) +
                                   " x " + std::to_string(cols));
  if (options.rank <= 0 || !(options.allocPower >= 0) ||
      !(options.damp >= 0 && options.damp < 1) || !(options.dampIncrement > 0))
    return llvm::createStringError(
        "rank must be positive, alloc power >= 0, damp in [0, 1) and the "
        "damp increment positive");
  if (llvm::Error err = checkFinite(weight, rows, cols, "the weight"))
    return std::move(err);
  if (llvm::Error err =
          checkFinite(quantized, rows, cols, "the quantized weight"))
    return std::move(err);
  if (llvm::Error err = checkFinite(hessian, cols, cols, "the Hessian"))
    return std::move(err);
  llvm::Expected<HadamardTransform> transform = HadamardTransform::create(cols);
  if (!transform)
    return transform.takeError();

  const int64_t n = rows, k = cols;
  AdapterInitResult result;
  result.budget = std::min(options.rank * (n + k), n * k);

  // d_i = H e_i^T for every row: the error in the transform domain.
  std::vector<double> d(n * k);
  for (int64_t i = 0; i < n * k; ++i)
    d[i] = double(weight[i]) - double(quantized[i]);
  transform->apply(d, /*normalized=*/true);

  // M = H Hx H^T: transform the rows, transpose, transform the rows again.
  std::vector<double> m(hessian.begin(), hessian.end());
  transform->apply(m, true);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j)
      std::swap(m[i * k + j], m[j * k + i]);
  transform->apply(m, true);
  // Exactly symmetric, whatever the rounding.
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j)
      m[i * k + j] = m[j * k + i] = 0.5 * (m[i * k + j] + m[j * k + i]);

  // P = D M; row energies e_i Hx e_i^T = d_i . p_i.
  std::vector<double> p(n * k);
  cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, int(n), int(k), 1.0,
              m.data(), int(k), d.data(), int(k), 0.0, p.data(), int(k));
  std::vector<double> energies(n);
  for (int64_t i = 0; i < n; ++i) {
    double e = 0;
    for (int64_t j = 0; j < k; ++j)
      e += d[i * k + j] * p[i * k + j];
    energies[i] = std::max(e, 0.0);
    result.objectiveNone += energies[i];
  }

  std::vector<int64_t> budgets =
      allocateRowBudgets(energies, result.budget, options.allocPower, k);

  SparseMatrix &f = result.adapter;
  f.rows = n;
  f.cols = k;
  f.rowOffsets.assign(n + 1, 0);
  std::vector<int32_t> support(k);
  std::mt19937_64 rng(options.seed);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t count = budgets[i];
    const double *di = d.data() + i * k;
    std::iota(support.begin(), support.end(), 0);
    if (options.selection == AdapterSelection::Magnitude) {
      // Largest magnitude first; ties to the lower column.
      std::nth_element(support.begin(), support.begin() + count, support.end(),
                       [&](int32_t a, int32_t b) {
                         double ma = std::abs(di[a]), mb = std::abs(di[b]);
                         return ma > mb || (ma == mb && a < b);
                       });
    } else {
      for (int64_t j = 0; j < count; ++j) {
        std::uniform_int_distribution<int64_t> pick(j, k - 1);
        std::swap(support[j], support[pick(rng)]);
      }
    }
    std::sort(support.begin(), support.begin() + count);

    std::vector<double> values(count), b(count), g(count * count);
    for (int64_t a = 0; a < count; ++a) {
      const int32_t sa = support[a];
      values[a] = di[sa];
      b[a] = p[i * k + sa];
      for (int64_t c = 0; c < count; ++c)
        g[a * count + c] = m[sa * k + support[c]];
    }
    double selected = supportObjective(energies[i], values, b, g, count);
    result.objectiveSelected += selected;
    double refined = selected;
    if (options.refine && count > 0) {
      std::vector<double> solution = b;
      int raises =
          solveDamped(g, solution, count, options.damp, options.dampIncrement);
      if (raises < 0)
        return llvm::createStringError(
            "row " + std::to_string(i) +
            ": the adapter's least-squares system is not positive definite "
            "even with damping 1");
      if (raises > 0)
        ++result.dampRaisedRows;
      double objective = supportObjective(energies[i], solution, b, g, count);
      // Damping biases the solution; never do worse than the selection.
      if (objective < selected) {
        values = std::move(solution);
        refined = objective;
      }
    }
    result.objectiveRefined += refined;
    for (int64_t a = 0; a < count; ++a) {
      f.colIndices.push_back(support[a]);
      f.values.push_back(float(values[a]));
    }
    f.rowOffsets[i + 1] = int32_t(f.colIndices.size());
  }
  return result;
}

llvm::Expected<std::vector<float>>
qwha::quant::applyAdapter(const SparseMatrix &adapter,
                          llvm::ArrayRef<float> inputs) {
  const int64_t k = adapter.cols;
  if (k == 0 || inputs.size() % k != 0)
    return llvm::createStringError("inputs are not whole rows of " +
                                   std::to_string(k) + " features");
  llvm::Expected<HadamardTransform> transform = HadamardTransform::create(k);
  if (!transform)
    return transform.takeError();
  std::vector<float> h(inputs.begin(), inputs.end());
  transform->apply(h, /*normalized=*/true);
  const int64_t count = int64_t(inputs.size()) / k;
  std::vector<float> out(count * adapter.rows, 0.0f);
  for (int64_t s = 0; s < count; ++s)
    for (int64_t r = 0; r < adapter.rows; ++r) {
      float sum = 0;
      for (int32_t q = adapter.rowOffsets[r]; q < adapter.rowOffsets[r + 1];
           ++q)
        sum += adapter.values[q] * h[s * k + adapter.colIndices[q]];
      out[s * adapter.rows + r] = sum;
    }
  return out;
}
