// qwha.fwht, qwha.sparse_linear and qwha.qlinear_wha lowered generically and
// executed. Expected values follow from the definitions of the matrices:
// Sylvester H_{2^n}[i, j] = (-1)^popcount(i & j); a Paley I matrix has first
// column (1, -1, ..., -1); the Paley II H_12 has first column
// (1, -1, 1, ..., 1); and H_d = H_{2^n} (x) H_m.

// RUN: qwha-opt %s -qwha-lower-to-cpu \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s
// RUN: qwha-opt %s -qwha-lower-to-cpu=kernels=generic \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  // Normalized Sylvester transform of e_0 and e_1: columns 0 and 1 / sqrt(8).
  %e01 = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                               [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>
  %h8 = qwha.fwht %e01 normalized : tensor<2x8xf32>
  %p8 = tensor.cast %h8 : tensor<2x8xf32> to tensor<*xf32>
  call @printMemrefF32(%p8) : (tensor<*xf32>) -> ()
  // CHECK: {{\[}}[0.353553, 0.353553, 0.353553, 0.353553, 0.353553, 0.353553, 0.353553, 0.353553],
  // CHECK-NEXT: [0.353553, -0.353553, 0.353553, -0.353553, 0.353553, -0.353553, 0.353553, -0.353553]]

  // 44 = 43 + 1, Paley I: H e_0 is the first column, 1 then 43 times -1.
  %z44 = arith.constant dense<0.0> : tensor<44xf32>
  %one = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %e44 = tensor.insert %one into %z44[%c0] : tensor<44xf32>
  %h44 = qwha.fwht %e44 : tensor<44xf32>
  %r44 = tensor.expand_shape %h44 [[0, 1]] output_shape [4, 11] : tensor<44xf32> into tensor<4x11xf32>
  %p44 = tensor.cast %r44 : tensor<4x11xf32> to tensor<*xf32>
  call @printMemrefF32(%p44) : (tensor<*xf32>) -> ()
  // CHECK: {{\[}}[1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
  // CHECK-NEXT: [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
  // CHECK-NEXT: [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
  // CHECK-NEXT: [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]]

  // 384 = 32 * 12 is applied as factors 16, 2 and 12: H e_0 is
  // ones(32) (x) (first column of H_12).
  %z384 = arith.constant dense<0.0> : tensor<384xf32>
  %e384 = tensor.insert %one into %z384[%c0] : tensor<384xf32>
  %h384 = qwha.fwht %e384 : tensor<384xf32>
  %r384 = tensor.expand_shape %h384 [[0, 1]] output_shape [32, 12] : tensor<384xf32> into tensor<32x12xf32>
  %p384 = tensor.cast %r384 : tensor<32x12xf32> to tensor<*xf32>
  call @printMemrefF32(%p384) : (tensor<*xf32>) -> ()
  // CHECK-COUNT-32: {{\[}}1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]

  // The QWHA layer y = W_q x + F (H x / sqrt(8)). W_q is all ones, so the
  // base part is sum(x) = 2. With x = e0 + 2 e1 - e7, (H_8 x)_i =
  // 1 + 2 (-1)^popcount(i & 1) - (-1)^popcount(i & 7): h_0 = 2, h_1 = 0,
  // h_3 = -2. F has F[0, 0] = 2, F[1, 1] = 1, F[1, 3] = -1, so the adapter
  // adds 4 / sqrt(8) = 1.41421 and 2 / sqrt(8) = 0.707107.
  %x = arith.constant dense<[[1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]]> : tensor<1x8xf32>
  %codes = arith.constant dense<1> : tensor<2x8xi4>
  %scales = arith.constant dense<1.0> : tensor<2x1xf32>
  %zeros = arith.constant dense<0> : tensor<2x1xi4>
  %rows = arith.constant dense<[0, 1, 3]> : tensor<3xi32>
  %cols = arith.constant dense<[0, 1, 3]> : tensor<3xi32>
  %vals = arith.constant dense<[2.0, 1.0, -1.0]> : tensor<3xf32>
  %y = qwha.qlinear_wha "fc" %x, %codes, %scales, %zeros group_size -1 adapter(%rows, %cols, %vals : tensor<3xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<1x8xf32>, tensor<2x8xi4>, tensor<2x1xf32>, tensor<2x1xi4> -> tensor<1x2xf32>
  %py = tensor.cast %y : tensor<1x2xf32> to tensor<*xf32>
  call @printMemrefF32(%py) : (tensor<*xf32>) -> ()
  // CHECK: {{\[}}[3.41421, 2.70711]]

  // The adapter alone, with a stored-entry count only known at run time.
  %h = qwha.fwht %x normalized : tensor<1x8xf32>
  %cols_dyn = tensor.cast %cols : tensor<3xi32> to tensor<?xi32>
  %vals_dyn = tensor.cast %vals : tensor<3xf32> to tensor<?xf32>
  %a = qwha.sparse_linear %h, %rows, %cols_dyn, %vals_dyn : tensor<1x8xf32>, tensor<3xi32>, tensor<?xi32>, tensor<?xf32> -> tensor<1x2xf32>
  %pa = tensor.cast %a : tensor<1x2xf32> to tensor<*xf32>
  call @printMemrefF32(%pa) : (tensor<*xf32>) -> ()
  // CHECK: {{\[}}[1.41421, 0.707107]]
  return
}
