//===- PackingTest.cpp - Tests of GPTQ checkpoint packing -----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Expected words come from hand computation on AutoGPTQ's QuantLinear.pack
// loop or from a bit-by-bit reference written here from the layout's
// description, never from the implementation under test.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Packing.h"

#include "gtest/gtest.h"

#include <random>

using namespace qwha::quant;

namespace {

const unsigned kWidths[] = {2, 3, 4, 8};

template <typename T> std::string errorOf(llvm::Expected<T> &value) {
  return value ? std::string() : llvm::toString(value.takeError());
}

template <typename T> std::string errorOf(llvm::Expected<T> &&value) {
  return errorOf(value);
}

int32_t word(uint32_t bits) { return static_cast<int32_t>(bits); }

std::vector<int32_t> words(std::initializer_list<uint32_t> list) {
  std::vector<int32_t> out;
  for (uint32_t w : list)
    out.push_back(word(w));
  return out;
}

std::vector<uint8_t> randomValues(std::mt19937 &rng, size_t count, unsigned lo,
                                  unsigned hi) {
  std::uniform_int_distribution<unsigned> dist(lo, hi);
  std::vector<uint8_t> out(count);
  for (uint8_t &v : out)
    v = uint8_t(dist(rng));
  return out;
}

/// Bit-level reference: value i of `line` occupies bits [bits * i,
/// bits * i + bits) of the concatenated little-endian 32-bit words.
std::vector<uint32_t> referenceStream(const std::vector<uint32_t> &line,
                                      unsigned bits) {
  std::vector<uint32_t> stream(line.size() * bits / 32, 0);
  for (size_t i = 0; i < line.size(); ++i)
    for (unsigned b = 0; b < bits; ++b)
      if ((line[i] >> b) & 1) {
        size_t pos = bits * i + b;
        stream[pos / 32] |= 1u << (pos % 32);
      }
  return stream;
}

/// Inverse of referenceStream, also bit by bit.
std::vector<uint32_t> referenceUnstream(const std::vector<uint32_t> &stream,
                                        unsigned bits) {
  std::vector<uint32_t> line(stream.size() * 32 / bits, 0);
  for (size_t i = 0; i < line.size(); ++i)
    for (unsigned b = 0; b < bits; ++b) {
      size_t pos = bits * i + b;
      line[i] |= ((stream[pos / 32] >> (pos % 32)) & 1) << b;
    }
  return line;
}

/// qweight [K / 32 * bits, N] from codes [N, K] via the bit-stream reference
/// along K, one output column at a time.
std::vector<int32_t> referenceWeight(const std::vector<uint8_t> &codes,
                                     int64_t n, int64_t k, unsigned bits) {
  const int64_t rows = k / 32 * bits;
  std::vector<int32_t> out(rows * n);
  for (int64_t col = 0; col < n; ++col) {
    std::vector<uint32_t> line(codes.begin() + col * k,
                               codes.begin() + (col + 1) * k);
    std::vector<uint32_t> stream = referenceStream(line, bits);
    for (int64_t r = 0; r < rows; ++r)
      out[r * n + col] = word(stream[r]);
  }
  return out;
}

/// qzeros [G, N / 32 * bits] from true zero points [N, G] via the bit-stream
/// reference along N, storing z - 1 (masked) for v1 and z for v2.
std::vector<int32_t> referenceZeros(const std::vector<uint8_t> &zeros,
                                    int64_t n, int64_t g, unsigned bits,
                                    GptqFormat format) {
  const int64_t cols = n / 32 * bits;
  const uint32_t mask = (1u << bits) - 1;
  std::vector<int32_t> out(g * cols);
  for (int64_t group = 0; group < g; ++group) {
    std::vector<uint32_t> line(n);
    for (int64_t row = 0; row < n; ++row) {
      uint32_t z = zeros[row * g + group];
      line[row] = format == GptqFormat::V1 ? (z - 1) & mask : z;
    }
    std::vector<uint32_t> stream = referenceStream(line, bits);
    for (int64_t c = 0; c < cols; ++c)
      out[group * cols + c] = word(stream[c]);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Hand-computed words
//===----------------------------------------------------------------------===//

TEST(PackingWeight, FourBitCodesAlongK) {
  // One output column, codes k % 16: word row r holds codes 8r .. 8r+7 at
  // nibble j, so codes 0..7 read 0x76543210 and 8..15 read 0xFEDCBA98.
  std::vector<uint8_t> codes(32);
  for (int k = 0; k < 32; ++k)
    codes[k] = uint8_t(k % 16);
  auto packed = packGptqWeight(codes, 1, 32, 4);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(*packed, words({0x76543210, 0xFEDCBA98, 0x76543210, 0xFEDCBA98}));
}

TEST(PackingWeight, FourBitColumnsAreOutFeatures) {
  // Two output columns: qweight is [4, 2], column n holds row n of codes.
  // Column 1 has code 1 everywhere except code 15 at k = 9 (row 1, nibble 1).
  std::vector<uint8_t> codes(2 * 32, 1);
  for (int k = 0; k < 32; ++k)
    codes[k] = uint8_t(k % 8);
  codes[32 + 9] = 15;
  auto packed = packGptqWeight(codes, 2, 32, 4);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(*packed, words({0x76543210, 0x11111111, //
                            0x76543210, 0x111111F1, //
                            0x76543210, 0x11111111, //
                            0x76543210, 0x11111111}));
}

TEST(PackingWeight, EightBitCodesAlongK) {
  // Word row r holds bytes k = 4r .. 4r+3, lowest k in the lowest byte.
  std::vector<uint8_t> codes(32);
  for (int k = 0; k < 32; ++k)
    codes[k] = uint8_t(k);
  codes[31] = 0xFF; // The sign bit of the last word.
  auto packed = packGptqWeight(codes, 1, 32, 8);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(*packed, words({0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C,
                            0x13121110, 0x17161514, 0x1B1A1918, 0xFF1E1D1C}));
}

TEST(PackingWeight, TwoBitCodesAlongK) {
  // 16 codes per word; codes 0, 1, 2, 3 make the byte 0b11'10'01'00 = 0xE4.
  std::vector<uint8_t> codes(32);
  for (int k = 0; k < 32; ++k)
    codes[k] = uint8_t(k % 4);
  auto packed = packGptqWeight(codes, 1, 32, 2);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(*packed, words({0xE4E4E4E4, 0xE4E4E4E4}));

  // Code 2 at k = 17 only: word 1, offset 2 * (17 - 16) = 2 -> 0x8.
  std::vector<uint8_t> single(32, 0);
  single[17] = 2;
  auto one = packGptqWeight(single, 1, 32, 2);
  ASSERT_EQ(errorOf(one), "");
  EXPECT_EQ(*one, words({0x00000000, 0x00000008}));
}

TEST(PackingWeight, ThreeBitAllSevens) {
  // Every one of the 96 bits is set.
  std::vector<uint8_t> codes(32, 7);
  auto packed = packGptqWeight(codes, 1, 32, 3);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(*packed, words({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}));
}

TEST(PackingWeight, ThreeBitStraddlingCodes) {
  struct Case {
    int k;
    uint8_t code;
    uint32_t w0, w1, w2;
  };
  const Case cases[] = {
      // k = 10: word0 |= 5 << 30 keeps 5 & 3 = 1 in bits 30-31
      // (0x40000000); word1 |= (5 >> 2) & 1 = 1 in bit 0.
      {10, 5, 0x40000000, 0x00000001, 0},
      // k = 10, code 2: 2 << 30 = 0x80000000; (2 >> 2) & 1 = 0.
      {10, 2, 0x80000000, 0, 0},
      // k = 21: word1 |= 5 << 31 keeps 5 & 1 = 1 in bit 31;
      // word2 |= (5 >> 1) & 3 = 2.
      {21, 5, 0, 0x80000000, 0x00000002},
      // k = 21, code 6: 6 << 31 drops everything; (6 >> 1) & 3 = 3.
      {21, 6, 0, 0, 0x00000003},
      // k = 9: last of the first loop, 7 << 27.
      {9, 7, 0x38000000, 0, 0},
      // k = 11: first of the second loop, 1 << (3 * 0 + 1).
      {11, 1, 0, 0x00000002, 0},
      // k = 20: last of the second loop, 7 << (3 * 9 + 1) = 7 << 28.
      {20, 7, 0, 0x70000000, 0},
      // k = 22: first of the third loop, 1 << 2.
      {22, 1, 0, 0, 0x00000004},
      // k = 31: last of the third loop, 7 << (3 * 9 + 2) = 7 << 29.
      {31, 7, 0, 0, 0xE0000000},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE("k = " + std::to_string(c.k) +
                 ", code = " + std::to_string(c.code));
    std::vector<uint8_t> codes(32, 0);
    codes[c.k] = c.code;
    auto packed = packGptqWeight(codes, 1, 32, 3);
    ASSERT_EQ(errorOf(packed), "");
    EXPECT_EQ(*packed, words({c.w0, c.w1, c.w2}));
    auto unpacked = unpackGptqWeight(*packed, 1, 32, 3);
    ASSERT_EQ(errorOf(unpacked), "");
    EXPECT_EQ(*unpacked, codes);
  }
}

TEST(PackingWeight, ThreeBitCyclicPattern) {
  // Codes k % 8.
  // word0: codes 0..9 = 0,1,...,7,0,1 at 3j: octal 1076543210 = 0x08FAC688;
  //   code 10 = 2 at << 30 adds 0x80000000 -> 0x88FAC688.
  // word1: bit 0 = (2 >> 2) & 1 = 0; codes 11..20 = 3,4,5,6,7,0,1,2,3,4 at
  //   3j + 1: octal 4321076543 << 1 = 0x4688FAC6; code 21 = 5 puts 5 & 1 in
  //   bit 31 -> 0xC688FAC6.
  // word2: bits 0-1 = (5 >> 1) & 3 = 2; codes 22..31 = 6,7,0,...,7 at
  //   3j + 2: octal 7654321076 << 2 = 0xFAC688F8 -> 0xFAC688FA.
  // A second column with a single straddling code 5 at k = 10 (0x40000000,
  // 0x00000001, 0) interleaves with the first: qweight is [3, 2].
  std::vector<uint8_t> codes(64, 0);
  for (int k = 0; k < 32; ++k)
    codes[k] = uint8_t(k % 8);
  codes[32 + 10] = 5;
  auto packed = packGptqWeight(codes, 2, 32, 3);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(*packed, words({0x88FAC688, 0x40000000, //
                            0xC688FAC6, 0x00000001, //
                            0xFAC688FA, 0x00000000}));
}

TEST(PackingWeight, UnpackHandWords) {
  auto four = unpackGptqWeight(
      words({0x76543210, 0xFEDCBA98, 0x76543210, 0xFEDCBA98}), 1, 32, 4);
  ASSERT_EQ(errorOf(four), "");
  for (int k = 0; k < 32; ++k)
    EXPECT_EQ((*four)[k], k % 16) << "k = " << k;

  auto three =
      unpackGptqWeight(words({0x88FAC688, 0xC688FAC6, 0xFAC688FA}), 1, 32, 3);
  ASSERT_EQ(errorOf(three), "");
  for (int k = 0; k < 32; ++k)
    EXPECT_EQ((*three)[k], k % 8) << "k = " << k;
}

//===----------------------------------------------------------------------===//
// Bit-stream reference
//===----------------------------------------------------------------------===//

TEST(PackingReference, StreamMatchesHandWords) {
  // Sanity check of the reference itself against the hand-computed words.
  std::vector<uint32_t> line(32);
  for (int k = 0; k < 32; ++k)
    line[k] = k % 8;
  EXPECT_EQ(referenceStream(line, 3),
            (std::vector<uint32_t>{0x88FAC688, 0xC688FAC6, 0xFAC688FA}));
  for (int k = 0; k < 32; ++k)
    line[k] = k % 16;
  EXPECT_EQ(
      referenceStream(line, 4),
      (std::vector<uint32_t>{0x76543210, 0xFEDCBA98, 0x76543210, 0xFEDCBA98}));
}

TEST(PackingReference, PackWeightMatchesBitStream) {
  std::mt19937 rng(7);
  const std::pair<int64_t, int64_t> shapes[] = {
      {1, 32}, {3, 64}, {5, 96}, {64, 128}, {7, 256}};
  for (unsigned bits : kWidths)
    for (auto [n, k] : shapes) {
      SCOPED_TRACE(std::to_string(bits) + " bits, N = " + std::to_string(n) +
                   ", K = " + std::to_string(k));
      std::vector<uint8_t> codes =
          randomValues(rng, n * k, 0, (1u << bits) - 1);
      auto packed = packGptqWeight(codes, n, k, bits);
      ASSERT_EQ(errorOf(packed), "");
      EXPECT_EQ(*packed, referenceWeight(codes, n, k, bits));
    }
}

TEST(PackingReference, UnpackWeightMatchesBitStream) {
  // Arbitrary words, every bit pattern included: unpacking must read each
  // code from exactly its bits.
  std::mt19937 rng(8);
  const int64_t n = 5, k = 128;
  for (unsigned bits : kWidths) {
    SCOPED_TRACE(std::to_string(bits) + " bits");
    const int64_t rows = k / 32 * bits;
    std::vector<int32_t> qweight(rows * n);
    for (int32_t &w : qweight)
      w = word(uint32_t(rng()));
    auto codes = unpackGptqWeight(qweight, n, k, bits);
    ASSERT_EQ(errorOf(codes), "");
    for (int64_t col = 0; col < n; ++col) {
      std::vector<uint32_t> stream(rows);
      for (int64_t r = 0; r < rows; ++r)
        stream[r] = uint32_t(qweight[r * n + col]);
      std::vector<uint32_t> line = referenceUnstream(stream, bits);
      for (int64_t i = 0; i < k; ++i)
        ASSERT_EQ((*codes)[col * k + i], line[i])
            << "n = " << col << ", k = " << i;
    }
  }
}

TEST(PackingReference, PackZerosMatchesBitStream) {
  std::mt19937 rng(9);
  const std::pair<int64_t, int64_t> shapes[] = {
      {32, 1}, {64, 3}, {96, 2}, {128, 8}};
  for (unsigned bits : kWidths)
    for (GptqFormat format : {GptqFormat::V1, GptqFormat::V2})
      for (auto [n, g] : shapes) {
        SCOPED_TRACE(std::to_string(bits) + " bits, " +
                     (format == GptqFormat::V1 ? "v1" : "v2") + ", N = " +
                     std::to_string(n) + ", G = " + std::to_string(g));
        unsigned lo = format == GptqFormat::V1 ? 1 : 0;
        std::vector<uint8_t> zeros =
            randomValues(rng, n * g, lo, (1u << bits) - 1);
        auto packed = packGptqZeros(zeros, n, g, bits, format);
        ASSERT_EQ(errorOf(packed), "");
        EXPECT_EQ(*packed, referenceZeros(zeros, n, g, bits, format));
      }
}

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST(PackingRoundTrip, Weight) {
  std::mt19937 rng(11);
  const std::pair<int64_t, int64_t> shapes[] = {
      {1, 32}, {2, 64}, {17, 96}, {32, 160}, {64, 512}};
  for (unsigned bits : kWidths)
    for (auto [n, k] : shapes) {
      SCOPED_TRACE(std::to_string(bits) + " bits, N = " + std::to_string(n) +
                   ", K = " + std::to_string(k));
      std::vector<uint8_t> codes =
          randomValues(rng, n * k, 0, (1u << bits) - 1);
      auto packed = packGptqWeight(codes, n, k, bits);
      ASSERT_EQ(errorOf(packed), "");
      std::array<int64_t, 2> shape = getGptqWeightShape(n, k, bits);
      EXPECT_EQ(int64_t(packed->size()), shape[0] * shape[1]);
      auto unpacked = unpackGptqWeight(*packed, n, k, bits);
      ASSERT_EQ(errorOf(unpacked), "");
      EXPECT_EQ(*unpacked, codes);
    }
}

TEST(PackingRoundTrip, WeightExtremeCodes) {
  // All-zero and all-maximum codes exercise the masks and the sign bit.
  for (unsigned bits : kWidths)
    for (uint8_t code : {uint8_t(0), uint8_t((1u << bits) - 1)}) {
      std::vector<uint8_t> codes(3 * 64, code);
      auto packed = packGptqWeight(codes, 3, 64, bits);
      ASSERT_EQ(errorOf(packed), "");
      for (int32_t w : *packed)
        EXPECT_EQ(w, code ? -1 : 0) << bits << " bits";
      auto unpacked = unpackGptqWeight(*packed, 3, 64, bits);
      ASSERT_EQ(errorOf(unpacked), "");
      EXPECT_EQ(*unpacked, codes);
    }
}

TEST(PackingRoundTrip, Zeros) {
  std::mt19937 rng(12);
  const std::pair<int64_t, int64_t> shapes[] = {
      {32, 1}, {64, 4}, {96, 3}, {256, 32}};
  for (unsigned bits : kWidths)
    for (GptqFormat format : {GptqFormat::V1, GptqFormat::V2})
      for (auto [n, g] : shapes) {
        SCOPED_TRACE(std::to_string(bits) + " bits, " +
                     (format == GptqFormat::V1 ? "v1" : "v2") + ", N = " +
                     std::to_string(n) + ", G = " + std::to_string(g));
        unsigned lo = format == GptqFormat::V1 ? 1 : 0;
        std::vector<uint8_t> zeros =
            randomValues(rng, n * g, lo, (1u << bits) - 1);
        auto packed = packGptqZeros(zeros, n, g, bits, format);
        ASSERT_EQ(errorOf(packed), "");
        std::array<int64_t, 2> shape = getGptqZerosShape(n, g, bits);
        EXPECT_EQ(int64_t(packed->size()), shape[0] * shape[1]);
        auto unpacked = unpackGptqZeros(*packed, n, g, bits, format);
        ASSERT_EQ(errorOf(unpacked), "");
        EXPECT_EQ(*unpacked, zeros);
      }
}

//===----------------------------------------------------------------------===//
// Zero point formats
//===----------------------------------------------------------------------===//

TEST(PackingZeros, V1StoresZMinusOneV2StoresZ) {
  // 4 bits, N = 32, G = 1: zeros 1..8 for n = 0..7, 1 elsewhere.
  // v1 stores 0..7 then 0 -> 0x76543210, 0, 0, 0.
  // v2 stores 1..8 then 1 -> 0x87654321, 0x11111111 x 3.
  std::vector<uint8_t> zeros(32, 1);
  for (int n = 0; n < 8; ++n)
    zeros[n] = uint8_t(n + 1);
  auto v1 = packGptqZeros(zeros, 32, 1, 4, GptqFormat::V1);
  ASSERT_EQ(errorOf(v1), "");
  EXPECT_EQ(*v1, words({0x76543210, 0, 0, 0}));
  auto v2 = packGptqZeros(zeros, 32, 1, 4, GptqFormat::V2);
  ASSERT_EQ(errorOf(v2), "");
  EXPECT_EQ(*v2, words({0x87654321, 0x11111111, 0x11111111, 0x11111111}));

  auto back1 = unpackGptqZeros(*v1, 32, 1, 4, GptqFormat::V1);
  ASSERT_EQ(errorOf(back1), "");
  EXPECT_EQ(*back1, zeros);
  auto back2 = unpackGptqZeros(*v2, 32, 1, 4, GptqFormat::V2);
  ASSERT_EQ(errorOf(back2), "");
  EXPECT_EQ(*back2, zeros);
}

TEST(PackingZeros, SymmetricZeroPointsPerWidth) {
  // The usual symmetric zero point 2^(bits-1): v1 stores 2^(bits-1) - 1.
  struct Case {
    unsigned bits;
    uint32_t v1, v2;
  };
  const Case cases[] = {
      {2, 0x55555555, 0xAAAAAAAA}, // 1 = 0b01 and 2 = 0b10 per 2 bits
      {4, 0x77777777, 0x88888888},
      {8, 0x7F7F7F7F, 0x80808080},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::to_string(c.bits) + " bits");
    std::vector<uint8_t> zeros(32, uint8_t(1u << (c.bits - 1)));
    auto v1 = packGptqZeros(zeros, 32, 1, c.bits, GptqFormat::V1);
    ASSERT_EQ(errorOf(v1), "");
    EXPECT_EQ(*v1, std::vector<int32_t>(c.bits, word(c.v1)));
    auto v2 = packGptqZeros(zeros, 32, 1, c.bits, GptqFormat::V2);
    ASSERT_EQ(errorOf(v2), "");
    EXPECT_EQ(*v2, std::vector<int32_t>(c.bits, word(c.v2)));
  }
}

TEST(PackingZeros, ThreeBitStraddlingZeroAlongN) {
  // Zero point 6 at n = 10, 1 elsewhere, v1: stored 5 at n = 10 and 0
  // elsewhere, so the words are those of a single code 5 at k = 10:
  // 0x40000000, 0x00000001, 0. With G = 2 the second group (all 1) is zero.
  std::vector<uint8_t> zeros(32 * 2, 1);
  zeros[10 * 2 + 0] = 6;
  auto v1 = packGptqZeros(zeros, 32, 2, 3, GptqFormat::V1);
  ASSERT_EQ(errorOf(v1), "");
  EXPECT_EQ(*v1, words({0x40000000, 0x00000001, 0, 0, 0, 0}));
  auto back = unpackGptqZeros(*v1, 32, 2, 3, GptqFormat::V1);
  ASSERT_EQ(errorOf(back), "");
  EXPECT_EQ(*back, zeros);
}

TEST(PackingZeros, ZerosAreLaidOutGroupMajor) {
  // qzeros is [G, N / 32 * bits]: N = 64, G = 2, 8 bits gives rows of 16
  // words, row g holding z[n][g] for n = 0..63.
  std::vector<uint8_t> zeros(64 * 2);
  for (int n = 0; n < 64; ++n) {
    zeros[n * 2 + 0] = uint8_t(n);
    zeros[n * 2 + 1] = uint8_t(0xC0 + n);
  }
  auto v2 = packGptqZeros(zeros, 64, 2, 8, GptqFormat::V2);
  ASSERT_EQ(errorOf(v2), "");
  ASSERT_EQ(v2->size(), 32u);
  EXPECT_EQ((*v2)[0], word(0x03020100));
  EXPECT_EQ((*v2)[15], word(0x3F3E3D3C));
  EXPECT_EQ((*v2)[16], word(0xC3C2C1C0));
  EXPECT_EQ((*v2)[31], word(0xFFFEFDFC));
}

TEST(PackingZeros, V1RejectsZeroPointZero) {
  for (unsigned bits : kWidths) {
    SCOPED_TRACE(std::to_string(bits) + " bits");
    std::vector<uint8_t> zeros(64 * 2, 1);
    zeros[33 * 2 + 1] = 0;
    std::string err =
        errorOf(packGptqZeros(zeros, 64, 2, bits, GptqFormat::V1));
    EXPECT_NE(err.find("zero point 0 at [n, g] = [33, 1]"), std::string::npos)
        << err;
    EXPECT_NE(err.find("v1"), std::string::npos) << err;
    EXPECT_NE(err.find("v2"), std::string::npos) << err;
    EXPECT_NE(err.find("read back as " + std::to_string(1u << bits)),
              std::string::npos)
        << err;
    // The same zero points are fine in v2.
    auto v2 = packGptqZeros(zeros, 64, 2, bits, GptqFormat::V2);
    ASSERT_EQ(errorOf(v2), "");
    auto back = unpackGptqZeros(*v2, 64, 2, bits, GptqFormat::V2);
    ASSERT_EQ(errorOf(back), "");
    EXPECT_EQ(*back, zeros);
  }
}

TEST(PackingZeros, V1UnpackRejectsStoredMaximum) {
  // A v1 stored 2^bits - 1 reads back as 2^bits, which is no zero point.
  for (unsigned bits : kWidths) {
    SCOPED_TRACE(std::to_string(bits) + " bits");
    std::vector<int32_t> qzeros(bits, 0);
    // Stored value at n = 0 set to all ones.
    qzeros[0] = word((1u << bits) - 1);
    std::string err =
        errorOf(unpackGptqZeros(qzeros, 32, 1, bits, GptqFormat::V1));
    EXPECT_NE(err.find("v1 qzeros stores " + std::to_string((1u << bits) - 1) +
                       " at [g, n] = [0, 0]"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("zero point " + std::to_string(1u << bits)),
              std::string::npos)
        << err;
    // In v2 the same word is the zero point 2^bits - 1.
    auto v2 = unpackGptqZeros(qzeros, 32, 1, bits, GptqFormat::V2);
    ASSERT_EQ(errorOf(v2), "");
    EXPECT_EQ((*v2)[0], (1u << bits) - 1);
    EXPECT_EQ((*v2)[1], 0u);
  }
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

TEST(PackingShapes, MatchReaders) {
  // A LLaMA-7B MLP projection: N = 4096, K = 11008.
  EXPECT_EQ(getGptqWeightShape(4096, 11008, 4),
            (std::array<int64_t, 2>{1376, 4096}));
  EXPECT_EQ(getGptqWeightShape(4096, 4096, 3),
            (std::array<int64_t, 2>{384, 4096}));
  EXPECT_EQ(getGptqWeightShape(11008, 4096, 2),
            (std::array<int64_t, 2>{256, 11008}));
  EXPECT_EQ(getGptqWeightShape(8, 64, 8), (std::array<int64_t, 2>{16, 8}));
  EXPECT_EQ(getGptqZerosShape(4096, 32, 4), (std::array<int64_t, 2>{32, 512}));
  EXPECT_EQ(getGptqZerosShape(4096, 32, 3), (std::array<int64_t, 2>{32, 384}));
  EXPECT_EQ(getGptqZerosShape(11008, 1, 8), (std::array<int64_t, 2>{1, 2752}));
  EXPECT_EQ(getGptqZerosShape(64, 3, 2), (std::array<int64_t, 2>{3, 4}));
}

TEST(PackingShapes, WeightOutFeaturesNeedNotBeAMultipleOf32) {
  // Only the packed dimension is constrained: N = 3 is fine for qweight.
  std::vector<uint8_t> codes(3 * 32, 2);
  auto packed = packGptqWeight(codes, 3, 32, 4);
  ASSERT_EQ(errorOf(packed), "");
  EXPECT_EQ(packed->size(), 4u * 3u);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST(PackingErrors, UnsupportedBits) {
  std::vector<uint8_t> bytes(32 * 32, 1);
  std::vector<int32_t> packed(32 * 32, 0);
  for (unsigned bits : {0u, 1u, 5u, 6u, 7u, 16u, 32u}) {
    SCOPED_TRACE(std::to_string(bits) + " bits");
    std::string expected = "unsupported GPTQ code width " +
                           std::to_string(bits) +
                           " bits (expected 2, 3, 4 or 8)";
    EXPECT_EQ(errorOf(packGptqWeight(bytes, 32, 32, bits)), expected);
    EXPECT_EQ(errorOf(unpackGptqWeight(packed, 32, 32, bits)), expected);
    EXPECT_EQ(errorOf(packGptqZeros(bytes, 32, 32, bits, GptqFormat::V2)),
              expected);
    EXPECT_EQ(errorOf(unpackGptqZeros(packed, 32, 32, bits, GptqFormat::V1)),
              expected);
  }
}

TEST(PackingErrors, WeightInFeaturesNotMultipleOf32) {
  std::vector<uint8_t> codes(2 * 48, 1);
  std::string err = errorOf(packGptqWeight(codes, 2, 48, 4));
  EXPECT_EQ(err, "in features K = 48 is not a multiple of 32, which GPTQ "
                 "qweight packing requires (readers size it by in features "
                 "K / 32 * bits)");
  std::vector<int32_t> qweight(2 * 4, 0);
  err = errorOf(unpackGptqWeight(qweight, 2, 48, 4));
  EXPECT_TRUE(contains(err, "in features K = 48 is not a multiple of 32"))
      << err;
}

TEST(PackingErrors, ZerosOutFeaturesNotMultipleOf32) {
  std::vector<uint8_t> zeros(40 * 2, 1);
  std::string err = errorOf(packGptqZeros(zeros, 40, 2, 3, GptqFormat::V1));
  EXPECT_EQ(err, "out features N = 40 is not a multiple of 32, which GPTQ "
                 "qzeros packing requires (readers size it by out features "
                 "N / 32 * bits)");
  std::vector<int32_t> qzeros(2 * 3, 0);
  err = errorOf(unpackGptqZeros(qzeros, 40, 2, 3, GptqFormat::V2));
  EXPECT_TRUE(contains(err, "out features N = 40 is not a multiple of 32"))
      << err;
}

TEST(PackingErrors, NonPositiveDimensions) {
  std::vector<uint8_t> bytes;
  std::vector<int32_t> packed;
  EXPECT_EQ(errorOf(packGptqWeight(bytes, 0, 32, 4)),
            "out features N must be positive, got 0");
  EXPECT_EQ(errorOf(packGptqWeight(bytes, 4, -32, 4)),
            "in features K must be positive, got -32");
  EXPECT_EQ(errorOf(unpackGptqWeight(packed, -1, 32, 4)),
            "out features N must be positive, got -1");
  EXPECT_EQ(errorOf(unpackGptqWeight(packed, 1, 0, 4)),
            "in features K must be positive, got 0");
  EXPECT_EQ(errorOf(packGptqZeros(bytes, 0, 1, 4, GptqFormat::V2)),
            "out features N must be positive, got 0");
  EXPECT_EQ(errorOf(packGptqZeros(bytes, 32, 0, 4, GptqFormat::V2)),
            "groups G must be positive, got 0");
  EXPECT_EQ(errorOf(unpackGptqZeros(packed, 32, -2, 4, GptqFormat::V1)),
            "groups G must be positive, got -2");
}

TEST(PackingErrors, ShapeTooLarge) {
  // N * K overflows int64: rejected before anything is sized or read.
  const int64_t huge = int64_t(1) << 40;
  std::vector<uint8_t> bytes(32, 0);
  std::vector<int32_t> packed(32, 0);
  std::string err = errorOf(packGptqWeight(bytes, huge, huge, 4));
  EXPECT_TRUE(contains(err, "qweight shape")) << err;
  EXPECT_TRUE(contains(err, "is too large")) << err;
  err = errorOf(unpackGptqWeight(packed, huge, huge, 4));
  EXPECT_TRUE(contains(err, "is too large")) << err;
  err = errorOf(packGptqZeros(bytes, huge, huge, 4, GptqFormat::V2));
  EXPECT_TRUE(contains(err, "qzeros shape")) << err;
  err = errorOf(unpackGptqZeros(packed, huge, huge, 4, GptqFormat::V2));
  EXPECT_TRUE(contains(err, "is too large")) << err;
}

TEST(PackingErrors, SizeMismatches) {
  std::vector<uint8_t> codes(2 * 64 - 1, 1);
  EXPECT_EQ(errorOf(packGptqWeight(codes, 2, 64, 4)),
            "codes has 127 entries, expected 128 for shape [2, 64] (N x K)");
  codes.resize(2 * 64 + 1, 1);
  EXPECT_EQ(errorOf(packGptqWeight(codes, 2, 64, 4)),
            "codes has 129 entries, expected 128 for shape [2, 64] (N x K)");

  // A short qweight must be rejected, not read past its end.
  std::vector<int32_t> qweight(6 * 2 - 1, 0);
  EXPECT_EQ(errorOf(unpackGptqWeight(qweight, 2, 64, 3)),
            "qweight has 11 entries, expected 12 for shape [6, 2] "
            "(K / 32 * bits x N)");
  qweight.assign(6 * 2 + 1, 0);
  EXPECT_TRUE(contains(errorOf(unpackGptqWeight(qweight, 2, 64, 3)),
                       "qweight has 13 entries, expected 12"));

  std::vector<uint8_t> zeros(64 * 3 - 1, 1);
  EXPECT_EQ(errorOf(packGptqZeros(zeros, 64, 3, 8, GptqFormat::V1)),
            "zeros has 191 entries, expected 192 for shape [64, 3] (N x G)");

  std::vector<int32_t> qzeros(3 * 16 - 1, 0);
  EXPECT_EQ(errorOf(unpackGptqZeros(qzeros, 64, 3, 8, GptqFormat::V2)),
            "qzeros has 47 entries, expected 48 for shape [3, 16] "
            "(G x N / 32 * bits)");
  qzeros.clear();
  EXPECT_TRUE(
      contains(errorOf(unpackGptqZeros(qzeros, 64, 3, 8, GptqFormat::V1)),
               "qzeros has 0 entries, expected 48"));
}

TEST(PackingErrors, CodeOutOfRange) {
  for (unsigned bits : kWidths) {
    if (bits == 8)
      continue; // Every byte fits in 8 bits.
    SCOPED_TRACE(std::to_string(bits) + " bits");
    std::vector<uint8_t> codes(2 * 32, 0);
    codes[1 * 32 + 5] = uint8_t(1u << bits);
    EXPECT_EQ(errorOf(packGptqWeight(codes, 2, 32, bits)),
              "code " + std::to_string(1u << bits) +
                  " at [n, k] = [1, 5] does not fit in " +
                  std::to_string(bits) + " bits");
  }
  std::vector<uint8_t> codes(32, 0);
  codes[31] = 255;
  EXPECT_EQ(errorOf(packGptqWeight(codes, 1, 32, 4)),
            "code 255 at [n, k] = [0, 31] does not fit in 4 bits");
}

TEST(PackingErrors, ZeroPointOutOfRange) {
  for (GptqFormat format : {GptqFormat::V1, GptqFormat::V2}) {
    std::vector<uint8_t> zeros(32 * 4, 1);
    zeros[7 * 4 + 2] = 8;
    EXPECT_EQ(errorOf(packGptqZeros(zeros, 32, 4, 3, format)),
              "zero point 8 at [n, g] = [7, 2] does not fit in 3 bits");
  }
}

} // namespace
