//===- TestWeights.h - Random quantized weights for the Quant tests -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Seeded random group-quantized weights in the three column orders the
// packers handle: contiguous groups, GPTQ act-order (a permutation of
// contiguous groups) and an arbitrary g_idx with groups of uneven sizes.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_UNITTESTS_QUANT_TESTWEIGHTS_H
#define QWHA_UNITTESTS_QUANT_TESTWEIGHTS_H

#include "qwha/Quant/QuantizedWeight.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace qwha::quant::test {

struct RandomWeight {
  int64_t rows, cols, groupSize;
  unsigned bits;
  std::vector<uint8_t> codes;
  std::vector<float> scales, zeros;
  std::vector<int32_t> gIdx;

  QuantizedWeightView view() const {
    QuantizedWeightView v;
    v.rows = rows;
    v.cols = cols;
    v.groupSize = groupSize;
    v.bits = bits;
    v.codes = codes;
    v.scales = scales;
    v.zeros = zeros;
    v.gIdx = gIdx;
    return v;
  }
};

enum class Order { Contiguous, ActOrder, Uneven };

inline RandomWeight makeWeight(int64_t rows, int64_t cols, int64_t groupSize,
                        unsigned bits, Order order, unsigned seed) {
  std::mt19937 rng(seed);
  RandomWeight w{rows, cols, groupSize, bits, {}, {}, {}, {}};
  std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
  std::uniform_real_distribution<float> scale(0.01f, 0.1f);
  const int64_t groups = cols / groupSize;
  for (int64_t i = 0; i < rows * cols; ++i)
    w.codes.push_back(uint8_t(code(rng)));
  for (int64_t i = 0; i < rows * groups; ++i) {
    w.scales.push_back(scale(rng));
    w.zeros.push_back(float(code(rng)));
  }
  if (order == Order::ActOrder) {
    // GPTQ act-order: group of column perm[j] is j / groupSize.
    std::vector<int32_t> perm(cols);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    w.gIdx.resize(cols);
    for (int64_t j = 0; j < cols; ++j)
      w.gIdx[perm[j]] = int32_t(j / groupSize);
  } else if (order == Order::Uneven) {
    std::uniform_int_distribution<int32_t> group(0, int32_t(groups - 1));
    for (int64_t k = 0; k < cols; ++k)
      w.gIdx.push_back(group(rng));
  }
  return w;
}

} // namespace qwha::quant::test

#endif // QWHA_UNITTESTS_QUANT_TESTWEIGHTS_H
