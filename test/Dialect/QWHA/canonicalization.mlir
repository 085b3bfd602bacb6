// RUN: qwha-opt %s -split-input-file -canonicalize | FileCheck %s
// RUN: qwha-opt %s -split-input-file -canonicalize -cse | FileCheck %s

// The normalized transform of a power-of-two size is its own inverse.
// CHECK-LABEL: func.func @fwht_twice_pow2
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>)
// CHECK-NOT: qwha.fwht
// CHECK: return %[[X]]
func.func @fwht_twice_pow2(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %0 = qwha.fwht %x normalized : tensor<4x64xf32>
  %1 = qwha.fwht %0 normalized : tensor<4x64xf32>
  return %1 : tensor<4x64xf32>
}

// -----

// 24 = 2 * 12 with a Paley II (symmetric) base matrix: still an involution.
// CHECK-LABEL: func.func @fwht_twice_symmetric_base
// CHECK-NOT: qwha.fwht
func.func @fwht_twice_symmetric_base(%x: tensor<24xf32>) -> tensor<24xf32> {
  %0 = qwha.fwht %x normalized : tensor<24xf32>
  %1 = qwha.fwht %0 normalized : tensor<24xf32>
  return %1 : tensor<24xf32>
}

// -----

// 88 = 2 * 44 with a Paley I base: H is not symmetric, H H != I.
// CHECK-LABEL: func.func @fwht_twice_nonsymmetric_base
// CHECK: qwha.fwht
// CHECK: qwha.fwht
func.func @fwht_twice_nonsymmetric_base(%x: tensor<88xf32>) -> tensor<88xf32> {
  %0 = qwha.fwht %x normalized : tensor<88xf32>
  %1 = qwha.fwht %0 normalized : tensor<88xf32>
  return %1 : tensor<88xf32>
}

// -----

// Unnormalized, H H = d I, not I.
// CHECK-LABEL: func.func @fwht_twice_unnormalized
// CHECK: %[[A:.*]] = qwha.fwht %{{.*}} : tensor<8xf32>
// CHECK: qwha.fwht %[[A]] normalized : tensor<8xf32>
func.func @fwht_twice_unnormalized(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = qwha.fwht %x : tensor<8xf32>
  %1 = qwha.fwht %0 normalized : tensor<8xf32>
  return %1 : tensor<8xf32>
}

// -----

// A per-channel grid is spelled group_size -1.
// CHECK-LABEL: func.func @per_channel_spelling
// CHECK: qwha.qlinear "fc" {{.*}} group_size -1
// CHECK: qwha.dequantize {{.*}} group_size -1
// CHECK: qwha.qlinear_wha "fc2" {{.*}} group_size -1
func.func @per_channel_spelling(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %ci: tensor<3xi32>, %v: tensor<3xf32>) -> (tensor<2x4xf32>, tensor<4x8xf32>, tensor<2x4xf32>) {
  %0 = qwha.qlinear "fc" %x, %c, %s, %s group_size 8 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %1 = qwha.dequantize %c, %s, %s group_size 8 : tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  %2 = qwha.qlinear_wha "fc2" %x, %c, %s, %s group_size 8 adapter(%r, %ci, %v : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0, %1, %2 : tensor<2x4xf32>, tensor<4x8xf32>, tensor<2x4xf32>
}

// -----

// A g_idx that says k / group_size adds nothing; an act-order one stays.
// CHECK-LABEL: func.func @identity_g_idx
// CHECK: qwha.qlinear "a" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} group_size 4 :
// CHECK: qwha.qlinear "b" {{.*}} g_idx %{{.*}} group_size 4
// CHECK: qwha.dequantize %{{.*}}, %{{.*}}, %{{.*}} group_size 4 :
// CHECK: qwha.qlinear "c" {{.*}} g_idx %{{.*}} group_size 4
func.func @identity_g_idx(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %dyn: tensor<8xi32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x8xf32>, tensor<2x4xf32>) {
  %identity = arith.constant dense<[0, 0, 0, 0, 1, 1, 1, 1]> : tensor<8xi32>
  %actorder = arith.constant dense<[1, 0, 0, 1, 1, 0, 1, 0]> : tensor<8xi32>
  %0 = qwha.qlinear "a" %x, %c, %s, %s g_idx %identity group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi32> -> tensor<2x4xf32>
  %1 = qwha.qlinear "b" %x, %c, %s, %s g_idx %actorder group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi32> -> tensor<2x4xf32>
  %2 = qwha.dequantize %c, %s, %s g_idx %identity group_size 4 : tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi32> -> tensor<4x8xf32>
  %3 = qwha.qlinear "c" %x, %c, %s, %s g_idx %dyn group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi32> -> tensor<2x4xf32>
  return %0, %1, %2, %3 : tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x8xf32>, tensor<2x4xf32>
}

// -----

// A float layer over a dequantized weight is a quantized layer.
// CHECK-LABEL: func.func @linear_of_dequantize
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>, %[[C:.*]]: tensor<4x8xi4>, %[[S:.*]]: tensor<4x2xf32>, %[[G:.*]]: tensor<8xi32>)
// CHECK-NOT: qwha.dequantize
// CHECK: %[[Q:.*]] = qwha.qlinear "fc" %[[X]], %[[C]], %[[S]], %[[S]] g_idx %[[G]] group_size 4
// CHECK: return %[[Q]]
func.func @linear_of_dequantize(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %g: tensor<8xi32>) -> tensor<2x4xf32> {
  %w = qwha.dequantize %c, %s, %s g_idx %g group_size 4 : tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<8xi32> -> tensor<4x8xf32>
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// An adapter with no entries adds nothing.
// CHECK-LABEL: func.func @empty_adapter
// CHECK-NOT: qwha.qlinear_wha
// CHECK: qwha.qlinear "fc" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} group_size -1
func.func @empty_adapter(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %ci: tensor<0xi32>, %v: tensor<0xf32>) -> tensor<2x4xf32> {
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v : tensor<5xi32>, tensor<0xi32>, tensor<0xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Calibration taps record data: never dead, never merged.
// CHECK-LABEL: func.func @observe_kept
// CHECK: qwha.observe "a"
// CHECK: qwha.observe "a"
// CHECK: qwha.observe "b"
func.func @observe_kept(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = qwha.observe "a" %x : tensor<2x8xf32>
  %1 = qwha.observe "a" %x : tensor<2x8xf32>
  %2 = qwha.observe "b" %x : tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// Pure layer ops without uses are dead code.
// CHECK-LABEL: func.func @dead_layers
// CHECK-NEXT: return
func.func @dead_layers(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) {
  %0 = qwha.linear "fc" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  %1 = qwha.fwht %x : tensor<2x8xf32>
  return
}
