//===- RawTensor.h - Layout changes on raw tensor bytes ---------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Weights arrive as raw row-major bytes (an attribute's buffer, a
// dense_resource blob, a safetensors slice). Changing their layout is a
// permutation of fixed-size elements, independent of the element type.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_RAWTENSOR_H
#define QWHA_SUPPORT_RAWTENSOR_H

#include "llvm/ADT/ArrayRef.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qwha {

/// Transposes a row-major tensor of `elementBytes`-byte elements with the
/// given static `shape`. Result dimension j is source dimension
/// `permutation[j]` (the `linalg.transpose` convention), so the result shape
/// is shape[permutation[j]]. Preconditions: `permutation` is a permutation of
/// 0..rank-1 and source.size() == product(shape) * elementBytes.
std::vector<char> transposeRaw(llvm::ArrayRef<char> source,
                               llvm::ArrayRef<int64_t> shape,
                               llvm::ArrayRef<int64_t> permutation,
                               size_t elementBytes);

} // namespace qwha

#endif // QWHA_SUPPORT_RAWTENSOR_H
