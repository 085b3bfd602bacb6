// RUN: qwha-opt %s -split-input-file -convert-qwha-to-cpu="vector-width=4" -canonicalize -cse | FileCheck %s

// Groups of 4 columns, padded to the 8 columns of a 4-bit chunk: the input
// is gathered through a column map with -1 for padding; 3 outputs in a
// block of 4 lanes end with a masked store.

// CHECK-DAG: memref.global "private" constant @__qwha_cpu_fc_columns : memref<16xi32> = dense<[0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1]> {alignment = 64 : i64}
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_fc_codes : memref<8xi32> {{.*}} {alignment = 64 : i64}
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_fc_scales : memref<8xf32> = dense<[8.000000e+00, 8.000000e+00, 8.000000e+00, 0.000000e+00, 8.000000e+00, 8.000000e+00, 8.000000e+00, 0.000000e+00]>
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_fc_offsets : memref<8xf32> = dense<[-1.200000e+01, -1.200000e+01, -1.200000e+01, 0.000000e+00, -1.200000e+01, -1.200000e+01, -1.200000e+01, 0.000000e+00]>
// CHECK-LABEL: func.func @grouped(
// CHECK-SAME:      %[[X:.*]]: tensor<2x8xf32>)
// CHECK:         %[[CODES:.*]] = memref.get_global @__qwha_cpu_fc_codes : memref<8xi32>
// CHECK:         %[[CODESARG:.*]] = memref.cast %[[CODES]]
// CHECK:         %[[SCALES:.*]] = memref.get_global @__qwha_cpu_fc_scales
// CHECK:         %[[SCALESARG:.*]] = memref.cast %[[SCALES]]
// CHECK:         %[[OFFSETS:.*]] = memref.get_global @__qwha_cpu_fc_offsets
// CHECK:         %[[OFFSETSARG:.*]] = memref.cast %[[OFFSETS]]
// CHECK:         %[[COLUMNS:.*]] = memref.get_global @__qwha_cpu_fc_columns
// CHECK:         %[[COLUMNSARG:.*]] = memref.cast %[[COLUMNS]]
// CHECK:         %[[XBUF:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<2x8xf32> to memref<2x8xf32, strided<[?, ?], offset: ?>>
// CHECK:         %[[XARG:.*]] = memref.cast %[[XBUF]] : memref<2x8xf32, strided<[?, ?], offset: ?>> to memref<?x8xf32, strided<[?, ?], offset: ?>>
// Workspace: 8 gathered rows of 16 packed columns, then 2 group sums.
// CHECK:         %[[WORK:.*]] = memref.alloc() {alignment = 64 : i64} : memref<130xf32>
// CHECK:         %[[WORKARG:.*]] = memref.cast %[[WORK]]
// CHECK:         %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x3xf32>
// CHECK:         %[[OUTARG:.*]] = memref.cast %[[OUT]] : memref<2x3xf32> to memref<?x3xf32>
// CHECK:         call @qwha_cpu_qmatmul_w4_n3_k8_g2x8_gather_v4_m8x2_r4_p2048(%[[XARG]], %[[CODESARG]], %[[SCALESARG]], %[[OFFSETSARG]], %[[COLUMNSARG]], %[[WORKARG]], %[[OUTARG]])
// CHECK:         %[[Y:.*]] = bufferization.to_tensor %[[OUTARG]] restrict writable : memref<?x3xf32> to tensor<?x3xf32>
// CHECK:         %[[R:.*]] = tensor.cast %[[Y]] : tensor<?x3xf32> to tensor<2x3xf32>
// CHECK:         return %[[R]]
// CHECK-LABEL: func.func private @qwha_cpu_qmatmul_w4_n3_k8_g2x8_gather_v4_m8x2_r4_p2048(
// CHECK-SAME:      memref<?x8xf32, strided<[?, ?], offset: ?>>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?x3xf32>)
// CHECK-SAME:      attributes {llvm.linkage = #llvm.linkage<internal>}
// Codes become 1 + q / 16: moved to mantissa bits 19-22 of 1.0f.
// CHECK-DAG:     %[[ONE:.*]] = arith.constant dense<1065353216> : vector<4xi32>
// CHECK-DAG:     %[[MASK:.*]] = arith.constant dense<7864320> : vector<4xi32>
// CHECK:         scf.for
// CHECK:           memref.load %{{.*}} : memref<?xi32>
// CHECK:           arith.select
// CHECK:         vector.load %{{.*}} : memref<?xi32>, vector<4xi32>
// CHECK:         arith.shli %{{.*}} : vector<4xi32>
// CHECK:         arith.andi %{{.*}}, %[[MASK]] : vector<4xi32>
// CHECK:         arith.ori %{{.*}}, %[[ONE]] : vector<4xi32>
// CHECK:         vector.bitcast %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK:         vector.fma
// CHECK:         vector.maskedstore
// The GEMV kernel prefetches the weight stream.
// CHECK:         memref.prefetch %{{.*}}[%{{.*}}], read, locality<0>, data : memref<?xi32>
func.func @grouped(%x: tensor<2x8xf32>) -> tensor<2x3xf32> {
  %codes = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15], [1, 1, 1, 1, 1, 1, 1, 1]]> : tensor<3x8xi4>
  %s = arith.constant dense<0.5> : tensor<3x2xf32>
  %z = arith.constant dense<8> : tensor<3x2xi4>
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size 4 : tensor<2x8xf32>, tensor<3x8xi4>, tensor<3x2xf32>, tensor<3x2xi4> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Groups of 8 that fill 4-bit chunks: no gather map. Two layers of one
// shape share a kernel; whole blocks of 4 outputs use plain stores.

// CHECK-NOT: @__qwha_cpu_a_columns
// CHECK-LABEL: func.func @shared(
// CHECK:         call @[[KERNEL:qwha_cpu_qmatmul_w4_n8_k16_g2x8_v4_m8x2_r4_p2048]](
// CHECK:         call @[[KERNEL]](
// CHECK:       func.func private @[[KERNEL]](
// CHECK-SAME:      memref<?x16xf32, strided<[?, ?], offset: ?>>, %{{.*}}: memref<?xi32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?x8xf32>)
// CHECK-NOT:     vector.maskedstore
// CHECK:         vector.store %{{.*}} : memref<?x8xf32>, vector<4xf32>
// CHECK-NOT:   func.func private
func.func @shared(%x: tensor<1x16xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %codes = arith.constant dense<3> : tensor<8x16xi4>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %z = arith.constant dense<8> : tensor<8x2xi4>
  %y0 = qwha.qlinear "a" %x, %codes, %s, %z group_size 8 : tensor<1x16xf32>, tensor<8x16xi4>, tensor<8x2xf32>, tensor<8x2xi4> -> tensor<1x8xf32>
  %s1 = arith.constant dense<0.25> : tensor<8x2xf32>
  %y1 = qwha.qlinear "b" %x, %codes, %s1, %z group_size 8 : tensor<1x16xf32>, tensor<8x16xi4>, tensor<8x2xf32>, tensor<8x2xi4> -> tensor<1x8xf32>
  return %y0, %y1 : tensor<1x8xf32>, tensor<1x8xf32>
}

// -----

// Leading dimensions are folded into rows and restored afterwards; a rank-1
// input is one row.

// CHECK-LABEL: func.func @batched(
// CHECK-SAME:      %[[X:.*]]: tensor<2x?x16xf32>)
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK:         %[[ROWS:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<2x?x16xf32> into tensor<?x16xf32>
// CHECK:         bufferization.to_buffer %[[ROWS]] read_only
// CHECK:         call @qwha_cpu_qmatmul_w8_n8_k16_g1x16_v4_m8x2_r4_p2048(
// CHECK:         %[[Y:.*]] = bufferization.to_tensor
// CHECK:         %[[S:.*]] = tensor.dim %[[X]], %[[C1]]
// CHECK:         tensor.expand_shape %[[Y]] {{\[\[}}0, 1], [2]] output_shape [2, %[[S]], 8] : tensor<?x8xf32> into tensor<2x?x8xf32>
func.func @batched(%x: tensor<2x?x16xf32>) -> tensor<2x?x8xf32> {
  %codes = arith.constant dense<200> : tensor<8x16xi8>
  %s = arith.constant dense<0.5> : tensor<8x1xf32>
  %z = arith.constant dense<128> : tensor<8x1xi8>
  %y = qwha.qlinear "c" %x, %codes, %s, %z group_size -1 : tensor<2x?x16xf32>, tensor<8x16xi8>, tensor<8x1xf32>, tensor<8x1xi8> -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}

// CHECK-LABEL: func.func @vector_input(
// CHECK-SAME:      %[[X:.*]]: tensor<16xf32>)
// CHECK:         %[[ROW:.*]] = tensor.expand_shape %[[X]] {{\[\[}}0, 1]] output_shape [1, 16] : tensor<16xf32> into tensor<1x16xf32>
// CHECK:         call @qwha_cpu_qmatmul_w8_n8_k16_g1x16_v4_m8x2_r4_p2048(
// CHECK:         %[[Y:.*]] = bufferization.to_tensor
// CHECK:         %[[ONE:.*]] = tensor.cast %[[Y]] : tensor<?x8xf32> to tensor<1x8xf32>
// CHECK:         tensor.collapse_shape %[[ONE]] {{\[\[}}0, 1]] : tensor<1x8xf32> into tensor<8xf32>
func.func @vector_input(%x: tensor<16xf32>) -> tensor<8xf32> {
  %codes = arith.constant dense<200> : tensor<8x16xi8>
  %s = arith.constant dense<0.5> : tensor<8x1xf32>
  %z = arith.constant dense<128> : tensor<8x1xi8>
  %y = qwha.qlinear "d" %x, %codes, %s, %z group_size -1 : tensor<16xf32>, tensor<8x16xi8>, tensor<8x1xf32>, tensor<8x1xi8> -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// Act-order: columns are sorted by group through the gather map; 3-bit
// chunks are 32 columns, read as three planes.

// CHECK-DAG: memref.global "private" constant @__qwha_cpu_act_columns : memref<64xi32> = dense<[1, 2, -1,
// CHECK-LABEL: func.func @act_order(
// CHECK:         call @qwha_cpu_qmatmul_w3_n4_k4_g2x32_gather_v4_m8x2_r4_p2048(
// CHECK-LABEL: func.func private @qwha_cpu_qmatmul_w3_n4_k4_g2x32_gather_v4_m8x2_r4_p2048(
// CHECK-COUNT-3: vector.load %{{.*}} : memref<?xi32>, vector<4xi32>
func.func @act_order(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %codes = arith.constant dense<[[0, 1, 2, 3], [4, 5, 6, 7], [1, 1, 1, 1], [7, 0, 7, 0]]> : tensor<4x4xi3>
  %s = arith.constant dense<0.5> : tensor<4x2xf32>
  %z = arith.constant dense<4> : tensor<4x2xi3>
  %g = arith.constant dense<[1, 0, 0, 1]> : tensor<4xi32>
  %y = qwha.qlinear "act" %x, %codes, %s, %z g_idx %g group_size 2 : tensor<1x4xf32>, tensor<4x4xi3>, tensor<4x2xf32>, tensor<4x2xi3>, tensor<4xi32> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// An adapter layer splits into its quantized layer, the transform and the
// sparse product, each a kernel; layers reading the same input share one
// transform. 8 = 2^3: butterflies only (strides 1 and 2 within a vector of
// 4, stride 4 across vectors), the 1/sqrt(8) on the last stage.

// CHECK-DAG: memref.global "private" constant @__qwha_cpu_adapter_row_offsets{{.*}} : memref<5xi32> = dense<[0, 1, 1, 3, 3]>
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_adapter_cols{{.*}} : memref<3xi32> = dense<[7, 0, 5]>
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_adapter_values{{.*}} : memref<3xf32> = dense<[2.500000e-01, -1.000000e+00, 5.000000e-01]>
// CHECK-LABEL: func.func @adapters(
// CHECK-SAME:      %[[X:.*]]: tensor<2x8xf32>
// CHECK:         call @qwha_cpu_qmatmul_w4_n4_k8_g1x8_v4_m8x2_r4_p2048(
// CHECK:         call @qwha_cpu_fwht_d8_8x1_normalized_v4(
// CHECK:         call @qwha_cpu_spmm_n4_k8_v4(%[[HROWS:[^,]*]],
// CHECK:         linalg.add
// CHECK:         call @qwha_cpu_qmatmul_w4_n4_k8_g1x8_v4_m8x2_r4_p2048(
// CHECK-NOT:     call @qwha_cpu_fwht
// CHECK:         call @qwha_cpu_spmm_n4_k8_v4(%[[HROWS]],
// CHECK:         linalg.add
// CHECK-NOT:     qwha.
// CHECK-LABEL: func.func private @qwha_cpu_fwht_d8_8x1_normalized_v4(
// CHECK-SAME:      memref<?x8xf32, strided<[?, 1], offset: ?>>, %{{.*}}: memref<?x8xf32>)
// CHECK:         vector.shuffle %{{.*}}, %{{.*}} [1, 0, 3, 2]
// CHECK:         vector.shuffle %{{.*}}, %{{.*}} [2, 3, 0, 1]
// CHECK:         arith.mulf %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK-LABEL: func.func private @qwha_cpu_spmm_n4_k8_v4(
// CHECK-SAME:      %{{[^:]*}}: memref<?x8xf32, strided<[?, 1], offset: ?>>, %{{[^:]*}}: memref<?xi32>, %{{[^:]*}}: memref<?xi32>, %{{[^:]*}}: memref<?xf32>, %{{[^:]*}}: memref<?xf32>, %{{[^:]*}}: memref<?x4xf32>)
// Tiles of 4 rows: broadcast entry times a contiguous vector of the rows.
// CHECK:         vector.broadcast
// CHECK:         vector.fma
// Single rows: gathers and a reduction.
// CHECK:         vector.gather
// CHECK:         vector.reduction <add>
func.func @adapters(%x: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %c = arith.constant dense<5> : tensor<4x8xi4>
  %s = arith.constant dense<0.5> : tensor<4x1xf32>
  %r = arith.constant dense<[0, 1, 1, 3, 3]> : tensor<5xi32>
  %ci = arith.constant dense<[7, 0, 5]> : tensor<3xi32>
  %v = arith.constant dense<[0.25, -1.0, 0.5]> : tensor<3xf32>
  %v1 = arith.constant dense<[0.5, 1.0, 0.75]> : tensor<3xf32>
  %0 = qwha.qlinear_wha "q" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  %1 = qwha.qlinear_wha "k" %x, %c, %s, %s group_size -1 adapter(%r, %ci, %v1 : tensor<5xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x1xf32>, tensor<4x1xf32> -> tensor<2x4xf32>
  return %0, %1 : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// A float layer takes the same kernels: its weight's bits are 32-bit codes,
// one column per chunk, scale 1 and offset 0 (0 in the padding lane), used
// as floats without unpacking.

// CHECK-DAG: memref.global "private" constant @__qwha_cpu_dense_codes : memref<8xi32> = dense<[1065353216, -1082130432, 1073741824, 0, 1056964608, 1069547520, -1098907648, 0]>
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_dense_scales : memref<4xf32> = dense<[1.000000e+00, 1.000000e+00, 1.000000e+00, 0.000000e+00]>
// CHECK-DAG: memref.global "private" constant @__qwha_cpu_dense_offsets : memref<4xf32> = dense<0.000000e+00>
// CHECK-LABEL: func.func @float_layer(
// CHECK:         call @qwha_cpu_qmatmul_w32_n3_k2_g1x2_v4_m8x2_r4_p2048(
// CHECK-NOT:     qwha.linear
// CHECK-LABEL: func.func private @qwha_cpu_qmatmul_w32_n3_k2_g1x2_v4_m8x2_r4_p2048(
// CHECK-NOT:     arith.shli
// CHECK:         vector.bitcast %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK:         vector.fma
func.func @float_layer(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %w = arith.constant dense<[[1.0, 0.5], [-1.0, 1.5], [2.0, -0.25]]> : tensor<3x2xf32>
  %y = qwha.linear "dense" %x, %w : tensor<1x2xf32>, tensor<3x2xf32> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
