// RUN: qwha-opt %s -split-input-file -qwha-fuse-adapters | FileCheck %s

// linalg.add and arith.addf, in either operand order.
// CHECK-LABEL: func.func @fuse
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>, %[[C:.*]]: tensor<4x8xi4>, %[[S:.*]]: tensor<4x1xf32>, %[[R:.*]]: tensor<5xi32>, %[[I:.*]]: tensor<3xi32>, %[[V:.*]]: tensor<3xf32>
// CHECK: %[[A:.*]] = qwha.qlinear_wha "a" %[[X]], %[[C]], %[[S]], %[[S]] group_size -1 adapter(%[[R]], %[[I]], %[[V]] : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>)
// CHECK: %[[B:.*]] = qwha.qlinear_wha "b" %[[X]]
// CHECK-NOT: qwha.sparse_linear
// CHECK-NOT: linalg.add
// CHECK: return %[[A]], %[[B]]
func.func @fuse(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %i: tensor<3xi32>, %v: tensor<3xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %h = qwha.fwht %x normalized : tensor<2x8xf32>
  %q1 = qwha.qlinear "a" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %p1 = qwha.sparse_linear %h, %r, %i, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  %e = tensor.empty() : tensor<2x4xf32>
  %y1 = linalg.add ins(%q1, %p1 : tensor<2x4xf32>, tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %q2 = qwha.qlinear "b" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %p2 = qwha.sparse_linear %h, %r, %i, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  %y2 = arith.addf %p2, %q2 : tensor<2x4xf32>
  return %y1, %y2 : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// Not an adapter of this layer: an unnormalized transform, another input,
// and a layer whose output is also used elsewhere.
// CHECK-LABEL: func.func @negative
// CHECK-COUNT-3: arith.addf
// CHECK-NOT: qwha.qlinear_wha
func.func @negative(%x: tensor<2x8xf32>, %x2: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %i: tensor<3xi32>, %v: tensor<3xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) {
  %raw = qwha.fwht %x : tensor<2x8xf32>
  %q1 = qwha.qlinear "a" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %p1 = qwha.sparse_linear %raw, %r, %i, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  %y1 = arith.addf %q1, %p1 : tensor<2x4xf32>
  %h2 = qwha.fwht %x2 normalized : tensor<2x8xf32>
  %q2 = qwha.qlinear "b" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %p2 = qwha.sparse_linear %h2, %r, %i, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  %y2 = arith.addf %q2, %p2 : tensor<2x4xf32>
  %h3 = qwha.fwht %x normalized : tensor<2x8xf32>
  %q3 = qwha.qlinear "c" %x, %c, %s, %s group_size -1 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %p3 = qwha.sparse_linear %h3, %r, %i, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x4xf32>
  %y3 = arith.addf %q3, %p3 : tensor<2x4xf32>
  return %y1, %y2, %y3, %q3 : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
}
