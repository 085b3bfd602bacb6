// A layer whose weight holds a NaN.
func.func @f(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.5, -0.25, 0.125, 1.0, -1.0, 0.75, 0.3, -0.6], [0.2, 0.4, 0x7FC00000, 0.1, -0.3, 0.9, -0.7, 0.05]]> : tensor<2x8xf32>
  %y = qwha.linear "fc" %x, %w : tensor<1x8xf32>, tensor<2x8xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
