// A two-layer MLP as torch-mlir writes it (transposed weights, zero-filled
// matmuls, bias adds, ReLU) runs to the same numbers before and after
// qwha-raise-linear. The expected values are x W1^T + b1, ReLU, then
// h W2^T + b2, computed independently (numpy): the weights are small
// integers, so the results are exact.

// RUN: qwha-opt %s -qwha-lower-to-cpu \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// RUN: qwha-opt %s -qwha-raise-linear -qwha-lower-to-cpu \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// RUN: qwha-opt %s -qwha-raise-linear | FileCheck %s --check-prefix=RAISED

// RAISED-LABEL: func.func @forward
// RAISED: qwha.linear "mlp.fc1"
// RAISED: qwha.linear "mlp.fc2"
// RAISED-NOT: linalg.matmul

#bias = affine_map<(i, j) -> (j)>
#id = affine_map<(i, j) -> (i, j)>

func.func private @printMemrefF32(tensor<*xf32>)

func.func @forward(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<[[1.0, 0.0, 2.0, -1.0], [0.0, 1.0, 1.0, 0.0], [-1.0, 1.0, 0.0, 2.0], [2.0, 0.0, -1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]> : tensor<5x4xf32>
  %b1 = arith.constant dense<[0.5, -1.0, 0.0, 1.0, -2.0]> : tensor<5xf32>
  %w2 = arith.constant dense<[[1.0, -1.0, 0.0, 2.0, 1.0], [0.0, 1.0, 1.0, -1.0, 0.5], [2.0, 0.0, -1.0, 0.0, 1.0]]> : tensor<3x5xf32>
  %b2 = arith.constant dense<[0.0, 1.0, -0.5]> : tensor<3xf32>

  %e1 = tensor.empty() : tensor<4x5xf32>
  %w1t = linalg.transpose ins(%w1 : tensor<5x4xf32>) outs(%e1 : tensor<4x5xf32>) permutation = [1, 0]
  %i1 = tensor.empty() : tensor<2x5xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%i1 : tensor<2x5xf32>) -> tensor<2x5xf32>
  %m1 = linalg.matmul {qwha.name = "mlp.fc1"} ins(%x, %w1t : tensor<2x4xf32>, tensor<4x5xf32>) outs(%f1 : tensor<2x5xf32>) -> tensor<2x5xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m1, %b1 : tensor<2x5xf32>, tensor<5xf32>) outs(%i1 : tensor<2x5xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<2x5xf32>

  %e2 = tensor.empty() : tensor<5x3xf32>
  %w2t = linalg.transpose ins(%w2 : tensor<3x5xf32>) outs(%e2 : tensor<5x3xf32>) permutation = [1, 0]
  %i2 = tensor.empty() : tensor<2x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%i2 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m2 = linalg.matmul ins(%h, %w2t : tensor<2x5xf32>, tensor<5x3xf32>) outs(%f2 : tensor<2x3xf32>) -> tensor<2x3xf32> loc("mlp.fc2")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m2, %b2 : tensor<2x3xf32>, tensor<3xf32>) outs(%i2 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

func.func @main() {
  %x = arith.constant dense<[[1.0, 2.0, -1.0, 0.5], [0.0, -2.0, 3.0, 1.0]]> : tensor<2x4xf32>
  %y = call @forward(%x) : (tensor<2x4xf32>) -> tensor<2x3xf32>
  %u = tensor.cast %y : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

// CHECK: rank = 2 offset = 0 sizes = [2, 3] strides = [3, 1]
// CHECK-NEXT: {{\[}}[9, -1.5, -2.5],
// CHECK-NEXT: [7.5, 2, 12.5]]
