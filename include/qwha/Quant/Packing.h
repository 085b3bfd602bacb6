//===- Packing.h - GPTQ checkpoint packing of codes and zeros ---*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Packing of quantized weights into the tensors of a GPTQ checkpoint as
// AutoGPTQ's QuantLinear.pack writes them and GPTQModel reads them, for a
// layer with N out features, K in features and G groups:
//
//   qweight  int32 [K / 32 * bits, N]  codes packed along K
//   qzeros   int32 [G, N / 32 * bits]  zero points packed along N
//
// Every run of 32 values along the packed axis becomes `bits` consecutive
// 32-bit words, value i at bits [bits * i, bits * i + bits) of the words
// read as one little-endian bit stream. For 2, 4 and 8 bits no value crosses
// a word; for 3 bits values 10 and 21 straddle two words.
//
// qzeros comes in two formats. In v1 (AutoGPTQ, "gptq") the stored value is
// z - 1 and every reader adds 1 back, so a zero point of 0 cannot be stored;
// in v2 (GPTQModel's "gptq_v2") the stored value is z.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_QUANT_PACKING_H
#define QWHA_QUANT_PACKING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <vector>

namespace qwha::quant {

/// The checkpoint_format of qzeros.
enum class GptqFormat {
  V1, ///< Stores z - 1 (AutoGPTQ; checkpoint_format "gptq").
  V2, ///< Stores z (GPTQModel; checkpoint_format "gptq_v2").
};

/// Packs codes given row-major [N, K] (one code per byte, as the rest of the
/// project stores them) into qweight, row-major [K / 32 * bits, N].
/// Fails on unsupported bits, K not a multiple of 32, a size mismatch or a
/// code that does not fit in `bits` bits.
llvm::Expected<std::vector<int32_t>>
packGptqWeight(llvm::ArrayRef<uint8_t> codes, int64_t outFeatures,
               int64_t inFeatures, unsigned bits);

/// Inverse of packGptqWeight: qweight [K / 32 * bits, N] -> codes [N, K].
llvm::Expected<std::vector<uint8_t>>
unpackGptqWeight(llvm::ArrayRef<int32_t> qweight, int64_t outFeatures,
                 int64_t inFeatures, unsigned bits);

/// Packs true zero points given row-major [N, G] into qzeros, row-major
/// [G, N / 32 * bits]. Fails as packGptqWeight does (with N as the packed
/// dimension) and, for V1, on a zero point of 0.
llvm::Expected<std::vector<int32_t>>
packGptqZeros(llvm::ArrayRef<uint8_t> zeros, int64_t outFeatures,
              int64_t groups, unsigned bits, GptqFormat format);

/// Inverse of packGptqZeros: qzeros -> true zero points [N, G]. For V1 a
/// stored 2^bits - 1 is an error, because readers turn it into 2^bits, which
/// is not a zero point in [0, 2^bits).
llvm::Expected<std::vector<uint8_t>>
unpackGptqZeros(llvm::ArrayRef<int32_t> qzeros, int64_t outFeatures,
                int64_t groups, unsigned bits, GptqFormat format);

/// {K / 32 * bits, N}: the shape readers expect for qweight. Computed with
/// the readers' truncating division and not validated, so that a checkpoint
/// can be compared against exactly what a reader would assume.
std::array<int64_t, 2> getGptqWeightShape(int64_t outFeatures,
                                          int64_t inFeatures, unsigned bits);

/// {G, N / 32 * bits}: the shape readers expect for qzeros; computed like
/// getGptqWeightShape.
std::array<int64_t, 2> getGptqZerosShape(int64_t outFeatures, int64_t groups,
                                         unsigned bits);

} // namespace qwha::quant

#endif // QWHA_QUANT_PACKING_H
