func.func @narrow(%x: tensor<1x16xf32>) -> tensor<1x32xf32> {
  %c = arith.constant dense<1> : tensor<32x16xi4>
  %s = arith.constant dense<1.0> : tensor<32x1xf32>
  %z = arith.constant dense<8> : tensor<32x1xi4>
  %y = qwha.qlinear "narrow" %x, %c, %s, %z group_size -1 : tensor<1x16xf32>, tensor<32x16xi4>, tensor<32x1xf32>, tensor<32x1xi4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
