// Options the kernels cannot be built with are errors, not silent
// fallbacks.

// RUN: not qwha-opt %s -convert-qwha-to-cpu="vector-width=12" 2>&1 | FileCheck %s --check-prefix=WIDTH
// WIDTH: error: convert-qwha-to-cpu: vector-width must be 4, 8, 16 or 32, got 12

// RUN: not qwha-opt %s -convert-qwha-to-cpu="gemm-rows=0" 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: convert-qwha-to-cpu: gemm-rows must be in [1, 64], got 0

// RUN: not qwha-opt %s -convert-qwha-to-cpu="gemm-blocks=65" 2>&1 | FileCheck %s --check-prefix=BLOCKS
// BLOCKS: error: convert-qwha-to-cpu: gemm-blocks must be in [1, 64], got 65

// RUN: not qwha-opt %s -convert-qwha-to-cpu="gemv-blocks=-1" 2>&1 | FileCheck %s --check-prefix=STREAMS
// STREAMS: error: convert-qwha-to-cpu: gemv-blocks must be in [1, 64], got -1

// RUN: not qwha-opt %s -convert-qwha-to-cpu="threads=0" 2>&1 | FileCheck %s --check-prefix=THREADS
// THREADS: error: convert-qwha-to-cpu: threads must be in [1, 1024], got 0

// RUN: not qwha-opt %s -convert-qwha-to-cpu="prefetch-distance=100" 2>&1 | FileCheck %s --check-prefix=PREFETCH
// PREFETCH: error: convert-qwha-to-cpu: prefetch-distance must be a non-negative multiple of 64 bytes, got 100

// The pipeline forwards its options and names its kernel choices.
// RUN: not qwha-opt %s -qwha-lower-to-cpu="vector-width=3" 2>&1 | FileCheck %s --check-prefix=PIPELINE
// PIPELINE: error: convert-qwha-to-cpu: vector-width must be 4, 8, 16 or 32, got 3
// RUN: not qwha-opt %s -qwha-lower-to-cpu="kernels=fast" 2>&1 | FileCheck %s --check-prefix=KERNELS
// KERNELS: for the --kernels option: Cannot find option named 'fast'!

func.func @f(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  return %x : tensor<1x8xf32>
}
