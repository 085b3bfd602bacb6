// A 2^32 x 2^32 layer named huge: a valid type, with a splat weight.
func.func @f(%x: tensor<1x4294967296xf32>) -> tensor<1x4294967296xf32> {
  %w = arith.constant dense<0.0> : tensor<4294967296x4294967296xf32>
  %y = qwha.linear "huge" %x, %w : tensor<1x4294967296xf32>, tensor<4294967296x4294967296xf32> -> tensor<1x4294967296xf32>
  return %y : tensor<1x4294967296xf32>
}
