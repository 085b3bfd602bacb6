// RUN: qwha-opt %s -split-input-file -convert-qwha-to-cpu="explain-fallbacks=true" -verify-diagnostics | FileCheck %s

// Layers the kernels cannot take stay as they are, for the generic
// lowering, with a remark saying why when asked.

// CHECK-LABEL: func.func @runtime_codes(
// CHECK:         qwha.qlinear "fc"
// CHECK-NOT:     func.func private
func.func @runtime_codes(%x: tensor<2x8xf32>, %codes: tensor<4x8xi4>) -> tensor<2x4xf32> {
  %s = arith.constant dense<0.5> : tensor<4x1xf32>
  // expected-remark @below {{kept on the generic lowering: its codes are not constant}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @half_input(
// CHECK:         qwha.qlinear "fc"
func.func @half_input(%x: tensor<2x8xf16>) -> tensor<2x4xf16> {
  %codes = arith.constant dense<5> : tensor<4x8xi4>
  %s = arith.constant dense<0.5> : tensor<4x1xf16>
  // expected-remark @below {{kept on the generic lowering: the input is not f32}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %s group_size -1 : tensor<2x8xf16>, tensor<4x8xi4>, tensor<4x1xf16>, tensor<4x1xf16> -> tensor<2x4xf16>
  return %y : tensor<2x4xf16>
}

// -----

// CHECK-LABEL: func.func @runtime_group_index(
// CHECK:         qwha.qlinear "fc"
func.func @runtime_group_index(%x: tensor<2x8xf32>, %g: tensor<8xi32>) -> tensor<2x4xf32> {
  %codes = arith.constant dense<5> : tensor<4x8xi4>
  %s = arith.constant dense<0.5> : tensor<4x2xf32>
  // expected-remark @below {{kept on the generic lowering: its g_idx are not constant}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %s g_idx %g group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// An adapter layer whose quantized weight is not constant is not split.

// CHECK-LABEL: func.func @runtime_adapter_scales(
// CHECK:         qwha.qlinear_wha "fc"
func.func @runtime_adapter_scales(%x: tensor<2x8xf32>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %ci: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  %c = arith.constant dense<5> : tensor<4x8xi4>
  // expected-remark @below {{kept on the generic lowering: its scales are not constant}}
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// A weight that cannot be packed is an error naming the layer and the
// entry at fault, not a fallback.

func.func @nan_scale(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %codes = arith.constant dense<5> : tensor<4x8xi4>
  %s = arith.constant dense<[[0.5], [0.5], [0x7FC00000], [0.5]]> : tensor<4x1xf32>
  %z = arith.constant dense<8> : tensor<4x1xi4>
  // expected-error @below {{'qwha.qlinear' op cannot pack the weight of layer 'fc' for the CPU: scale of row 2, group 0 is not finite (nan)}}
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xi4> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
