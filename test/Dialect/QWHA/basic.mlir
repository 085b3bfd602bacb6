// RUN: qwha-opt %s | qwha-opt | FileCheck %s
// RUN: qwha-opt %s --mlir-print-op-generic | qwha-opt | FileCheck %s

// Round trip of every op in its custom form, and through the generic form.

// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<2x5x64xf32>, %[[W:.*]]: tensor<16x64xf32>)
// CHECK: qwha.linear "model.layers.0.mlp.up_proj" %[[X]], %[[W]] : tensor<2x5x64xf32>, tensor<16x64xf32> -> tensor<2x5x16xf32>
func.func @linear(%x: tensor<2x5x64xf32>, %w: tensor<16x64xf32>) -> tensor<2x5x16xf32> {
  %0 = qwha.linear "model.layers.0.mlp.up_proj" %x, %w : tensor<2x5x64xf32>, tensor<16x64xf32> -> tensor<2x5x16xf32>
  return %0 : tensor<2x5x16xf32>
}

// CHECK-LABEL: func.func @linear_dynamic_rows
// CHECK: qwha.linear "fc" %{{.*}}, %{{.*}} : tensor<?x64xf16>, tensor<16x64xf16> -> tensor<?x16xf16>
func.func @linear_dynamic_rows(%x: tensor<?x64xf16>, %w: tensor<16x64xf16>) -> tensor<?x16xf16> {
  %0 = qwha.linear "fc" %x, %w : tensor<?x64xf16>, tensor<16x64xf16> -> tensor<?x16xf16>
  return %0 : tensor<?x16xf16>
}

// CHECK-LABEL: func.func @qlinear
// CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[C:.*]]: tensor<16x64xi4>, %[[S:.*]]: tensor<16x2xf16>, %[[Z:.*]]: tensor<16x2xi4>, %[[G:.*]]: tensor<64xi32>)
// CHECK: qwha.qlinear "fc" %[[X]], %[[C]], %[[S]], %[[Z]] group_size 32 : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4> -> tensor<2x16xf32>
// CHECK: qwha.qlinear "fc" %[[X]], %[[C]], %[[S]], %[[Z]] g_idx %[[G]] group_size 32 : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4>, tensor<64xi32> -> tensor<2x16xf32>
func.func @qlinear(%x: tensor<2x64xf32>, %c: tensor<16x64xi4>, %s: tensor<16x2xf16>, %z: tensor<16x2xi4>, %g: tensor<64xi32>) -> (tensor<2x16xf32>, tensor<2x16xf32>) {
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 32 : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4> -> tensor<2x16xf32>
  %1 = qwha.qlinear "fc" %x, %c, %s, %z g_idx %g group_size 32 : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4>, tensor<64xi32> -> tensor<2x16xf32>
  return %0, %1 : tensor<2x16xf32>, tensor<2x16xf32>
}

// Every supported code width, float zero points, a per-channel grid.
// CHECK-LABEL: func.func @qlinear_widths
// CHECK: group_size 8 : tensor<1x24xf32>, tensor<4x24xi2>, tensor<4x3xf32>, tensor<4x3xf32>
// CHECK: group_size -1 : tensor<1x24xf32>, tensor<4x24xi3>, tensor<4x1xbf16>, tensor<4x1xi3>
// CHECK: group_size 12 : tensor<1x24xf32>, tensor<4x24xi8>, tensor<4x2xf32>, tensor<4x2xi8>
func.func @qlinear_widths(%x: tensor<1x24xf32>, %c2: tensor<4x24xi2>, %s3: tensor<4x3xf32>, %c3: tensor<4x24xi3>, %s1: tensor<4x1xbf16>, %z3: tensor<4x1xi3>, %c8: tensor<4x24xi8>, %s2: tensor<4x2xf32>, %z8: tensor<4x2xi8>) {
  %0 = qwha.qlinear "a" %x, %c2, %s3, %s3 group_size 8 : tensor<1x24xf32>, tensor<4x24xi2>, tensor<4x3xf32>, tensor<4x3xf32> -> tensor<1x4xf32>
  %1 = qwha.qlinear "b" %x, %c3, %s1, %z3 group_size -1 : tensor<1x24xf32>, tensor<4x24xi3>, tensor<4x1xbf16>, tensor<4x1xi3> -> tensor<1x4xf32>
  %2 = qwha.qlinear "c" %x, %c8, %s2, %z8 group_size 12 : tensor<1x24xf32>, tensor<4x24xi8>, tensor<4x2xf32>, tensor<4x2xi8> -> tensor<1x4xf32>
  return
}

// CHECK-LABEL: func.func @dequantize
// CHECK: qwha.dequantize %{{.*}}, %{{.*}}, %{{.*}} group_size 32 : tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4> -> tensor<16x64xf32>
// CHECK: qwha.dequantize %{{.*}}, %{{.*}}, %{{.*}} g_idx %{{.*}} group_size 32 : tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4>, tensor<64xi32> -> tensor<16x64xf16>
func.func @dequantize(%c: tensor<16x64xi4>, %s: tensor<16x2xf16>, %z: tensor<16x2xi4>, %g: tensor<64xi32>) -> (tensor<16x64xf32>, tensor<16x64xf16>) {
  %0 = qwha.dequantize %c, %s, %z group_size 32 : tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4> -> tensor<16x64xf32>
  %1 = qwha.dequantize %c, %s, %z g_idx %g group_size 32 : tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4>, tensor<64xi32> -> tensor<16x64xf16>
  return %0, %1 : tensor<16x64xf32>, tensor<16x64xf16>
}

// CHECK-LABEL: func.func @fwht
// CHECK: qwha.fwht %{{.*}} normalized : tensor<4x4096xf32>
// CHECK: qwha.fwht %{{.*}} : tensor<11008xf16>
// CHECK: qwha.fwht %{{.*}} normalized : tensor<?x384xf32>
func.func @fwht(%a: tensor<4x4096xf32>, %b: tensor<11008xf16>, %c: tensor<?x384xf32>) {
  %0 = qwha.fwht %a normalized : tensor<4x4096xf32>
  %1 = qwha.fwht %b : tensor<11008xf16>
  %2 = qwha.fwht %c normalized : tensor<?x384xf32>
  return
}

// CHECK-LABEL: func.func @sparse_linear
// CHECK: qwha.sparse_linear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x64xf32>, tensor<17xi32>, tensor<40xi32>, tensor<40xf32> -> tensor<2x16xf32>
// CHECK: qwha.sparse_linear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x64xf32>, tensor<17xi32>, tensor<?xi32>, tensor<?xf32> -> tensor<2x16xf32>
func.func @sparse_linear(%h: tensor<2x64xf32>, %r: tensor<17xi32>, %c: tensor<40xi32>, %v: tensor<40xf32>, %cd: tensor<?xi32>, %vd: tensor<?xf32>) {
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x64xf32>, tensor<17xi32>, tensor<40xi32>, tensor<40xf32> -> tensor<2x16xf32>
  %1 = qwha.sparse_linear %h, %r, %cd, %vd : tensor<2x64xf32>, tensor<17xi32>, tensor<?xi32>, tensor<?xf32> -> tensor<2x16xf32>
  return
}

// CHECK-LABEL: func.func @qlinear_wha
// CHECK: qwha.qlinear_wha "fc" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} group_size 32 adapter(%{{.*}}, %{{.*}}, %{{.*}} : tensor<17xi32>, tensor<40xi32>, tensor<40xf32>) : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf32>, tensor<16x2xi4> -> tensor<2x16xf32>
// CHECK: qwha.qlinear_wha "fc" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} g_idx %{{.*}} group_size 32 adapter(
// CHECK-SAME: tensor<16x2xi4>, tensor<64xi32> -> tensor<2x16xf32>
func.func @qlinear_wha(%x: tensor<2x64xf32>, %c: tensor<16x64xi4>, %s: tensor<16x2xf32>, %z: tensor<16x2xi4>, %g: tensor<64xi32>, %r: tensor<17xi32>, %ci: tensor<40xi32>, %v: tensor<40xf32>) {
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %z group_size 32 adapter(%r, %ci, %v : tensor<17xi32>, tensor<40xi32>, tensor<40xf32>) : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf32>, tensor<16x2xi4> -> tensor<2x16xf32>
  %1 = qwha.qlinear_wha "fc" %x, %c, %s, %z g_idx %g group_size 32 adapter(%r, %ci, %v : tensor<17xi32>, tensor<40xi32>, tensor<40xf32>) : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf32>, tensor<16x2xi4>, tensor<64xi32> -> tensor<2x16xf32>
  return
}

// CHECK-LABEL: func.func @observe
// CHECK: %[[O:.*]] = qwha.observe "fc" %{{.*}} : tensor<4x64xf32>
// CHECK: return %[[O]]
func.func @observe(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %0 = qwha.observe "fc" %x : tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// The layer-name attribute other dialects' ops carry.
// CHECK-LABEL: func.func @named_foreign_op
// CHECK: linalg.matmul {qwha.name = "encoder.fc"}
func.func @named_foreign_op(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = linalg.matmul {qwha.name = "encoder.fc"} ins(%a, %b : tensor<2x3xf32>, tensor<3x4xf32>) outs(%c : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
