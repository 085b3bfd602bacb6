func.func @f(%x: tensor<2x3xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %zero = arith.constant dense<0.0> : tensor<2x4xf32>
  %y = linalg.matmul {qwha.name = "consumer.fc"} ins(%x, %w : tensor<2x3xf32>, tensor<3x4xf32>) outs(%zero : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
