// RUN: qwha-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule; each says which rule it breaks.

// The layer name is the key of calibration and adapter files.
func.func @empty_name(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{layer name must not be empty}}
  %0 = qwha.linear "" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @linear_rank0_input(%x: tensor<f32>, %w: tensor<4x8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{input must have rank >= 1, got a rank-0 tensor}}
  %0 = qwha.linear "fc" %x, %w : tensor<f32>, tensor<4x8xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @linear_result_rank(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result rank 1 must equal the input rank 2}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @linear_result_element_type(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf16> {
  // expected-error @+1 {{result element type 'f16' must match the input element type 'f32'}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf16>
  return %0 : tensor<2x4xf16>
}

// -----

func.func @linear_leading_dims(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{result dimension #0 must equal input dimension #0 (shapes [3, 4] and [2, 8])}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

func.func @linear_weight_rank(%x: tensor<2x8xf32>, %w: tensor<1x4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{weight must be a 2-D tensor [out, in], got rank 3}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<1x4x8xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @linear_weight_element_type(%x: tensor<2x8xf32>, %w: tensor<4x8xf16>) -> tensor<2x4xf32> {
  // expected-error @+1 {{weight element type 'f16' must match the input element type 'f32'}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf16> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @linear_in_features(%x: tensor<2x8xf32>, %w: tensor<4x6xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{weight has 6 input features but the input's last dimension is 8}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x6xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @linear_out_features(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{weight has 4 output features but the result's last dimension is 5}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// Activations are floats; ODS checks the operand kinds before our verifier.
func.func @linear_integer_input(%x: tensor<2x8xi32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xi32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_codes_rank(%x: tensor<2x8xf32>, %c: tensor<8xi4>, %s: tensor<4x1xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{codes must be a 2-D tensor [out, in], got rank 1}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Quantized weights are constants; a static shape fixes the group count.
func.func @qlinear_codes_dynamic(%x: tensor<2x8xf32>, %c: tensor<?x8xi4>, %s: tensor<4x1xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{codes must have a static shape, got [?, 8]}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<?x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_code_width(%x: tensor<2x8xf32>, %c: tensor<4x8xi5>, %s: tensor<4x1xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{codes must have element type i2, i3, i4 or i8, got 'i5'}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi5>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_float_codes(%x: tensor<2x8xf32>, %c: tensor<4x8xf32>, %s: tensor<4x1xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_group_not_divisor(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{group_size must be -1 (per-channel) or a positive divisor of the 8 input features, got 3}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size 3 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_group_zero(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{group_size must be -1 (per-channel) or a positive divisor of the 8 input features, got 0}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size 0 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_scales_shape(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %z: tensor<4x2xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{scales must have shape [N, G] = [4, 2], got [4, 1]}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x2xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_zeros_shape(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %z: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{zeros must have shape [N, G] = [4, 2], got [2, 4]}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Integer zero points must be codes of the same width.
func.func @qlinear_zeros_type(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %z: tensor<4x2xi8>) -> tensor<2x4xf32> {
  // expected-error @+1 {{zeros must have the codes' element type 'i4' or the scales' element type 'f32', got 'i8'}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xi8> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_g_idx_shape(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %g: tensor<4xi32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{g_idx must have shape [K] = [8], got [4]}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s g_idx %g group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xi32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_g_idx_type(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %g: tensor<8xi64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{g_idx must have element type i32, got 'i64'}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s g_idx %g group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi64> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_in_features(%x: tensor<2x6xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{codes has 8 input features but the input's last dimension is 6}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 : tensor<2x6xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_out_features(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{codes has 4 output features but the result's last dimension is 3}}
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @dequantize_result_shape(%c: tensor<4x8xi4>, %s: tensor<4x1xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{result must have the codes' shape [4, 8], got [8, 4]}}
  %0 = qwha.dequantize %c, %s, %s group_size -1 : tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @dequantize_code_width(%c: tensor<4x8xi16>, %s: tensor<4x1xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{codes must have element type i2, i3, i4 or i8, got 'i16'}}
  %0 = qwha.dequantize %c, %s, %s group_size -1 : tensor<4x8xi16>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @fwht_rank0(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{input must have rank >= 1, got a rank-0 tensor}}
  %0 = qwha.fwht %x : tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @fwht_dynamic(%x: tensor<2x?xf32>) -> tensor<2x?xf32> {
  // expected-error @+1 {{the transformed (last) dimension must be static}}
  %0 = qwha.fwht %x : tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}

// -----

// 172 = 4 * 43 has Hadamard matrices, but no Paley one; 344 = 8 * 43 does.
func.func @fwht_unsupported_size(%x: tensor<2x172xf32>) -> tensor<2x172xf32> {
  // expected-error @+1 {{has no Hadamard matrix of order 172: the size must be 2^n * m with m = 1 or a Paley order}}
  %0 = qwha.fwht %x normalized : tensor<2x172xf32>
  return %0 : tensor<2x172xf32>
}

// -----

func.func @sparse_linear_no_offsets(%h: tensor<2x8xf32>, %r: tensor<0xi32>, %c: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{row_offsets must have at least one entry}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<0xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_offsets_type(%h: tensor<2x8xf32>, %r: tensor<5xi64>, %c: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{row_offsets must be a 1-D tensor of i32, got 'tensor<5xi64>'}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi64>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_cols_type(%h: tensor<2x8xf32>, %r: tensor<5xi32>, %c: tensor<3x1xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{cols must be a 1-D tensor of i32, got 'tensor<3x1xi32>'}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3x1xi32>, tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_values_rank(%h: tensor<2x8xf32>, %r: tensor<5xi32>, %c: tensor<3xi32>, %v: tensor<1x3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{values must be a 1-D tensor, got 'tensor<1x3xf32>'}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<1x3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_nnz(%h: tensor<2x8xf32>, %r: tensor<5xi32>, %c: tensor<3xi32>, %v: tensor<2xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{cols and values must have the same number of entries, got 3 and 2}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<2xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_values_type(%h: tensor<2x8xf32>, %r: tensor<5xi32>, %c: tensor<3xi32>, %v: tensor<3xf16>) -> tensor<2x4xf32> {
  // expected-error @+1 {{values element type 'f16' must match the input element type 'f32'}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf16> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_rows(%h: tensor<2x8xf32>, %r: tensor<6xi32>, %c: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{result's last dimension 4 must equal the number of rows of the matrix (5, from row_offsets)}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<6xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @sparse_linear_leading_dims(%h: tensor<2x8xf32>, %r: tensor<5xi32>, %c: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{result dimension #0 must equal input dimension #0}}
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// The adapter has one row per output feature.
func.func @qlinear_wha_offsets(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<4xi32>, %ci: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{row_offsets must have N + 1 = 5 entries, got [4]}}
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v : tensor<4xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// The adapter lives in the transform domain of the input.
func.func @qlinear_wha_transform_size(%x: tensor<2x6xf32>, %c: tensor<4x6xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %ci: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{has no Hadamard matrix of order 6 for the adapter's input transform}}
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x6xf32>, tensor<4x6xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @qlinear_wha_group(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %ci: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{scales must have shape [N, G] = [4, 2], got [4, 1]}}
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %s group_size 4 adapter(%r, %ci, %v : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @observe_empty_name(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{layer name must not be empty}}
  %0 = qwha.observe "" %x : tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @observe_rank0(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{input must have rank >= 1, got a rank-0 tensor}}
  %0 = qwha.observe "fc" %x : tensor<f32>
  return %0 : tensor<f32>
}

// -----

// On foreign ops the layer name travels as a discardable attribute.
// expected-error @+1 {{'qwha.name' must be a non-empty string attribute}}
func.func @name_not_string() attributes {qwha.name = 3 : i64} {
  return
}

// -----

// expected-error @+1 {{unknown qwha dialect attribute 'qwha.layer'}}
func.func @unknown_attribute() attributes {qwha.layer = "x"} {
  return
}

// -----

// The layer list calibration runs use to map ids back to names.
// expected-error @+1 {{'qwha.calibration_layers' must be an array of non-empty layer names}}
module attributes {qwha.calibration_layers = ["fc", ""]} {
}

// -----

// The float weight kept for adapter initialisation belongs on qwha.qlinear.
func.func @float_weight_on_linear(%x: tensor<1x8xf32>, %w: tensor<2x8xf32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'qwha.float_weight' belongs on qwha.qlinear}}
  %y = qwha.linear "fc" %x, %w {qwha.float_weight = dense<0.0> : tensor<2x8xf32>} : tensor<1x8xf32>, tensor<2x8xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @float_weight_shape(%x: tensor<1x8xf32>, %c: tensor<2x8xi4>, %s: tensor<2x1xf32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'qwha.float_weight' must be a dense float tensor of the codes' shape}}
  %y = qwha.qlinear "fc" %x, %c, %s, %s group_size -1 {qwha.float_weight = dense<0.0> : tensor<8x2xf32>} : tensor<1x8xf32>, tensor<2x8xi4>, tensor<2x1xf32>, tensor<2x1xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
