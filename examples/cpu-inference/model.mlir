// A small quantized model for ahead-of-time compilation (README.md):
// fc1 (8 -> 6, 4-bit codes in groups of 4, bias, ReLU) then fc2 (6 -> 3,
// 4-bit, one group per row). The batch is dynamic: the caller picks it.
#id = affine_map<(i, j) -> (i, j)>
#bias = affine_map<(i, j) -> (j)>
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x3xf32> {
  %codes1 = arith.constant dense<[[10, 4, 12, 1, 2, 3, 11, 1],
                                  [6, 1, 2, 13, 13, 2, 7, 2],
                                  [13, 1, 3, 7, 1, 12, 1, 7],
                                  [1, 4, 9, 13, 4, 3, 9, 5],
                                  [3, 6, 11, 3, 2, 1, 6, 15],
                                  [13, 10, 14, 14, 11, 9, 7, 5]]> : tensor<6x8xi4>
  %scales1 = arith.constant dense<[[0.0625, 0.03125], [0.125, 0.25], [0.125, 0.25],
                                   [0.125, 0.03125], [0.03125, 0.25], [0.0625, 0.125]]> : tensor<6x2xf32>
  %zeros1 = arith.constant dense<[[7, 8], [8, 7], [7, 8], [8, 8], [8, 8], [7, 7]]> : tensor<6x2xi4>
  %bias1 = arith.constant dense<[0.0, 0.125, -0.25, -0.25, 0.0, 0.25]> : tensor<6xf32>
  %codes2 = arith.constant dense<[[14, 9, 12, 11, 0, 14],
                                  [11, 5, 3, 15, 1, 6],
                                  [9, 4, 7, 12, 12, 15]]> : tensor<3x6xi4>
  %scales2 = arith.constant dense<[[0.0625], [0.0625], [0.125]]> : tensor<3x1xf32>
  %zeros2 = arith.constant dense<[[8], [8], [7]]> : tensor<3x1xi4>
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index

  %h = qwha.qlinear "fc1" %x, %codes1, %scales1, %zeros1 group_size 4
      : tensor<?x8xf32>, tensor<6x8xi4>, tensor<6x2xf32>, tensor<6x2xi4> -> tensor<?x6xf32>
  %batch = tensor.dim %x, %c0 : tensor<?x8xf32>
  %empty = tensor.empty(%batch) : tensor<?x6xf32>
  %a = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h, %bias1 : tensor<?x6xf32>, tensor<6xf32>) outs(%empty : tensor<?x6xf32>) {
  ^bb0(%v: f32, %b: f32, %o: f32):
    %s = arith.addf %v, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x6xf32>
  %y = qwha.qlinear "fc2" %a, %codes2, %scales2, %zeros2 group_size -1
      : tensor<?x6xf32>, tensor<3x6xi4>, tensor<3x1xf32>, tensor<3x1xi4> -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
