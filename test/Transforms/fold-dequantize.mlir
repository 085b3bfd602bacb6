// RUN: qwha-opt %s -split-input-file -qwha-fold-dequantize -verify-diagnostics | FileCheck %s
// RUN: qwha-opt %s -split-input-file -qwha-fold-dequantize=max-elements=4 -verify-diagnostics | FileCheck %s --check-prefix=SMALL

// W = (codes - zeros) * scales: row 0 (0 15 - 8) * 0.5 = -4 3.5, row 1
// (3 4 - 5) * -1 = 2 1.
// CHECK-LABEL: func.func @fold
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[-4.000000e+00, 3.500000e+00], [2.000000e+00, 1.000000e+00]]> : tensor<2x2xf32>
// CHECK-NOT: qwha.dequantize
// CHECK: return %[[W]]
// SMALL-LABEL: func.func @fold
// SMALL-NOT: qwha.dequantize
func.func @fold() -> tensor<2x2xf32> {
  %c = arith.constant dense<[[0, 15], [3, 4]]> : tensor<2x2xi4>
  %s = arith.constant dense<[[0.5], [-1.0]]> : tensor<2x1xf32>
  %z = arith.constant dense<[[8], [5]]> : tensor<2x1xi4>
  %w = qwha.dequantize %c, %s, %z group_size -1 : tensor<2x2xi4>, tensor<2x1xf32>, tensor<2x1xi4> -> tensor<2x2xf32>
  return %w : tensor<2x2xf32>
}

// -----

// Act-order groups and f16 data: columns 0 and 2 use group 1.
// W = [(1-0)*2, (2-1)*0.5, (3-0)*2, (4-1)*0.5] in f16.
// CHECK-LABEL: func.func @fold_act_order
// CHECK: arith.constant dense<{{\[}}[2.000000e+00, 5.000000e-01, 6.000000e+00, 1.500000e+00]]> : tensor<1x4xf16>
func.func @fold_act_order() -> tensor<1x4xf16> {
  %c = arith.constant dense<[[1, 2, 3, 4]]> : tensor<1x4xi8>
  %s = arith.constant dense<[[0.5, 2.0]]> : tensor<1x2xf16>
  %z = arith.constant dense<[[1.0, 0.0]]> : tensor<1x2xf16>
  %g = arith.constant dense<[1, 0, 1, 0]> : tensor<4xi32>
  %w = qwha.dequantize %c, %s, %z g_idx %g group_size 2 : tensor<1x4xi8>, tensor<1x2xf16>, tensor<1x2xf16>, tensor<4xi32> -> tensor<1x4xf16>
  return %w : tensor<1x4xf16>
}

// -----

// Non-constant operands and weights above max-elements stay.
// CHECK-LABEL: func.func @keep
// CHECK: qwha.dequantize
// SMALL-LABEL: func.func @keep
// SMALL-COUNT-2: qwha.dequantize
func.func @keep(%c: tensor<2x2xi4>) -> (tensor<2x2xf32>, tensor<2x4xf32>) {
  %s = arith.constant dense<1.0> : tensor<2x1xf32>
  %w = qwha.dequantize %c, %s, %s group_size -1 : tensor<2x2xi4>, tensor<2x1xf32>, tensor<2x1xf32> -> tensor<2x2xf32>
  %big = arith.constant dense<1> : tensor<2x4xi4>
  %w2 = qwha.dequantize %big, %s, %s group_size -1 : tensor<2x4xi4>, tensor<2x1xf32>, tensor<2x1xf32> -> tensor<2x4xf32>
  return %w, %w2 : tensor<2x2xf32>, tensor<2x4xf32>
}

// -----

// A group index pointing outside the grid is invalid data: not folded, and
// the reason is given.
// CHECK-LABEL: func.func @bad_group_index
// CHECK: qwha.dequantize
func.func @bad_group_index() -> tensor<1x2xf32> {
  %c = arith.constant dense<[[1, 2]]> : tensor<1x2xi4>
  %s = arith.constant dense<[[1.0, 1.0]]> : tensor<1x2xf32>
  %g = arith.constant dense<[0, 7]> : tensor<2xi32>
  // expected-warning @+1 {{not folded: g_idx[1] = 7 is not a group in [0, 2)}}
  %w = qwha.dequantize %c, %s, %s g_idx %g group_size 1 : tensor<1x2xi4>, tensor<1x2xf32>, tensor<1x2xf32>, tensor<2xi32> -> tensor<1x2xf32>
  return %w : tensor<1x2xf32>
}
