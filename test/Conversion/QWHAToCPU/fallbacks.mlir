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

// -----

// CHECK-LABEL: func.func @runtime_adapter(
// CHECK:         call @qwha_cpu_fwht
// CHECK:         qwha.sparse_linear
func.func @runtime_adapter(%x: tensor<2x8xf32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  %r = arith.constant dense<[0, 1, 1, 3, 3]> : tensor<5xi32>
  %ci = arith.constant dense<[7, 0, 5]> : tensor<3xi32>
  %h = qwha.fwht %x normalized : tensor<2x8xf32>
  // expected-remark @below {{kept on the generic lowering: its values are not constant}}
  %y = qwha.sparse_linear %h, %r, %ci, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @half_transform(
// CHECK:         qwha.fwht
func.func @half_transform(%x: tensor<2x8xf16>) -> tensor<2x8xf16> {
  // expected-remark @below {{kept on the generic lowering: the input is not f32}}
  %h = qwha.fwht %x normalized : tensor<2x8xf16>
  return %h : tensor<2x8xf16>
}

// -----

// CHECK-LABEL: func.func @huge_base_order(
// CHECK:         qwha.fwht
func.func @huge_base_order(%x: tensor<1x688000xf32>) -> tensor<1x688000xf32> {
  // expected-remark @below {{kept on the generic lowering: its base Hadamard matrix is too large}}
  %h = qwha.fwht %x normalized : tensor<1x688000xf32>
  return %h : tensor<1x688000xf32>
}

// -----

// Constant sparse matrices are checked before a kernel reads through them.

func.func @column_out_of_range(%h: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %r = arith.constant dense<[0, 1, 2]> : tensor<3xi32>
  %c = arith.constant dense<[3, 8]> : tensor<2xi32>
  %v = arith.constant dense<1.0> : tensor<2xf32>
  // expected-error @below {{'qwha.sparse_linear' op cols[1] = 8 is not an input column in [0, 8)}}
  %y = qwha.sparse_linear %h, %r, %c, %v : tensor<1x8xf32>, tensor<3xi32>, tensor<2xi32>, tensor<2xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @decreasing_offsets(%h: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %r = arith.constant dense<[0, 2, 1]> : tensor<3xi32>
  %c = arith.constant dense<[3, 4]> : tensor<2xi32>
  %v = arith.constant dense<1.0> : tensor<2xf32>
  // expected-error @below {{'qwha.sparse_linear' op row_offsets must not decrease: row_offsets[1] = 2 > row_offsets[2] = 1}}
  %y = qwha.sparse_linear %h, %r, %c, %v : tensor<1x8xf32>, tensor<3xi32>, tensor<2xi32>, tensor<2xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @offsets_not_from_zero(%h: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %r = arith.constant dense<[1, 1, 2]> : tensor<3xi32>
  %c = arith.constant dense<[3, 4]> : tensor<2xi32>
  %v = arith.constant dense<1.0> : tensor<2xf32>
  // expected-error @below {{'qwha.sparse_linear' op row_offsets[0] must be 0, got 1}}
  %y = qwha.sparse_linear %h, %r, %c, %v : tensor<1x8xf32>, tensor<3xi32>, tensor<2xi32>, tensor<2xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @offsets_short_of_entries(%h: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %r = arith.constant dense<[0, 1, 1]> : tensor<3xi32>
  %c = arith.constant dense<[3, 4]> : tensor<2xi32>
  %v = arith.constant dense<1.0> : tensor<2xf32>
  // expected-error @below {{'qwha.sparse_linear' op row_offsets ends at 1 but there are 2 entries}}
  %y = qwha.sparse_linear %h, %r, %c, %v : tensor<1x8xf32>, tensor<3xi32>, tensor<2xi32>, tensor<2xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// CHECK-LABEL: func.func @runtime_float_weight(
// CHECK:         qwha.linear "fc"
func.func @runtime_float_weight(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-remark @below {{kept on the generic lowering: its weight is not constant}}
  %y = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @half_float_weight(
// CHECK:         qwha.linear "fc"
func.func @half_float_weight(%x: tensor<2x8xf16>) -> tensor<2x4xf16> {
  %w = arith.constant dense<0.5> : tensor<4x8xf16>
  // expected-remark @below {{kept on the generic lowering: the input is not f32}}
  %y = qwha.linear "fc" %x, %w : tensor<2x8xf16>, tensor<4x8xf16> -> tensor<2x4xf16>
  return %y : tensor<2x4xf16>
}
