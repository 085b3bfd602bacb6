// RUN: qwha-opt %s -split-input-file -convert-qwha-to-gpu -verify-diagnostics
// RUN: not qwha-opt %s -convert-qwha-to-gpu="warps=0" 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not qwha-opt %s -convert-qwha-to-gpu="rows-per-warp=9" 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not qwha-opt %s -convert-qwha-to-gpu="batch-tile=17" 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not qwha-opt %s -convert-qwha-to-gpu="mma-batch-tile=12" 2>&1 | FileCheck %s --check-prefix=MMATILE
// RUN: not qwha-opt %s -convert-qwha-to-gpu="mma-batch-tile=72" 2>&1 | FileCheck %s --check-prefix=MMARANGE
// RUN: not qwha-opt %s -convert-qwha-to-gpu="mma-min-batch=-1" 2>&1 | FileCheck %s --check-prefix=MMAMIN

// WARPS: error: convert-qwha-to-gpu: warps must be in [1, 32], got 0
// ROWS: error: convert-qwha-to-gpu: rows-per-warp must be in [1, 8], got 9
// TILE: error: convert-qwha-to-gpu: batch-tile must be in [1, 16], got 17
// MMATILE: error: convert-qwha-to-gpu: mma-batch-tile must be a multiple of 8, got 12
// MMARANGE: error: convert-qwha-to-gpu: mma-batch-tile must be in [8, 64], got 72
// MMAMIN: error: convert-qwha-to-gpu: mma-min-batch must be in [0, 2147483647], got -1

// There is no generic GPU path: weights must be constants to be packed.
func.func @codes_argument(%x: tensor<2x8xf32>, %codes: tensor<3x8xi4>) -> tensor<2x3xf32> {
  %s = arith.constant dense<0.5> : tensor<3x1xf32>
  %z = arith.constant dense<8> : tensor<3x1xi4>
  // expected-error @below {{codes}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size -1 : tensor<2x8xf32>, tensor<3x8xi4>, tensor<3x1xf32>, tensor<3x1xi4> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @f16_input(%x: tensor<2x8xf16>) -> tensor<2x3xf16> {
  %codes = arith.constant dense<1> : tensor<3x8xi4>
  %s = arith.constant dense<0.5> : tensor<3x1xf16>
  %z = arith.constant dense<8> : tensor<3x1xi4>
  // expected-error @below {{'qwha.qlinear' op has a 'f16' input; the GPU kernels take f32 activations}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size -1 : tensor<2x8xf16>, tensor<3x8xi4>, tensor<3x1xf16>, tensor<3x1xi4> -> tensor<2x3xf16>
  return %y : tensor<2x3xf16>
}

// -----

func.func @observe(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @below {{'qwha.observe' op has no GPU lowering}}
  %y = qwha.observe "fc" %x : tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @dequantize(%codes: tensor<3x8xi4>) -> tensor<3x8xf32> {
  %s = arith.constant dense<0.5> : tensor<3x1xf32>
  %z = arith.constant dense<8> : tensor<3x1xi4>
  // expected-error @below {{'qwha.dequantize' op has no GPU lowering: a dequantize that does not feed a qwha.linear is not folded into a layer}}
  %w = qwha.dequantize %codes, %s, %z group_size -1 : tensor<3x8xi4>, tensor<3x1xf32>, tensor<3x1xi4> -> tensor<3x8xf32>
  return %w : tensor<3x8xf32>
}

// -----

// A row of 65536 floats does not fit in shared memory.
func.func @too_wide(%x: tensor<1x65536xf32>) -> tensor<1x65536xf32> {
  // expected-error @below {{'qwha.fwht' op transforms rows of 65536 values; the GPU kernel keeps a row in shared memory and takes at most 57344}}
  %y = qwha.fwht %x normalized : tensor<1x65536xf32>
  return %y : tensor<1x65536xf32>
}

// -----

// 2068 = 1 x 2068 is a valid size, but H_2068 is larger than the base
// matrices the lowerings build (the CPU and linalg paths refuse it too).
func.func @base_too_large(%x: tensor<1x2068xf32>) -> tensor<1x2068xf32> {
  // expected-error @below {{'qwha.fwht' op needs a base Hadamard matrix of order 2068, larger than the lowerings build (2048)}}
  %y = qwha.fwht %x normalized : tensor<1x2068xf32>
  return %y : tensor<1x2068xf32>
}

// -----

func.func @bad_adapter(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %rows = arith.constant dense<[0, 2, 1]> : tensor<3xi32>
  %cols = arith.constant dense<[1, 2]> : tensor<2xi32>
  %vals = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  // expected-error @below {{'qwha.sparse_linear' op row_offsets must not decrease: row_offsets[1] = 2 > row_offsets[2] = 1}}
  %y = qwha.sparse_linear %x, %rows, %cols, %vals : tensor<1x8xf32>, tensor<3xi32>, tensor<2xi32>, tensor<2xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @column_out_of_range(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %rows = arith.constant dense<[0, 1]> : tensor<2xi32>
  %cols = arith.constant dense<[8]> : tensor<1xi32>
  %vals = arith.constant dense<[1.0]> : tensor<1xf32>
  // expected-error @below {{'qwha.sparse_linear' op cols[0] = 8 is not an input column in [0, 8)}}
  %y = qwha.sparse_linear %x, %rows, %cols, %vals : tensor<1x8xf32>, tensor<2xi32>, tensor<1xi32>, tensor<1xf32> -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @nan_scale(%x: tensor<2x8xf32>) -> tensor<2x3xf32> {
  %codes = arith.constant dense<1> : tensor<3x8xi4>
  %s = arith.constant dense<[[0.5], [0x7FC00000], [0.5]]> : tensor<3x1xf32>
  %z = arith.constant dense<8> : tensor<3x1xi4>
  // expected-error @below {{'qwha.qlinear' op cannot pack the weight of layer 'fc' for the GPU: scale of row 1, group 0 is not finite (nan)}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size -1 : tensor<2x8xf32>, tensor<3x8xi4>, tensor<3x1xf32>, tensor<3x1xi4> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @nan_adapter(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %rows = arith.constant dense<[0, 1]> : tensor<2xi32>
  %cols = arith.constant dense<[2]> : tensor<1xi32>
  %vals = arith.constant dense<[0x7F800000]> : tensor<1xf32>
  // expected-error @below {{'qwha.sparse_linear' op has a non-finite adapter value (INF)}}
  %y = qwha.sparse_linear %x, %rows, %cols, %vals : tensor<1x8xf32>, tensor<2xi32>, tensor<1xi32>, tensor<1xf32> -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
