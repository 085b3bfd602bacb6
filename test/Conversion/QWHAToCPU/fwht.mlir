// RUN: qwha-opt %s -split-input-file -convert-qwha-to-cpu -canonicalize -cse | FileCheck %s

// 24 = 2 x 12: H_12 (Paley II) on each run of 12, from its transpose padded
// to a vector of 16 and scaled by 1/sqrt(24), the last outputs of a run
// stored masked; then one butterfly stage of stride 12, not a multiple of
// the vector: masked loads and stores.

// CHECK: memref.global "private" constant @__qwha_cpu_hadamard_12_t_d24 : memref<192xf32>
// CHECK-LABEL: func.func @paley(
// CHECK:         %[[WORK:.*]] = memref.alloc() {alignment = 64 : i64} : memref<12xf32>
// CHECK:         call @qwha_cpu_fwht_d24_2x12_normalized_v16(
// CHECK-LABEL: func.func private @qwha_cpu_fwht_d24_2x12_normalized_v16(
// CHECK-SAME:      memref<?x24xf32, strided<[?, 1], offset: ?>>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?x24xf32>)
// CHECK:         vector.fma
// CHECK:         vector.maskedstore
// CHECK:         vector.maskedload
// CHECK:         arith.subf
func.func @paley(%x: tensor<3x24xf32>) -> tensor<3x24xf32> {
  %h = qwha.fwht %x normalized : tensor<3x24xf32>
  return %h : tensor<3x24xf32>
}

// -----

// 4 values: the vector shrinks to 4 lanes; unnormalized transforms carry no
// scaling. A rank-3 input is folded into rows.

// CHECK-LABEL: func.func @small(
// CHECK-SAME:      %[[X:.*]]: tensor<2x3x4xf32>)
// CHECK:         tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]]
// CHECK:         call @qwha_cpu_fwht_d4_4x1_v4(
// CHECK:         tensor.expand_shape
// CHECK-LABEL: func.func private @qwha_cpu_fwht_d4_4x1_v4(
// CHECK-NOT:     arith.mulf
// CHECK:         return
func.func @small(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %h = qwha.fwht %x : tensor<2x3x4xf32>
  return %h : tensor<2x3x4xf32>
}
