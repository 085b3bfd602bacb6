// RUN: qwha-opt %s -split-input-file -convert-qwha-to-gpu -canonicalize -cse | FileCheck %s

// A 4-bit layer, groups of 4 (padded to 32 columns): the weight becomes
// globals of the kernel module in the global address space, with a column
// map (-1 for padding); the layer a launch of its own kernel on buffers.

// CHECK-LABEL: func.func @grouped(
// CHECK-SAME:      %[[X:.*]]: tensor<2x8xf32>)
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK:         %[[XBUF:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<2x8xf32> to memref<2x8xf32>
// CHECK:         %[[XARG:.*]] = memref.cast %[[XBUF]] : memref<2x8xf32> to memref<?x8xf32>
// CHECK:         %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x3xf32>
// CHECK:         %[[OUTARG:.*]] = memref.cast %[[OUT]] : memref<2x3xf32> to memref<?x3xf32>
// One block of 4 warps x 2 rows covers the 3 outputs; one tile of 2 rows.
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_fc blocks in (%[[C1]], %[[C1]], %[[C1]]) threads in (%[[C128]], %[[C1]], %[[C1]]) args(%[[XARG]] : memref<?x8xf32>, %[[OUTARG]] : memref<?x3xf32>)
// CHECK:         %[[Y:.*]] = bufferization.to_tensor %[[OUTARG]] restrict writable
// CHECK:         %[[R:.*]] = tensor.cast %[[Y]] : tensor<?x3xf32> to tensor<2x3xf32>
// CHECK:         return %[[R]]
// CHECK:       gpu.module @qwha_kernels {
// CHECK-DAG:     memref.global "private" constant @fc_columns : memref<64xi32, #gpu.address_space<global>> = dense<[0, 1, 2, 3, -1, {{.*}}, 4, 5, 6, 7, -1, {{.*}}]> {alignment = 16 : i64}
// Scales 2^4 * 0.5 and offsets -(8 + 16) * 0.5: W = m(q) * 8 - 12.
// CHECK-DAG:     memref.global "private" constant @fc_scales : memref<3x2xf32, #gpu.address_space<global>> = dense<8.000000e+00>
// CHECK-DAG:     memref.global "private" constant @fc_offsets : memref<3x2xf32, #gpu.address_space<global>> = dense<-1.200000e+01>
// Row 0 holds codes 0-3 at columns 0-3 (0x3210 = 12816) and 4-7 at 32-35.
// CHECK-DAG:     memref.global "private" constant @fc_plane0 : memref<3x8xi32, #gpu.address_space<global>> = dense<{{\[\[}}12816, 0, 0, 0, 30292, 0, 0, 0]
// CHECK:         gpu.func @qlinear_fc(%[[KX:.*]]: memref<?x8xf32>, %[[KY:.*]]: memref<?x3xf32>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK:           %[[TID:.*]] = gpu.thread_id x
// CHECK:           %[[LANE:.*]] = arith.remui %[[TID]], %{{.*}} : index
// CHECK:           scf.if
// CHECK:             %[[PLANE:.*]] = memref.get_global @fc_plane0
// CHECK:             %[[COLS:.*]] = memref.get_global @fc_columns
// Lanes walk the steps 32 apart; a step is one 128-bit load per row.
// CHECK:             scf.for %[[S:.*]] = %[[LANE]] to %{{.*}} step %{{.*}} iter_args(
// CHECK:               vector.load %[[PLANE]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<3x8xi32, #gpu.address_space<global>>, vector<4xi32>
// The input is gathered through the column map, padding reads zero.
// CHECK:               vector.load %[[COLS]][%{{.*}}] {alignment = 16 : i64} : memref<64xi32, #gpu.address_space<global>>, vector<4xi32>
// CHECK:               arith.cmpi sge
// CHECK:               memref.load %[[KX]]
// CHECK:               arith.select
// A code becomes 1 + q / 16 in mantissa bits 19-22 of 1.0f: one shift,
// then one lop3 that masks the code and ors in 1.0f's bits.
// CHECK:               %[[SHIFTED:.*]] = arith.shli %{{.*}}, %{{.*}} : i32
// CHECK:               %[[BITS:.*]] = llvm.inline_asm asm_dialect = att "lop3.b32 $0, $1, 0x00780000, $2, 0xEA;", "=r,r,r" %[[SHIFTED]], %[[ONE:.*]] : (i32, i32) -> i32
// CHECK:               arith.bitcast %[[BITS]] : i32 to f32
// CHECK:               arith.mulf %{{.*}} fastmath<contract> : f32
// CHECK:               arith.addf %{{.*}} fastmath<contract> : f32
// CHECK:             gpu.shuffle  xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK:             memref.store %{{.*}}, %[[KY]]
// CHECK:           gpu.return
func.func @grouped(%x: tensor<2x8xf32>) -> tensor<2x3xf32> {
  %codes = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15], [1, 1, 1, 1, 1, 1, 1, 1]]> : tensor<3x8xi4>
  %s = arith.constant dense<0.5> : tensor<3x2xf32>
  %z = arith.constant dense<8> : tensor<3x2xi4>
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size 4 : tensor<2x8xf32>, tensor<3x8xi4>, tensor<3x2xf32>, tensor<3x2xi4> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// A step-aligned 3-bit layer: no column map, the input read four floats at
// a time; two planes, 128 and 64 bits per step. A dynamic batch uses tiles
// of 4 rows, the grid's second dimension max(1, ceil(M / 4)).

// CHECK-LABEL: func.func @three_bit(
// CHECK:         %[[M:.*]] = tensor.dim
// CHECK:         %[[TILES:.*]] = arith.ceildivui %[[M]], %{{.*}} : index
// CHECK:         %[[GRIDY:.*]] = arith.maxui %[[TILES]], %{{.*}} : index
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_l3 blocks in (%{{.*}}, %[[GRIDY]], %{{.*}})
// CHECK-NOT:   @l3_columns
// CHECK:         gpu.func @qlinear_l3(
// CHECK:           vector.load %{{.*}} : memref<8x4xi32, #gpu.address_space<global>>, vector<4xi32>
// CHECK:           vector.load %{{.*}} {alignment = 8 : i64} : memref<8x2xi32, #gpu.address_space<global>>, vector<2xi32>
// CHECK:           vector.load %{{.*}} {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
func.func @three_bit(%x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %codes = arith.constant dense<5> : tensor<8x64xi3>
  %s = arith.constant dense<0.25> : tensor<8x1xf32>
  %z = arith.constant dense<3> : tensor<8x1xi3>
  %y = qwha.qlinear "l3" %x, %codes, %s, %z group_size 64 : tensor<?x64xf32>, tensor<8x64xi3>, tensor<8x1xf32>, tensor<8x1xi3> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Two QWHA layers on one input share its transform: one FWHT launch into a
// buffer both row kernels read; each kernel sums its adapter's entries.

// CHECK-LABEL: func.func @shared_transform(
// CHECK:         gpu.launch_func @qwha_kernels::@fwht_64_n blocks in ({{.*}}) threads in ({{.*}}) dynamic_shared_memory_size %{{.*}} args(%[[XB:.*]] : memref<?x64xf32>, %[[H:.*]] : memref<?x64xf32>)
// CHECK-NOT:     @fwht_64_n
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_q blocks in ({{.*}}) args(%[[XB]] : memref<?x64xf32>, %[[H]] : memref<?x64xf32>, %{{.*}} : memref<?x4xf32>)
// CHECK-NOT:     @fwht_64_n
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_k blocks in ({{.*}}) args(%[[XB]] : memref<?x64xf32>, %[[H]] : memref<?x64xf32>, %{{.*}} : memref<?x4xf32>)
// CHECK:       gpu.module @qwha_kernels
// CHECK-DAG:     memref.global "private" constant @q_adapter_row_offsets : memref<5xi32, #gpu.address_space<global>> = dense<[0, 1, 1, 2, 2]>
// CHECK-DAG:     memref.global "private" constant @q_adapter_cols : memref<2xi32, #gpu.address_space<global>> = dense<[3, 60]>
// CHECK:         gpu.func @fwht_64_n(
// CHECK:         gpu.func @qlinear_q(%{{.*}}: memref<?x64xf32>, %[[QH:.*]]: memref<?x64xf32>, %{{.*}}: memref<?x4xf32>)
// CHECK:           %[[ROWS:.*]] = memref.get_global @q_adapter_row_offsets
// CHECK:           scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK:             memref.load %[[QH]]
// CHECK:           gpu.shuffle  xor
func.func @shared_transform(%x: tensor<1x64xf32>) -> (tensor<1x4xf32>, tensor<1x4xf32>) {
  %codes = arith.constant dense<1> : tensor<4x64xi4>
  %s = arith.constant dense<0.5> : tensor<4x2xf32>
  %z = arith.constant dense<8> : tensor<4x2xi4>
  %rows = arith.constant dense<[0, 1, 1, 2, 2]> : tensor<5xi32>
  %cols = arith.constant dense<[3, 60]> : tensor<2xi32>
  %vals = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %q = qwha.qlinear_wha "q" %x, %codes, %s, %z group_size 32 adapter(%rows, %cols, %vals : tensor<5xi32>, tensor<2xi32>, tensor<2xf32>) : tensor<1x64xf32>, tensor<4x64xi4>, tensor<4x2xf32>, tensor<4x2xi4> -> tensor<1x4xf32>
  %k = qwha.qlinear_wha "k" %x, %codes, %s, %z group_size 32 adapter(%rows, %cols, %vals : tensor<5xi32>, tensor<2xi32>, tensor<2xf32>) : tensor<1x64xf32>, tensor<4x64xi4>, tensor<4x2xf32>, tensor<4x2xi4> -> tensor<1x4xf32>
  return %q, %k : tensor<1x4xf32>, tensor<1x4xf32>
}

// -----

// FWHT of 2^n * m: H_m applied while loading from a table, then the
// power-of-two stages in shared memory; 2 rows, one block each.

// CHECK-LABEL: func.func @paley(
// CHECK-DAG:     %[[SMEM:.*]] = arith.constant 1280 : i32
// CHECK:         gpu.launch_func @qwha_kernels::@fwht_320 blocks in ({{.*}}) threads in ({{.*}}) dynamic_shared_memory_size %[[SMEM]]
// CHECK:       memref.global "private" constant @hadamard_20 : memref<400xf32, #gpu.address_space<global>>
// CHECK:       gpu.func @fwht_320(
// CHECK-SAME:      known_block_size = array<i32: 160, 1, 1>
// CHECK:         gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK:         memref.view {{.*}} to memref<320xf32, #gpu.address_space<workgroup>>
// CHECK:         memref.get_global @hadamard_20
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.barrier
// CHECK:         gpu.barrier
// CHECK:         gpu.barrier
// CHECK:         gpu.barrier
// CHECK:         gpu.barrier
// CHECK-NOT:     gpu.barrier
// CHECK:         gpu.return
func.func @paley(%x: tensor<2x320xf32>) -> tensor<2x320xf32> {
  %y = qwha.fwht %x : tensor<2x320xf32>
  return %y : tensor<2x320xf32>
}

// -----

// A float layer and a standalone sparse adapter on a rank-3 input: leading
// dimensions fold into rows and back.

// CHECK-LABEL: func.func @float_and_sparse(
// CHECK:         tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x3x8xf32> into tensor<6x8xf32>
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_w
// CHECK:         gpu.launch_func @qwha_kernels::@sparse_adapter
// CHECK:         tensor.expand_shape
// CHECK:       gpu.func @qlinear_w(%{{.*}}: memref<?x8xf32>, %{{.*}}: memref<?x5xf32>)
// CHECK-NOT:     memref.get_global @w_scales
// CHECK:         vector.load %{{.*}} : memref<5x8xi32, #gpu.address_space<global>>, vector<4xi32>
// CHECK:         arith.bitcast %{{.*}} : i32 to f32
// CHECK:       gpu.func @sparse_adapter(%[[SX:.*]]: memref<?x5xf32>, %{{.*}}: memref<?x2xf32>)
// CHECK:         memref.load %[[SX]]
func.func @float_and_sparse(%x: tensor<2x3x8xf32>) -> tensor<2x3x2xf32> {
  %w = arith.constant dense<0.125> : tensor<5x8xf32>
  %h = qwha.linear "w" %x, %w : tensor<2x3x8xf32>, tensor<5x8xf32> -> tensor<2x3x5xf32>
  %rows = arith.constant dense<[0, 1, 3]> : tensor<3xi32>
  %cols = arith.constant dense<[4, 0, 2]> : tensor<3xi32>
  %vals = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = qwha.sparse_linear %h, %rows, %cols, %vals : tensor<2x3x5xf32>, tensor<3xi32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x3x2xf32>
  return %y : tensor<2x3x2xf32>
}
