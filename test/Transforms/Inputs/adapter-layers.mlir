// A float layer and a quantized layer, 4 x 16 each.
func.func @f(%x: tensor<2x16xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %w = arith.constant dense<0.5> : tensor<4x16xf32>
  %c = arith.constant dense<3> : tensor<4x16xi4>
  %s = arith.constant dense<0.25> : tensor<4x1xf32>
  %z = arith.constant dense<8> : tensor<4x1xi4>
  %a = qwha.linear "float" %x, %w : tensor<2x16xf32>, tensor<4x16xf32> -> tensor<2x4xf32>
  %b = qwha.qlinear "quant" %x, %c, %s, %z group_size -1 : tensor<2x16xf32>, tensor<4x16xi4>, tensor<4x1xf32>, tensor<4x1xi4> -> tensor<2x4xf32>
  return %a, %b : tensor<2x4xf32>, tensor<2x4xf32>
}
