//===- RawTensor.cpp - Layout changes on raw tensor bytes -----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/RawTensor.h"

#include <cassert>
#include <cstring>

std::vector<char> qwha::transposeRaw(llvm::ArrayRef<char> source,
                                     llvm::ArrayRef<int64_t> shape,
                                     llvm::ArrayRef<int64_t> permutation,
                                     size_t elementBytes) {
  const size_t rank = shape.size();
  assert(permutation.size() == rank && "permutation must cover every dim");
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  assert(source.size() == size_t(count) * elementBytes && "size mismatch");
  std::vector<char> result(source.size());
  if (count == 0)
    return result;
  if (rank == 0) {
    std::memcpy(result.data(), source.data(), elementBytes);
    return result;
  }

  // Source strides (in elements), then the stride in the source of each
  // result dimension; walk the result in row-major order with an odometer.
  std::vector<int64_t> sourceStrides(rank, 1);
  for (size_t i = rank; i-- > 1;)
    sourceStrides[i - 1] = sourceStrides[i] * shape[i];
  std::vector<int64_t> resultShape(rank), strideInSource(rank);
  for (size_t j = 0; j < rank; ++j) {
    resultShape[j] = shape[permutation[j]];
    strideInSource[j] = sourceStrides[permutation[j]];
  }

  std::vector<int64_t> index(rank, 0);
  int64_t sourceOffset = 0;
  char *out = result.data();
  const int64_t innerSize = resultShape[rank - 1];
  const int64_t innerStride = strideInSource[rank - 1];
  for (int64_t done = 0; done < count; done += innerSize) {
    for (int64_t i = 0; i < innerSize; ++i) {
      std::memcpy(out, source.data() + (sourceOffset + i * innerStride) *
                                           elementBytes,
                  elementBytes);
      out += elementBytes;
    }
    // Advance the odometer over all but the innermost dimension.
    for (size_t j = rank - 1; j-- > 0;) {
      sourceOffset += strideInSource[j];
      if (++index[j] < resultShape[j])
        break;
      sourceOffset -= strideInSource[j] * resultShape[j];
      index[j] = 0;
    }
  }
  return result;
}
