//===- Hadamard.cpp - Hadamard matrices and the fast transform ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hadamard.h"

#include "llvm/Support/MathExtras.h"

#include <cassert>
#include <cmath>

using namespace qwha::quant;

namespace {

/// A prime power q = p^k.
struct PrimePower {
  int64_t prime;
  int64_t exponent;
};

std::optional<PrimePower> asPrimePower(int64_t q) {
  if (q < 2)
    return std::nullopt;
  int64_t p = 2;
  while (p * p <= q && q % p != 0)
    ++p;
  if (q % p != 0)
    p = q; // q itself is prime.
  int64_t exponent = 0;
  while (q % p == 0) {
    q /= p;
    ++exponent;
  }
  if (q != 1)
    return std::nullopt;
  return PrimePower{p, exponent};
}

/// GF(p^k). Elements are the integers 0..q-1 read as polynomials over GF(p)
/// in base p (digit i is the coefficient of x^i); products are reduced
/// modulo the first monic irreducible polynomial of degree k in that same
/// order, which makes the field, and hence the Paley matrices, deterministic.
class FiniteField {
public:
  explicit FiniteField(PrimePower pk) : p(pk.prime), k(pk.exponent) {
    q = 1;
    for (int64_t i = 0; i < k; ++i)
      q *= p;
    if (k > 1)
      modulus = findIrreducible();
  }

  int64_t order() const { return q; }

  int64_t sub(int64_t a, int64_t b) const {
    int64_t result = 0, place = 1;
    for (int64_t i = 0; i < k; ++i, a /= p, b /= p, place *= p)
      result += (((a % p) - (b % p) + p) % p) * place;
    return result;
  }

  int64_t mul(int64_t a, int64_t b) const {
    if (k == 1)
      return (a * b) % p;
    std::vector<int64_t> product = multiplyPolys(digits(a), digits(b));
    reduce(product, modulus);
    int64_t result = 0;
    for (int64_t i = k - 1; i >= 0; --i)
      result = result * p + product[i];
    return result;
  }

private:
  std::vector<int64_t> digits(int64_t a) const {
    std::vector<int64_t> d(k);
    for (int64_t i = 0; i < k; ++i, a /= p)
      d[i] = a % p;
    return d;
  }

  std::vector<int64_t> multiplyPolys(const std::vector<int64_t> &a,
                                     const std::vector<int64_t> &b) const {
    std::vector<int64_t> c(a.size() + b.size() - 1, 0);
    for (size_t i = 0; i < a.size(); ++i)
      for (size_t j = 0; j < b.size(); ++j)
        c[i + j] = (c[i + j] + a[i] * b[j]) % p;
    return c;
  }

  /// Reduces `a` in place modulo the monic polynomial `m`; afterwards the
  /// coefficients at or above deg(m) are zero. `a` keeps at least deg(m)
  /// coefficients.
  void reduce(std::vector<int64_t> &a, const std::vector<int64_t> &m) const {
    size_t degree = m.size() - 1;
    if (a.size() < degree)
      a.resize(degree, 0);
    for (size_t i = a.size(); i-- > degree;) {
      int64_t lead = a[i];
      if (lead == 0)
        continue;
      for (size_t j = 0; j <= degree; ++j)
        a[i - degree + j] = ((a[i - degree + j] - lead * m[j]) % p + p) % p;
    }
  }

  bool isZero(const std::vector<int64_t> &a) const {
    for (int64_t c : a)
      if (c != 0)
        return false;
    return true;
  }

  /// The first monic degree-k polynomial with no monic factor of degree
  /// 1..k/2, found by trial division.
  std::vector<int64_t> findIrreducible() const {
    for (int64_t low = 0; low < q; ++low) {
      std::vector<int64_t> candidate = digits(low);
      candidate.push_back(1);
      bool irreducible = true;
      for (int64_t degree = 1; irreducible && degree <= k / 2; ++degree) {
        int64_t count = 1;
        for (int64_t i = 0; i < degree; ++i)
          count *= p;
        for (int64_t lowDivisor = 0; irreducible && lowDivisor < count;
             ++lowDivisor) {
          std::vector<int64_t> divisor(degree + 1, 0);
          int64_t rest = lowDivisor;
          for (int64_t i = 0; i < degree; ++i, rest /= p)
            divisor[i] = rest % p;
          divisor[degree] = 1;
          std::vector<int64_t> remainder = candidate;
          reduce(remainder, divisor);
          remainder.resize(degree);
          if (isZero(remainder))
            irreducible = false;
        }
      }
      if (irreducible)
        return candidate;
    }
    llvm_unreachable("an irreducible polynomial of every degree exists");
  }

  int64_t p, k, q;
  std::vector<int64_t> modulus;
};

/// The Jacobsthal matrix Q[i][j] = chi(i - j) of GF(q), chi the quadratic
/// character, row-major q x q.
std::vector<int8_t> jacobsthal(const FiniteField &field) {
  int64_t q = field.order();
  std::vector<bool> isSquare(q, false);
  for (int64_t x = 1; x < q; ++x)
    isSquare[field.mul(x, x)] = true;
  std::vector<int8_t> matrix(q * q);
  for (int64_t i = 0; i < q; ++i)
    for (int64_t j = 0; j < q; ++j) {
      int64_t diff = field.sub(i, j);
      matrix[i * q + j] = diff == 0 ? 0 : (isSquare[diff] ? 1 : -1);
    }
  return matrix;
}

enum class Construction { Sylvester, PaleyI, PaleyII };

struct BaseChoice {
  Construction construction;
  int64_t q; // field order for the Paley constructions
};

std::optional<BaseChoice> chooseConstruction(int64_t m) {
  if (m == 1)
    return BaseChoice{Construction::Sylvester, 0};
  if (m % 4 != 0)
    return std::nullopt;
  // Paley II first: its matrices are symmetric.
  if (int64_t q = m / 2 - 1; q % 4 == 1 && asPrimePower(q))
    return BaseChoice{Construction::PaleyII, q};
  if (int64_t q = m - 1; q % 4 == 3 && asPrimePower(q))
    return BaseChoice{Construction::PaleyI, q};
  return std::nullopt;
}

/// Paley I, q = 3 (mod 4): H = I + [[0, 1^T], [-1, Q]], order q + 1.
std::vector<int8_t> buildPaleyI(int64_t q) {
  FiniteField field(*asPrimePower(q));
  std::vector<int8_t> jac = jacobsthal(field);
  int64_t m = q + 1;
  std::vector<int8_t> h(m * m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      int8_t value;
      if (i == 0)
        value = 1;
      else if (j == 0)
        value = -1;
      else
        value = jac[(i - 1) * q + (j - 1)] + (i == j ? 1 : 0);
      h[i * m + j] = value;
    }
  return h;
}

/// Paley II, q = 1 (mod 4): with the symmetric conference matrix
/// C = [[0, 1^T], [1, Q]], H = C (x) [[1, 1], [1, -1]] + I (x) [[1, -1],
/// [-1, -1]], order 2 (q + 1).
std::vector<int8_t> buildPaleyII(int64_t q) {
  FiniteField field(*asPrimePower(q));
  std::vector<int8_t> jac = jacobsthal(field);
  int64_t c = q + 1, m = 2 * c;
  auto conference = [&](int64_t r, int64_t s) -> int8_t {
    if (r == 0 || s == 0)
      return r == s ? 0 : 1;
    return jac[(r - 1) * q + (s - 1)];
  };
  static const int8_t offDiagonal[2][2] = {{1, 1}, {1, -1}};
  static const int8_t onDiagonal[2][2] = {{1, -1}, {-1, -1}};
  std::vector<int8_t> h(m * m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      int64_t r = i / 2, s = j / 2;
      h[i * m + j] = r == s ? onDiagonal[i % 2][j % 2]
                            : conference(r, s) * offDiagonal[i % 2][j % 2];
    }
  return h;
}

} // namespace

bool qwha::quant::isBaseHadamardOrder(int64_t m) {
  return chooseConstruction(m).has_value();
}

std::optional<HadamardSize> qwha::quant::factorHadamardSize(int64_t d) {
  if (d < 1)
    return std::nullopt;
  int64_t twos = llvm::countr_zero(static_cast<uint64_t>(d));
  for (int64_t n = twos; n >= 0; --n) {
    int64_t m = d >> n;
    if (isBaseHadamardOrder(m))
      return HadamardSize{int64_t(1) << n, m};
  }
  return std::nullopt;
}

bool qwha::quant::isSymmetricHadamardSize(int64_t d) {
  std::optional<HadamardSize> size = factorHadamardSize(d);
  if (!size)
    return false;
  return chooseConstruction(size->baseOrder)->construction !=
         Construction::PaleyI;
}

std::vector<int8_t> qwha::quant::buildBaseHadamardMatrix(int64_t m) {
  std::optional<BaseChoice> choice = chooseConstruction(m);
  assert(choice && "not a base Hadamard order");
  switch (choice->construction) {
  case Construction::Sylvester:
    return {1};
  case Construction::PaleyI:
    return buildPaleyI(choice->q);
  case Construction::PaleyII:
    return buildPaleyII(choice->q);
  }
  llvm_unreachable("unknown construction");
}

llvm::Expected<std::vector<int8_t>> qwha::quant::buildHadamardMatrix(int64_t d) {
  llvm::Expected<HadamardTransform> transform = HadamardTransform::create(d);
  if (!transform)
    return transform.takeError();
  HadamardSize size = transform->factors();
  std::vector<int8_t> base = buildBaseHadamardMatrix(size.baseOrder);
  int64_t m = size.baseOrder;
  std::vector<int8_t> h(d * d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      int64_t a = i / m, b = i % m, a2 = j / m, b2 = j % m;
      int8_t sylvester = llvm::popcount(static_cast<uint64_t>(a & a2)) % 2 ? -1 : 1;
      h[i * d + j] = sylvester * base[b * m + b2];
    }
  return h;
}

llvm::Expected<HadamardTransform> HadamardTransform::create(int64_t d) {
  std::optional<HadamardSize> size = factorHadamardSize(d);
  if (!size)
    return llvm::createStringError(
        "no Hadamard matrix of order " + std::to_string(d) +
        ": the size must be 2^n * m with m = 1 or a Paley order (q + 1 for a "
        "prime power q = 3 mod 4, 2(q + 1) for q = 1 mod 4)");
  return HadamardTransform(*size);
}

HadamardTransform::HadamardTransform(HadamardSize size) : size_(size) {
  const int64_t m = size.baseOrder;
  if (m == 1)
    return;
  std::vector<int8_t> base = buildBaseHadamardMatrix(m);
  baseTransposedF32_.resize(m * m);
  baseTransposedF64_.resize(m * m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      baseTransposedF32_[j * m + i] = base[i * m + j];
      baseTransposedF64_[j * m + i] = base[i * m + j];
    }
}

template <typename T>
void HadamardTransform::applyImpl(llvm::MutableArrayRef<T> rows,
                                  bool normalized,
                                  const std::vector<T> &baseTransposed) const {
  const int64_t d = size();
  const int64_t m = size_.baseOrder;
  const int64_t blocks = size_.powerOfTwo;
  assert(rows.size() % d == 0 && "rows must hold whole vectors");
  std::vector<T> scratch(m);
  const T scale = normalized ? T(1) / std::sqrt(T(d)) : T(1);
  for (size_t offset = 0; offset < rows.size(); offset += d) {
    T *x = rows.data() + offset;
    // H_m on each contiguous block of m values.
    if (m > 1) {
      for (int64_t a = 0; a < blocks; ++a) {
        T *block = x + a * m;
        std::fill(scratch.begin(), scratch.end(), T(0));
        for (int64_t j = 0; j < m; ++j) {
          const T xj = block[j];
          const T *column = baseTransposed.data() + j * m;
          for (int64_t i = 0; i < m; ++i)
            scratch[i] += column[i] * xj;
        }
        std::copy(scratch.begin(), scratch.end(), block);
      }
    }
    // Sylvester butterflies across blocks: blocks [start, start + half) and
    // [start + half, start + 2 half) are two contiguous runs of half * m
    // values, combined elementwise.
    for (int64_t half = 1; half < blocks; half *= 2) {
      const int64_t span = half * m;
      for (int64_t start = 0; start < blocks; start += 2 * half) {
        T *u = x + start * m, *v = u + span;
        for (int64_t i = 0; i < span; ++i) {
          T sum = u[i] + v[i], diff = u[i] - v[i];
          u[i] = sum;
          v[i] = diff;
        }
      }
    }
    if (normalized)
      for (int64_t i = 0; i < d; ++i)
        x[i] *= scale;
  }
}

void HadamardTransform::apply(llvm::MutableArrayRef<float> rows,
                              bool normalized) const {
  applyImpl(rows, normalized, baseTransposedF32_);
}

void HadamardTransform::apply(llvm::MutableArrayRef<double> rows,
                              bool normalized) const {
  applyImpl(rows, normalized, baseTransposedF64_);
}
