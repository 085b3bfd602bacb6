// A layer named fc with 32 outputs and no inputs: valid IR, nothing to load.
func.func @f(%x: tensor<1x0xf32>) -> tensor<1x32xf32> {
  %w = arith.constant dense<0.0> : tensor<32x0xf32>
  %y = qwha.linear "fc" %x, %w : tensor<1x0xf32>, tensor<32x0xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
