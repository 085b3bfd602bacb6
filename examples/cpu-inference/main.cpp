//===- main.cpp - Call a model compiled by qwha-compile -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs @forward of model.mlir, compiled ahead of time into model.so, on a
// batch of three inputs and prints the outputs (commands in README.md).
//
//===----------------------------------------------------------------------===//

#include "model.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main() {
  // Row-major [batch, 8]: x[b][k] = ((8 b + k) mod 7 - 3) / 4.
  const int64_t batch = 3, features = 8;
  std::vector<float> x(batch * features);
  for (int64_t i = 0; i < batch * features; ++i)
    x[i] = float(i % 7 - 3) / 4;

  // A descriptor over memory the caller owns; the library only reads it.
  qwha_memref_f32_2d input = {x.data(), x.data(), /*offset=*/0,
                              /*sizes=*/{batch, features},
                              /*strides=*/{features, 1}};
  qwha_memref_f32_2d output;
  _mlir_ciface_forward(&output, &input);

  // The result's shape and strides come back in its descriptor.
  std::printf("forward: sizes = [%lld, %lld] data =\n",
              (long long)output.sizes[0], (long long)output.sizes[1]);
  for (int64_t b = 0; b < output.sizes[0]; ++b) {
    std::printf(b == 0 ? "[[" : " [");
    for (int64_t n = 0; n < output.sizes[1]; ++n)
      std::printf("%s%.9g", n ? ", " : "",
                  output.aligned[output.offset + b * output.strides[0] +
                                 n * output.strides[1]]);
    std::printf(b + 1 == output.sizes[0] ? "]]\n" : "],\n");
  }

  // The library allocated the result with malloc; it is ours to free.
  std::free(output.allocated);
  return 0;
}
