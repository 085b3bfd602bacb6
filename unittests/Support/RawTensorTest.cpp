//===- RawTensorTest.cpp - Tests of raw tensor layout changes -------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/RawTensor.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

using namespace qwha;

namespace {

std::vector<char> asBytes(const std::vector<int32_t> &values) {
  std::vector<char> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<int32_t> asInts(const std::vector<char> &bytes) {
  std::vector<int32_t> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

/// out[j...] = in[i...] with i[perm[j]] = j-th coordinate, by definition.
std::vector<int32_t> bruteForce(const std::vector<int32_t> &in,
                                const std::vector<int64_t> &shape,
                                const std::vector<int64_t> &perm) {
  size_t rank = shape.size();
  std::vector<int64_t> outShape(rank);
  for (size_t j = 0; j < rank; ++j)
    outShape[j] = shape[perm[j]];
  std::vector<int32_t> out(in.size());
  std::vector<int64_t> outIndex(rank, 0);
  for (size_t flat = 0; flat < in.size(); ++flat) {
    // Decode flat into outIndex.
    size_t rest = flat;
    for (size_t j = rank; j-- > 0;) {
      outIndex[j] = rest % outShape[j];
      rest /= outShape[j];
    }
    std::vector<int64_t> inIndex(rank);
    for (size_t j = 0; j < rank; ++j)
      inIndex[perm[j]] = outIndex[j];
    size_t inFlat = 0;
    for (size_t i = 0; i < rank; ++i)
      inFlat = inFlat * shape[i] + inIndex[i];
    out[flat] = in[inFlat];
  }
  return out;
}

TEST(RawTensor, MatrixTranspose) {
  std::vector<int32_t> m = {1, 2, 3, 4, 5, 6}; // 2 x 3
  std::vector<int32_t> t = asInts(transposeRaw(asBytes(m), {2, 3}, {1, 0}, 4));
  EXPECT_EQ(t, (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
}

TEST(RawTensor, EveryPermutationOfARank4TensorMatchesBruteForce) {
  std::vector<int64_t> shape = {2, 3, 1, 5};
  std::vector<int32_t> in(30);
  std::iota(in.begin(), in.end(), 100);
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    std::vector<int32_t> got =
        asInts(transposeRaw(asBytes(in), shape, perm, 4));
    EXPECT_EQ(got, bruteForce(in, shape, perm));
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(RawTensor, InversePermutationRestores) {
  std::mt19937 rng(5);
  std::vector<int64_t> shape = {4, 7, 3};
  std::vector<int32_t> in(84);
  for (int32_t &v : in)
    v = int32_t(rng());
  std::vector<int64_t> perm = {2, 0, 1}, inverse = {1, 2, 0};
  std::vector<int64_t> permutedShape = {3, 4, 7};
  std::vector<char> there = transposeRaw(asBytes(in), shape, perm, 4);
  std::vector<char> back = transposeRaw(there, permutedShape, inverse, 4);
  EXPECT_EQ(asInts(back), in);
}

TEST(RawTensor, TwoByteElementsAndEdgeShapes) {
  std::vector<uint16_t> m = {1, 2, 3, 4}; // 2 x 2 of f16-sized elements
  std::vector<char> bytes(8);
  std::memcpy(bytes.data(), m.data(), 8);
  std::vector<char> t = transposeRaw(bytes, {2, 2}, {1, 0}, 2);
  std::vector<uint16_t> out(4);
  std::memcpy(out.data(), t.data(), 8);
  EXPECT_EQ(out, (std::vector<uint16_t>{1, 3, 2, 4}));

  EXPECT_TRUE(transposeRaw({}, {0, 3}, {1, 0}, 4).empty());
  std::vector<int32_t> scalar = {42};
  EXPECT_EQ(asInts(transposeRaw(asBytes(scalar), {}, {}, 4)), scalar);
}

} // namespace
