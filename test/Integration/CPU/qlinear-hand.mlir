// qwha.qlinear on hand-made codes, scales and zeros, lowered through the
// packed kernels and through the generic lowering and executed; every
// expected value is worked out in the comments.

// RUN: qwha-opt %s -qwha-lower-to-cpu \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s
// RUN: qwha-opt %s -qwha-lower-to-cpu=kernels=generic \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print(%t: tensor<2x3xf32>) {
  %u = tensor.cast %t : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %x = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [-1.0, 0.0, 1.0, 2.0]]> : tensor<2x4xf32>

  // 4-bit codes, groups of 2 columns, integer zero points.
  //   row 0: codes 0 15 | 8 9, scales 0.5 | 2, zeros 8 | 8  -> W = -4 3.5 | 0 2
  //   row 1: codes 3 4  | 5 6, scales 1 | -1,  zeros 0 | 5  -> W =  3 4   | 0 -1
  //   row 2: codes 1 1  | 1 1, scales .25|.25, zeros 1 | 0  -> W =  0 0   | .25 .25
  //   x0 = 1 2 3 4:  -4+7+0+8 = 11,  3+8+0-4 = 7,  .75+1 = 1.75
  //   x1 = -1 0 1 2:  4+0+0+4 = 8,  -3+0+0-2 = -5, .25+.5 = .75
  %codes = arith.constant dense<[[0, 15, 8, 9], [3, 4, 5, 6], [1, 1, 1, 1]]> : tensor<3x4xi4>
  %scales = arith.constant dense<[[0.5, 2.0], [1.0, -1.0], [0.25, 0.25]]> : tensor<3x2xf32>
  %zeros = arith.constant dense<[[8, 8], [0, 5], [1, 0]]> : tensor<3x2xi4>
  %y0 = qwha.qlinear "grouped" %x, %codes, %scales, %zeros group_size 2 : tensor<2x4xf32>, tensor<3x4xi4>, tensor<3x2xf32>, tensor<3x2xi4> -> tensor<2x3xf32>
  call @print(%y0) : (tensor<2x3xf32>) -> ()
  // CHECK: {{\[}}[11, 7, 1.75],
  // CHECK-NEXT: [8, -5, 0.75]]

  // The same data, act-order: g_idx puts columns 1 and 2 in group 0 and
  // columns 0 and 3 in group 1.
  //   row 0: (0-8)2 = -16, (15-8).5 = 3.5, (8-8).5 = 0, (9-8)2 = 2
  //   row 1: (3-5)(-1) = 2, (4-0)1 = 4, (5-0)1 = 5, (6-5)(-1) = -1
  //   row 2: (1-0).25 = .25, (1-1).25 = 0, 0, (1-0).25 = .25
  //   x0: -16+7+0+8 = -1, 2+8+15-4 = 21, .25+1 = 1.25
  //   x1: 16+0+0+4 = 20, -2+0+5-2 = 1, -.25+.5 = .25
  %g_idx = arith.constant dense<[1, 0, 0, 1]> : tensor<4xi32>
  %y1 = qwha.qlinear "act_order" %x, %codes, %scales, %zeros g_idx %g_idx group_size 2 : tensor<2x4xf32>, tensor<3x4xi4>, tensor<3x2xf32>, tensor<3x2xi4>, tensor<4xi32> -> tensor<2x3xf32>
  call @print(%y1) : (tensor<2x3xf32>) -> ()
  // CHECK: {{\[}}[-1, 21, 1.25],
  // CHECK-NEXT: [20, 1, 0.25]]

  // 3-bit per-channel codes, float zero points, f16 scales; 8-bit and 2-bit
  // codes. Rows of W:
  //   3-bit: (7 0 3 4 - 3.5) * 0.5 = 1.75 -1.75 -.25 .25;  x0: -1.5, x1: -1.5
  //   8-bit: (0 128 255 129 - 128) / 128 = -1 0 .9921875 .0078125;
  //          x0: -1+2.9765625+.03125 = 2.0078125, x1: 1+.9921875+.015625 = 2.0078125
  //   2-bit: groups of 2, scales 1 | 2, zeros 1 | 2: codes 0 1 | 2 3 -> -1 0 | 0 2;
  //          x0: -1+8 = 7, x1: 1+4 = 5
  %c3 = arith.constant dense<[[7, 0, 3, 4]]> : tensor<1x4xi3>
  %s3 = arith.constant dense<[[0.5]]> : tensor<1x1xf16>
  %z3 = arith.constant dense<[[3.5]]> : tensor<1x1xf16>
  %a = qwha.qlinear "three_bit" %x, %c3, %s3, %z3 group_size -1 : tensor<2x4xf32>, tensor<1x4xi3>, tensor<1x1xf16>, tensor<1x1xf16> -> tensor<2x1xf32>
  %c8 = arith.constant dense<[[0, 128, 255, 129]]> : tensor<1x4xi8>
  %s8 = arith.constant dense<[[0.0078125]]> : tensor<1x1xf32>
  %z8 = arith.constant dense<[[128]]> : tensor<1x1xi8>
  %b = qwha.qlinear "eight_bit" %x, %c8, %s8, %z8 group_size 4 : tensor<2x4xf32>, tensor<1x4xi8>, tensor<1x1xf32>, tensor<1x1xi8> -> tensor<2x1xf32>
  %c2 = arith.constant dense<[[0, 1, 2, 3]]> : tensor<1x4xi2>
  %s2 = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %z2 = arith.constant dense<[[1, 2]]> : tensor<1x2xi2>
  %c = qwha.qlinear "two_bit" %x, %c2, %s2, %z2 group_size 2 : tensor<2x4xf32>, tensor<1x4xi2>, tensor<1x2xf32>, tensor<1x2xi2> -> tensor<2x1xf32>
  %abc = tensor.concat dim(1) %a, %b, %c : (tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
  call @print(%abc) : (tensor<2x3xf32>) -> ()
  // CHECK: {{\[}}[-1.5, 2.00781, 7],
  // CHECK-NEXT: [-1.5, 2.00781, 5]]
  return
}
