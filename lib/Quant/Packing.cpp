//===- Packing.cpp - GPTQ checkpoint packing of codes and zeros -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The 3-bit scheme follows AutoGPTQ's QuantLinear.pack loop word by word
// rather than a generic bit stream, so that the tests' bit-stream reference
// checks it independently.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Packing.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/MathExtras.h"

#include <string>

using namespace qwha::quant;

/// Values per packed run; a run of 32 values is always `bits` words.
static constexpr int64_t kRun = 32;

static std::string shapeString(int64_t rows, int64_t cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

static llvm::Error checkBits(unsigned bits) {
  if (bits == 2 || bits == 3 || bits == 4 || bits == 8)
    return llvm::Error::success();
  return llvm::createStringError("unsupported GPTQ code width " +
                                 std::to_string(bits) +
                                 " bits (expected 2, 3, 4 or 8)");
}

/// Checks the unpacked [rows, cols] shape and returns rows * cols. The
/// dimension packed along (rows if `packRows`) must be a multiple of 32:
/// readers size the packed tensor as dim / 32 * bits, so anything else
/// cannot round-trip.
static llvm::Expected<int64_t> checkShape(const char *tensor,
                                          const char *rowName, int64_t rows,
                                          const char *colName, int64_t cols,
                                          bool packRows) {
  if (rows <= 0)
    return llvm::createStringError(std::string(rowName) +
                                   " must be positive, got " +
                                   std::to_string(rows));
  if (cols <= 0)
    return llvm::createStringError(std::string(colName) +
                                   " must be positive, got " +
                                   std::to_string(cols));
  const char *packedName = packRows ? rowName : colName;
  int64_t packed = packRows ? rows : cols;
  if (packed % kRun != 0)
    return llvm::createStringError(
        std::string(packedName) + " = " + std::to_string(packed) +
        " is not a multiple of 32, which GPTQ " + tensor +
        " packing requires (readers size it by " + packedName +
        " / 32 * bits)");
  int64_t count;
  if (llvm::MulOverflow(rows, cols, count))
    return llvm::createStringError(std::string(tensor) + " shape " +
                                   shapeString(rows, cols) + " is too large");
  return count;
}

static llvm::Error sizeError(const char *what, size_t actual, int64_t expected,
                             const std::string &shape) {
  return llvm::createStringError(
      std::string(what) + " has " + std::to_string(actual) +
      " entries, expected " + std::to_string(expected) + " for shape " + shape);
}

/// Packs 32 values of `bits` bits into `bits` words.
static void packRun(const uint32_t *in, unsigned bits, uint32_t *out) {
  for (unsigned w = 0; w < bits; ++w)
    out[w] = 0;
  if (bits != 3) {
    const unsigned perWord = 32 / bits;
    for (unsigned i = 0; i < kRun; ++i)
      out[i / perWord] |= in[i] << (bits * (i % perWord));
    return;
  }
  // AutoGPTQ's loop: codes 10 and 21 are split across word boundaries.
  for (unsigned j = 0; j < 10; ++j)
    out[0] |= in[j] << (3 * j);
  out[0] |= in[10] << 30;
  out[1] |= (in[10] >> 2) & 1;
  for (unsigned j = 0; j < 10; ++j)
    out[1] |= in[11 + j] << (3 * j + 1);
  out[1] |= in[21] << 31;
  out[2] |= (in[21] >> 1) & 0x3;
  for (unsigned j = 0; j < 10; ++j)
    out[2] |= in[22 + j] << (3 * j + 2);
}

/// Inverse of packRun.
static void unpackRun(const uint32_t *in, unsigned bits, uint32_t *out) {
  const uint32_t mask = (1u << bits) - 1;
  if (bits != 3) {
    const unsigned perWord = 32 / bits;
    for (unsigned i = 0; i < kRun; ++i)
      out[i] = (in[i / perWord] >> (bits * (i % perWord))) & mask;
    return;
  }
  for (unsigned j = 0; j < 10; ++j)
    out[j] = (in[0] >> (3 * j)) & mask;
  out[10] = (in[0] >> 30) | ((in[1] & 1) << 2);
  for (unsigned j = 0; j < 10; ++j)
    out[11 + j] = (in[1] >> (3 * j + 1)) & mask;
  out[21] = (in[1] >> 31) | ((in[2] & 0x3) << 1);
  for (unsigned j = 0; j < 10; ++j)
    out[22 + j] = (in[2] >> (3 * j + 2)) & mask;
}

std::array<int64_t, 2> qwha::quant::getGptqWeightShape(int64_t outFeatures,
                                                       int64_t inFeatures,
                                                       unsigned bits) {
  return {inFeatures / kRun * int64_t(bits), outFeatures};
}

std::array<int64_t, 2> qwha::quant::getGptqZerosShape(int64_t outFeatures,
                                                      int64_t groups,
                                                      unsigned bits) {
  return {groups, outFeatures / kRun * int64_t(bits)};
}

llvm::Expected<std::vector<int32_t>>
qwha::quant::packGptqWeight(llvm::ArrayRef<uint8_t> codes, int64_t outFeatures,
                            int64_t inFeatures, unsigned bits) {
  if (llvm::Error err = checkBits(bits))
    return std::move(err);
  llvm::Expected<int64_t> count =
      checkShape("qweight", "out features N", outFeatures, "in features K",
                 inFeatures, /*packRows=*/false);
  if (!count)
    return count.takeError();
  if (int64_t(codes.size()) != *count)
    return sizeError("codes", codes.size(), *count,
                     shapeString(outFeatures, inFeatures) + " (N x K)");
  const unsigned limit = 1u << bits;
  for (int64_t i = 0; i < *count; ++i)
    if (codes[i] >= limit)
      return llvm::createStringError(
          "code " + std::to_string(codes[i]) +
          " at [n, k] = " + shapeString(i / inFeatures, i % inFeatures) +
          " does not fit in " + std::to_string(bits) + " bits");

  const int64_t n = outFeatures;
  std::vector<int32_t> qweight(*count / kRun * bits);
  uint32_t run[kRun], words[8];
  for (int64_t block = 0; block < inFeatures / kRun; ++block)
    for (int64_t col = 0; col < n; ++col) {
      const uint8_t *src = codes.data() + col * inFeatures + block * kRun;
      for (int64_t i = 0; i < kRun; ++i)
        run[i] = src[i];
      packRun(run, bits, words);
      for (unsigned w = 0; w < bits; ++w)
        qweight[(block * bits + w) * n + col] =
            llvm::bit_cast<int32_t>(words[w]);
    }
  return qweight;
}

llvm::Expected<std::vector<uint8_t>>
qwha::quant::unpackGptqWeight(llvm::ArrayRef<int32_t> qweight,
                              int64_t outFeatures, int64_t inFeatures,
                              unsigned bits) {
  if (llvm::Error err = checkBits(bits))
    return std::move(err);
  llvm::Expected<int64_t> count =
      checkShape("qweight", "out features N", outFeatures, "in features K",
                 inFeatures, /*packRows=*/false);
  if (!count)
    return count.takeError();
  std::array<int64_t, 2> shape =
      getGptqWeightShape(outFeatures, inFeatures, bits);
  if (int64_t(qweight.size()) != shape[0] * shape[1])
    return sizeError("qweight", qweight.size(), shape[0] * shape[1],
                     shapeString(shape[0], shape[1]) + " (K / 32 * bits x N)");

  const int64_t n = outFeatures;
  std::vector<uint8_t> codes(*count);
  uint32_t words[8], run[kRun];
  for (int64_t block = 0; block < inFeatures / kRun; ++block)
    for (int64_t col = 0; col < n; ++col) {
      for (unsigned w = 0; w < bits; ++w)
        words[w] =
            llvm::bit_cast<uint32_t>(qweight[(block * bits + w) * n + col]);
      unpackRun(words, bits, run);
      uint8_t *dst = codes.data() + col * inFeatures + block * kRun;
      for (int64_t i = 0; i < kRun; ++i)
        dst[i] = uint8_t(run[i]);
    }
  return codes;
}

llvm::Expected<std::vector<int32_t>>
qwha::quant::packGptqZeros(llvm::ArrayRef<uint8_t> zeros, int64_t outFeatures,
                           int64_t groups, unsigned bits, GptqFormat format) {
  if (llvm::Error err = checkBits(bits))
    return std::move(err);
  llvm::Expected<int64_t> count =
      checkShape("qzeros", "out features N", outFeatures, "groups G", groups,
                 /*packRows=*/true);
  if (!count)
    return count.takeError();
  if (int64_t(zeros.size()) != *count)
    return sizeError("zeros", zeros.size(), *count,
                     shapeString(outFeatures, groups) + " (N x G)");
  const unsigned limit = 1u << bits;
  for (int64_t i = 0; i < *count; ++i) {
    if (zeros[i] >= limit)
      return llvm::createStringError(
          "zero point " + std::to_string(zeros[i]) +
          " at [n, g] = " + shapeString(i / groups, i % groups) +
          " does not fit in " + std::to_string(bits) + " bits");
    if (format == GptqFormat::V1 && zeros[i] == 0)
      return llvm::createStringError(
          "zero point 0 at [n, g] = " + shapeString(i / groups, i % groups) +
          " cannot be stored in GPTQ v1 qzeros: v1 stores z - 1 and readers "
          "add 1 back, so it would read back as " +
          std::to_string(limit) + "; use the v2 format (gptq_v2) instead");
  }

  // v1 stores z - 1; zero points of 0 were rejected above, so no wrap.
  const uint32_t offset = format == GptqFormat::V1 ? 1 : 0;
  const int64_t wordsPerRow = outFeatures / kRun * bits;
  std::vector<int32_t> qzeros(groups * wordsPerRow);
  uint32_t run[kRun], words[8];
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t block = 0; block < outFeatures / kRun; ++block) {
      for (int64_t i = 0; i < kRun; ++i)
        run[i] = zeros[(block * kRun + i) * groups + g] - offset;
      packRun(run, bits, words);
      for (unsigned w = 0; w < bits; ++w)
        qzeros[g * wordsPerRow + block * bits + w] =
            llvm::bit_cast<int32_t>(words[w]);
    }
  return qzeros;
}

llvm::Expected<std::vector<uint8_t>>
qwha::quant::unpackGptqZeros(llvm::ArrayRef<int32_t> qzeros,
                             int64_t outFeatures, int64_t groups, unsigned bits,
                             GptqFormat format) {
  if (llvm::Error err = checkBits(bits))
    return std::move(err);
  llvm::Expected<int64_t> count =
      checkShape("qzeros", "out features N", outFeatures, "groups G", groups,
                 /*packRows=*/true);
  if (!count)
    return count.takeError();
  std::array<int64_t, 2> shape = getGptqZerosShape(outFeatures, groups, bits);
  if (int64_t(qzeros.size()) != shape[0] * shape[1])
    return sizeError("qzeros", qzeros.size(), shape[0] * shape[1],
                     shapeString(shape[0], shape[1]) + " (G x N / 32 * bits)");

  const uint32_t mask = (1u << bits) - 1;
  const int64_t wordsPerRow = shape[1];
  std::vector<uint8_t> zeros(*count);
  uint32_t words[8], run[kRun];
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t block = 0; block < outFeatures / kRun; ++block) {
      for (unsigned w = 0; w < bits; ++w)
        words[w] = llvm::bit_cast<uint32_t>(
            qzeros[g * wordsPerRow + block * bits + w]);
      unpackRun(words, bits, run);
      for (int64_t i = 0; i < kRun; ++i) {
        int64_t col = block * kRun + i;
        if (format == GptqFormat::V1 && run[i] == mask)
          return llvm::createStringError(
              "GPTQ v1 qzeros stores " + std::to_string(mask) +
              " at [g, n] = " + shapeString(g, col) +
              ", which reads back as zero point " + std::to_string(mask + 1) +
              ", outside [0, " + std::to_string(mask + 1) + ") for " +
              std::to_string(bits) + " bits");
        zeros[col * groups + g] =
            uint8_t(format == GptqFormat::V1 ? run[i] + 1 : run[i]);
      }
    }
  return zeros;
}
