func.func @mixed(%x: tensor<1x32xf32>) -> tensor<1x32xf32> {
  %c4 = arith.constant dense<1> : tensor<32x32xi4>
  %c3 = arith.constant dense<1> : tensor<32x32xi3>
  %s = arith.constant dense<1.0> : tensor<32x1xf32>
  %z4 = arith.constant dense<8> : tensor<32x1xi4>
  %z3 = arith.constant dense<4> : tensor<32x1xi3>
  %a = qwha.qlinear "four" %x, %c4, %s, %z4 group_size -1 : tensor<1x32xf32>, tensor<32x32xi4>, tensor<32x1xf32>, tensor<32x1xi4> -> tensor<1x32xf32>
  %b = qwha.qlinear "three" %a, %c3, %s, %z3 group_size -1 : tensor<1x32xf32>, tensor<32x32xi3>, tensor<32x1xf32>, tensor<32x1xi3> -> tensor<1x32xf32>
  return %b : tensor<1x32xf32>
}
