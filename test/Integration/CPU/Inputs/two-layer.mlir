// fc1 (8 -> 6, bias, ReLU) then fc2 (6 -> 3), as torch-mlir writes them.
#bias = affine_map<(i, j) -> (j)>
#id = affine_map<(i, j) -> (i, j)>
func.func @forward(%x: tensor<2x8xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<[[0.5, -1.0, 0.25, 0.0, 1.0, 0.5, -0.5, 0.75],
                              [1.0, 0.5, -0.25, 0.5, 0.0, -1.0, 0.25, 0.5],
                              [-0.5, 0.25, 1.0, -0.75, 0.5, 0.0, 1.0, -0.25],
                              [0.25, 0.75, 0.5, 1.0, -0.5, 0.25, 0.0, 1.0],
                              [0.0, -0.5, 0.75, 0.25, 1.0, 0.5, -1.0, 0.0],
                              [1.0, 1.0, -0.5, 0.5, 0.25, -0.25, 0.5, 0.75]]> : tensor<6x8xf32>
  %b1 = arith.constant dense<[0.1, -0.2, 0.3, 0.0, -0.1, 0.2]> : tensor<6xf32>
  %w2 = arith.constant dense<[[1.0, -0.5, 0.25, 0.5, 0.0, 1.0],
                              [0.5, 0.5, -1.0, 0.25, 0.75, 0.0],
                              [-0.25, 1.0, 0.5, -0.5, 0.25, 0.5]]> : tensor<3x6xf32>
  %e1 = tensor.empty() : tensor<8x6xf32>
  %w1t = linalg.transpose ins(%w1 : tensor<6x8xf32>) outs(%e1 : tensor<8x6xf32>) permutation = [1, 0]
  %i1 = tensor.empty() : tensor<2x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%i1 : tensor<2x6xf32>) -> tensor<2x6xf32>
  %m1 = linalg.matmul {qwha.name = "fc1"} ins(%x, %w1t : tensor<2x8xf32>, tensor<8x6xf32>) outs(%f1 : tensor<2x6xf32>) -> tensor<2x6xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m1, %b1 : tensor<2x6xf32>, tensor<6xf32>) outs(%i1 : tensor<2x6xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<2x6xf32>
  %e2 = tensor.empty() : tensor<6x3xf32>
  %w2t = linalg.transpose ins(%w2 : tensor<3x6xf32>) outs(%e2 : tensor<6x3xf32>) permutation = [1, 0]
  %i2 = tensor.empty() : tensor<2x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%i2 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %m2 = linalg.matmul {qwha.name = "fc2"} ins(%h, %w2t : tensor<2x6xf32>, tensor<6x3xf32>) outs(%f2 : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %m2 : tensor<2x3xf32>
}

// A caller, as a test harness would have: calibration ignores it.
func.func private @printMemrefF32(tensor<*xf32>)
func.func @main() {
  %x = arith.constant dense<[[1.5, -0.5, 0.25, 2.0, -1.0, 0.75, 0.5, -1.25],
                             [-0.75, 1.0, 1.25, -0.5, 0.5, -1.5, 2.0, 0.25]]> : tensor<2x8xf32>
  %y = call @forward(%x) : (tensor<2x8xf32>) -> tensor<2x3xf32>
  %u = tensor.cast %y : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
