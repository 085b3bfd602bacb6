// One 32x32 layer named fc.
func.func @f(%x: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %w = arith.constant dense<0.25> : tensor<32x32xf32>
  %y = qwha.linear "fc" %x, %w : tensor<1x32xf32>, tensor<32x32xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
