// RUN: qwha-opt %s -split-input-file -convert-qwha-to-linalg | FileCheck %s

// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[IN:.*]]: tensor<?x5x8xf32>, %[[WT:.*]]: tensor<4x8xf32>)
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[ROWS:.*]] = tensor.dim %[[IN]], %[[C0]]
// CHECK: %[[EMPTY:.*]] = tensor.empty(%[[ROWS]]) : tensor<?x5x4xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[EMPTY]]
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[Y]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[IN]], %[[WT]] : tensor<?x5x8xf32>, tensor<4x8xf32>) outs(%[[ZERO]] : tensor<?x5x4xf32>)
// CHECK: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK:   %[[M:.*]] = arith.mulf %[[A]], %[[B]] : f32
// CHECK:   %[[S:.*]] = arith.addf %[[ACC]], %[[M]] : f32
// CHECK:   linalg.yield %[[S]]
func.func @linear(%x: tensor<?x5x8xf32>, %w: tensor<4x8xf32>) -> tensor<?x5x4xf32> {
  %0 = qwha.linear "fc" %x, %w : tensor<?x5x8xf32>, tensor<4x8xf32> -> tensor<?x5x4xf32>
  return %0 : tensor<?x5x4xf32>
}

// -----

// Contiguous groups: codes viewed as [N, G, group], scales and zeros read
// through projections, and a body of extend / int-to-float / sub / mul only.
// CHECK-DAG: #[[FULL:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[GROUP:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @dequantize_grouped
// CHECK-SAME: (%[[C:.*]]: tensor<16x64xi4>, %[[S:.*]]: tensor<16x2xf16>, %[[Z:.*]]: tensor<16x2xi4>)
// CHECK: %[[G:.*]] = tensor.expand_shape %[[C]] {{\[}}[0], [1, 2]] output_shape [16, 2, 32] : tensor<16x64xi4> into tensor<16x2x32xi4>
// CHECK: %[[D:.*]] = linalg.generic {indexing_maps = [#[[FULL]], #[[GROUP]], #[[GROUP]], #[[FULL]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[G]], %[[S]], %[[Z]] : tensor<16x2x32xi4>, tensor<16x2xf16>, tensor<16x2xi4>)
// CHECK: ^bb0(%[[CODE:.*]]: i4, %[[SCALE:.*]]: f16, %[[ZP:.*]]: i4, %{{.*}}: f32):
// CHECK-NEXT: %[[CW:.*]] = arith.extui %[[CODE]] : i4 to i32
// CHECK-NEXT: %[[CF:.*]] = arith.uitofp %[[CW]] : i32 to f32
// CHECK-NEXT: %[[ZW:.*]] = arith.extui %[[ZP]] : i4 to i32
// CHECK-NEXT: %[[ZF:.*]] = arith.uitofp %[[ZW]] : i32 to f32
// CHECK-NEXT: %[[DIFF:.*]] = arith.subf %[[CF]], %[[ZF]] : f32
// CHECK-NEXT: %[[SF:.*]] = arith.extf %[[SCALE]] : f16 to f32
// CHECK-NEXT: %[[V:.*]] = arith.mulf %[[DIFF]], %[[SF]] : f32
// CHECK-NEXT: linalg.yield %[[V]] : f32
// CHECK: tensor.collapse_shape %[[D]] {{\[}}[0], [1, 2]] : tensor<16x2x32xf32> into tensor<16x64xf32>
func.func @dequantize_grouped(%c: tensor<16x64xi4>, %s: tensor<16x2xf16>, %z: tensor<16x2xi4>) -> tensor<16x64xf32> {
  %0 = qwha.dequantize %c, %s, %z group_size 32 : tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4> -> tensor<16x64xf32>
  return %0 : tensor<16x64xf32>
}

// -----

// Per-channel grids are one group of K columns; float zero points are
// subtracted as they are.
// CHECK-LABEL: func.func @dequantize_per_channel
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [4, 1, 8] : tensor<4x8xi8> into tensor<4x1x8xi8>
// CHECK: ^bb0(%[[CODE:.*]]: i8, %[[SCALE:.*]]: f32, %[[ZP:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[CF:.*]] = arith.uitofp
// CHECK-NEXT: %[[DIFF:.*]] = arith.subf %[[CF]], %[[ZP]] : f32
// CHECK-NEXT: arith.mulf %[[DIFF]], %[[SCALE]] : f32
func.func @dequantize_per_channel(%c: tensor<4x8xi8>, %s: tensor<4x1xf32>) -> tensor<4x8xf32> {
  %0 = qwha.dequantize %c, %s, %s group_size -1 : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// bf16 scales for an f16 weight: same width, different format, via f32.
// CHECK-LABEL: func.func @dequantize_bf16_scales
// CHECK: ^bb0(%{{.*}}: i8, %[[SCALE:.*]]: bf16, %{{.*}}: i8, %{{.*}}: f16):
// CHECK: %[[WIDE:.*]] = arith.extf %[[SCALE]] : bf16 to f32
// CHECK: arith.truncf %[[WIDE]] : f32 to f16
func.func @dequantize_bf16_scales(%c: tensor<4x8xi8>, %s: tensor<4x1xbf16>, %z: tensor<4x1xi8>) -> tensor<4x8xf16> {
  %0 = qwha.dequantize %c, %s, %z group_size -1 : tensor<4x8xi8>, tensor<4x1xbf16>, tensor<4x1xi8> -> tensor<4x8xf16>
  return %0 : tensor<4x8xf16>
}

// -----

// Act-order: the group of each column comes from g_idx, so the scale and
// zero are gathered.
// CHECK-DAG: #[[NK:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[K:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @dequantize_act_order
// CHECK-SAME: (%[[C:.*]]: tensor<4x8xi4>, %[[S:.*]]: tensor<4x2xf32>, %[[Z:.*]]: tensor<4x2xi4>, %[[G:.*]]: tensor<8xi32>)
// CHECK: linalg.generic {indexing_maps = [#[[NK]], #[[K]], #[[NK]]], iterator_types = ["parallel", "parallel"]} ins(%[[C]], %[[G]] : tensor<4x8xi4>, tensor<8xi32>)
// CHECK: ^bb0(%[[CODE:.*]]: i4, %[[GROUP:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[ROW:.*]] = linalg.index 0 : index
// CHECK: %[[GI:.*]] = arith.index_cast %[[GROUP]] : i32 to index
// CHECK: tensor.extract %[[S]][%[[ROW]], %[[GI]]] : tensor<4x2xf32>
// CHECK: tensor.extract %[[Z]][%[[ROW]], %[[GI]]] : tensor<4x2xi4>
func.func @dequantize_act_order(%c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %z: tensor<4x2xi4>, %g: tensor<8xi32>) -> tensor<4x8xf32> {
  %0 = qwha.dequantize %c, %s, %z g_idx %g group_size 4 : tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xi4>, tensor<8xi32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// qlinear is a contraction over the dequantized weight.
// CHECK-LABEL: func.func @qlinear
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>,
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<4x2x4xi4>, tensor<4x2xf32>, tensor<4x2xi4>)
// CHECK: %[[W:.*]] = tensor.collapse_shape %[[D]]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[W]] : tensor<2x8xf32>, tensor<4x8xf32>)
// CHECK-NOT: qwha.
func.func @qlinear(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x2xf32>, %z: tensor<4x2xi4>) -> tensor<2x4xf32> {
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xi4> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// 48 = 16 * 3 is not a size; 96 = 2^3 * 12 is applied as factors 8 and 12
// along their own axes, the normalization folded into the first factor.
// CHECK-DAG: #[[IN1:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[H:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
// CHECK-DAG: #[[IN2:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[H2:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func.func @fwht
// CHECK-SAME: (%[[X:.*]]: tensor<3x96xf32>)
// CHECK: %[[E:.*]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2]] output_shape [3, 8, 12] : tensor<3x96xf32> into tensor<3x8x12xf32>
// CHECK: %[[H8:.*]] = arith.constant dense<{{\[}}[0.102062076, 0.102062076, {{.*}}> : tensor<8x8xf32>
// CHECK: %[[S1:.*]] = linalg.generic {indexing_maps = [#[[IN1]], #[[H]], #{{.*}}]{{.*}} ins(%[[E]], %[[H8]] : tensor<3x8x12xf32>, tensor<8x8xf32>)
// CHECK: %[[H12:.*]] = arith.constant dense<"0x0000803F000080BF0000803F{{.*}}"> : tensor<12x12xf32>
// CHECK: %[[S2:.*]] = linalg.generic {indexing_maps = [#[[IN2]], #[[H2]], #{{.*}}]{{.*}} ins(%[[S1]], %[[H12]] : tensor<3x8x12xf32>, tensor<12x12xf32>)
// CHECK: tensor.collapse_shape %[[S2]] {{\[}}[0], [1, 2]] : tensor<3x8x12xf32> into tensor<3x96xf32>
func.func @fwht(%x: tensor<3x96xf32>) -> tensor<3x96xf32> {
  %0 = qwha.fwht %x normalized : tensor<3x96xf32>
  return %0 : tensor<3x96xf32>
}

// -----

// A power of two above 16 is split into Sylvester factors of at most 16.
// CHECK-LABEL: func.func @fwht_pow2
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1, 2]] output_shape [16, 16, 2] : tensor<512xf16> into tensor<16x16x2xf16>
// CHECK-COUNT-3: linalg.generic
// CHECK: tensor.collapse_shape
func.func @fwht_pow2(%x: tensor<512xf16>) -> tensor<512xf16> {
  %0 = qwha.fwht %x : tensor<512xf16>
  return %0 : tensor<512xf16>
}

// -----

// CHECK-LABEL: func.func @sparse_linear
// CHECK-SAME: (%[[H:.*]]: tensor<2x8xf32>, %[[R:.*]]: tensor<5xi32>, %[[C:.*]]: tensor<?xi32>, %[[V:.*]]: tensor<?xf32>)
// CHECK-DAG: %[[BEGIN:.*]] = tensor.extract_slice %[[R]][0] [4] [1]
// CHECK-DAG: %[[END:.*]] = tensor.extract_slice %[[R]][1] [4] [1]
// CHECK: linalg.generic {{.*}} ins(%[[BEGIN]], %[[END]] : tensor<4xi32>, tensor<4xi32>)
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK:   tensor.extract %[[C]][%[[P]]]
// CHECK:   tensor.extract %[[V]][%[[P]]]
// CHECK:   tensor.extract %[[H]][
func.func @sparse_linear(%h: tensor<2x8xf32>, %r: tensor<5xi32>, %c: tensor<?xi32>, %v: tensor<?xf32>) -> tensor<2x4xf32> {
  %0 = qwha.sparse_linear %h, %r, %c, %v : tensor<2x8xf32>, tensor<5xi32>, tensor<?xi32>, tensor<?xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// The fused layer decomposes into its parts and their sum.
// CHECK-LABEL: func.func @qlinear_wha
// CHECK: tensor.collapse_shape
// CHECK: %[[BASE:.*]] = linalg.generic {{.*}}"reduction"
// CHECK: %[[ADAPTER:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<4xi32>, tensor<4xi32>)
// CHECK: linalg.add ins(%[[BASE]], %[[ADAPTER]] : tensor<2x4xf32>, tensor<2x4xf32>)
func.func @qlinear_wha(%x: tensor<2x8xf32>, %c: tensor<4x8xi4>, %s: tensor<4x1xf32>, %r: tensor<5xi32>, %ci: tensor<3xi32>, %v: tensor<3xf32>) -> tensor<2x4xf32> {
  %0 = qwha.qlinear_wha "fc" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
