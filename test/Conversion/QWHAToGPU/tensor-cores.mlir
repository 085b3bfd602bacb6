// RUN: qwha-opt %s -split-input-file -convert-qwha-to-gpu="mma-min-batch=17" -canonicalize -cse | FileCheck %s
// RUN: qwha-opt %s -split-input-file -convert-qwha-to-gpu | FileCheck %s --check-prefix=NOMMA

// The tensor-core path of the row kernels (mma-min-batch): chunks of 32
// packed columns dequantized into shared memory, multiplied with
// nvgpu.mma.sync m16n8k8 on TF32 operands. Without the option every batch
// takes the warp-per-rows kernel.

// NOMMA-NOT: nvgpu.mma.sync
// NOMMA-NOT: dynamic_shared_memory_size %c23040

// A static batch of 32 takes the tensor-core path alone: one block of
// 4 warps x 32 rows (the 8 outputs, clamped) and 32 inputs, with
// (128 + 32) rows x 36 floats of shared memory.
// CHECK-LABEL: func.func @static_batch(
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[SMEM:.*]] = arith.constant 23040 : i32
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_fc blocks in (%[[C1]], %[[C1]], %[[C1]]) threads in (%[[C128]], %[[C1]], %[[C1]]) dynamic_shared_memory_size %[[SMEM]]
// CHECK:       gpu.func @qlinear_fc(%[[X:.*]]: memref<?x64xf32>, %[[Y:.*]]: memref<?x8xf32>) kernel
// CHECK-NOT:     gpu.shuffle
// CHECK-DAG:     %[[ROUND:.*]] = arith.constant dense<4096> : vector<4xi32>
// CHECK-DAG:     %[[MASK:.*]] = arith.constant dense<-8192> : vector<4xi32>
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<2x2xf32>
// CHECK:         %[[TID:.*]] = gpu.thread_id x
// CHECK:         %[[SHARED:.*]] = gpu.dynamic_shared_memory
// CHECK:         %[[WTILE:.*]] = memref.view %[[SHARED]][%{{.*}}][] : {{.*}} to memref<128x36xf32, #gpu.address_space<workgroup>>
// CHECK:         %[[XTILE:.*]] = memref.view %[[SHARED]][%{{.*}}][] : {{.*}} to memref<32x36xf32, #gpu.address_space<workgroup>>
// Two chunks; 2 x 4 accumulator tiles per warp carried across them.
// CHECK:         scf.for %[[CHUNK:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC0:[a-z0-9_]+]] = %[[ZERO]], {{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>)
// The block loads the inputs' chunk, 128 bits at a time, rounded to TF32.
// CHECK:           scf.for %{{.*}} = %[[TID]] to %{{.*}} step %[[C128]]
// CHECK:             %[[XV:.*]] = vector.load %[[X]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<?x64xf32>, vector<4xf32>
// CHECK:             %[[XB:.*]] = arith.bitcast %[[XV]] : vector<4xf32> to vector<4xi32>
// CHECK:             %[[XR:.*]] = arith.addi %[[XB]], %[[ROUND]]
// CHECK:             arith.andi %[[XR]], %[[MASK]]
// CHECK:             vector.store %{{.*}}, %[[XTILE]]
// Thread t dequantizes row t's chunk: one 128-bit load of codes, its
// group's scale and offset, four 128-bit stores.
// CHECK:           vector.load %{{.*}} {alignment = 16 : i64} : memref<8x8xi32, #gpu.address_space<global>>, vector<4xi32>
// CHECK:           memref.load %{{.*}} : memref<8x2xf32, #gpu.address_space<global>>
// CHECK:           memref.load %{{.*}} : memref<8x2xf32, #gpu.address_space<global>>
// CHECK-COUNT-4:   vector.store %{{.*}}, %[[WTILE]][%[[TID]], %{{.*}}] {alignment = 16 : i64}
// CHECK:           gpu.barrier
// Four steps of 8 columns, each 2 x 4 multiplies.
// CHECK:           memref.load %[[WTILE]]
// CHECK:           memref.load %[[XTILE]]
// CHECK:           nvgpu.mma.sync(%{{.*}}, %{{.*}}, %[[ACC0]]) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-COUNT-31:  nvgpu.mma.sync
// CHECK:           gpu.barrier
// CHECK-NEXT:      scf.yield
// Outputs go where the accumulator fragments say, inside the bounds.
// CHECK:         scf.if
// CHECK-NEXT:      memref.store %{{.*}}, %[[Y]]
// CHECK:         gpu.return

func.func @static_batch(%x: tensor<32x64xf32>) -> tensor<32x8xf32> {
  %codes = arith.constant dense<[[12, 1, 2, 3, 2, 12, 13, 9, 0, 1, 5, 6, 9, 7, 4, 2, 11, 11, 0, 1, 7, 6, 14, 8, 6, 6, 10, 9, 2, 11, 12, 15, 12, 4, 5, 10, 10, 11, 13, 4, 15, 0, 1, 15, 15, 4, 2, 5, 0, 14, 10, 9, 3, 7, 3, 12, 7, 0, 4, 11, 8, 5, 4, 1], [9, 10, 8, 14, 14, 3, 9, 10, 3, 4, 7, 11, 4, 11, 10, 3, 6, 13, 13, 10, 0, 10, 3, 13, 14, 6, 15, 12, 5, 14, 6, 1, 9, 13, 10, 6, 14, 7, 6, 2, 3, 11, 12, 4, 10, 13, 2, 4, 8, 8, 6, 6, 2, 9, 14, 3, 12, 2, 0, 11, 2, 12, 5, 9], [15, 14, 7, 3, 4, 13, 9, 2, 14, 15, 15, 9, 15, 9, 8, 15, 9, 12, 5, 12, 15, 0, 8, 5, 0, 1, 4, 3, 11, 3, 10, 13, 7, 2, 1, 4, 6, 7, 4, 13, 9, 15, 14, 11, 0, 3, 11, 8, 15, 11, 13, 0, 4, 10, 10, 5, 2, 9, 1, 10, 12, 10, 1, 8], [4, 8, 10, 3, 0, 7, 9, 2, 14, 7, 15, 8, 11, 12, 7, 6, 10, 0, 9, 8, 2, 3, 0, 11, 10, 6, 15, 6, 4, 14, 1, 6, 0, 5, 11, 5, 7, 7, 0, 1, 4, 8, 1, 14, 13, 9, 11, 11, 0, 15, 0, 13, 13, 11, 2, 13, 15, 13, 11, 4, 8, 7, 13, 5], [6, 4, 7, 9, 7, 5, 8, 9, 2, 9, 11, 1, 9, 7, 14, 6, 5, 11, 13, 1, 1, 2, 5, 8, 9, 6, 14, 10, 2, 5, 3, 3, 13, 14, 6, 3, 13, 2, 2, 4, 5, 5, 4, 3, 10, 8, 10, 14, 14, 2, 12, 6, 13, 10, 0, 14, 14, 15, 0, 2, 10, 8, 1, 14], [3, 0, 13, 9, 0, 2, 14, 12, 13, 15, 4, 8, 5, 0, 3, 1, 1, 6, 14, 13, 10, 3, 2, 10, 11, 6, 2, 4, 15, 11, 9, 4, 13, 5, 7, 12, 6, 7, 0, 12, 4, 8, 8, 2, 3, 7, 1, 13, 5, 9, 2, 15, 7, 0, 5, 5, 3, 12, 15, 10, 2, 8, 7, 10], [13, 14, 12, 10, 7, 8, 2, 8, 8, 10, 7, 5, 8, 10, 3, 9, 5, 12, 9, 7, 0, 0, 3, 8, 7, 13, 2, 10, 6, 10, 1, 6, 2, 5, 3, 11, 10, 1, 4, 13, 14, 14, 1, 15, 6, 2, 11, 1, 0, 14, 1, 6, 14, 4, 4, 6, 12, 10, 4, 2, 6, 7, 6, 10], [1, 11, 8, 0, 10, 12, 5, 6, 9, 6, 8, 8, 9, 4, 1, 14, 7, 3, 15, 8, 5, 2, 0, 9, 9, 14, 15, 14, 0, 2, 9, 9, 3, 14, 15, 3, 10, 6, 8, 11, 8, 11, 4, 7, 2, 10, 6, 10, 15, 5, 12, 10, 11, 9, 4, 11, 5, 8, 8, 5, 7, 6, 4, 14]]> : tensor<8x64xi4>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %z = arith.constant dense<8> : tensor<8x2xi4>
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size 32 : tensor<32x64xf32>, tensor<8x64xi4>, tensor<8x2xf32>, tensor<8x2xi4> -> tensor<32x8xf32>
  return %y : tensor<32x8xf32>
}

// -----

// A dynamic batch: one kernel with both paths. The host picks the grid and
// the shared memory of the path the batch takes, the kernel branches on
// the same comparison. Below the tensor cores, a batch of one row takes a
// path of its own, with one sum per output row where a tile of 4 input
// rows carries 4 (rows-per-warp 2: 2 and 8 sums through the weight loop).
// CHECK-LABEL: func.func @dynamic_batch(
// CHECK-DAG:     %[[C17:.*]] = arith.constant 17 : index
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[ROWS:.*]] = tensor.dim %{{.*}}, %[[C0]]
// CHECK:         %[[LARGE:.*]] = arith.cmpi uge, %[[ROWS]], %[[C17]] : index
// CHECK:         %[[TILE:.*]] = arith.select %[[LARGE]], %{{.*}}, %{{.*}} : index
// CHECK:         %[[TILES:.*]] = arith.ceildivui %[[ROWS]], %[[TILE]]
// CHECK:         %[[GRIDY:.*]] = arith.maxui %[[TILES]]
// CHECK:         %[[BYTES:.*]] = arith.select %[[LARGE]], %{{.*}}, %[[C0]] : index
// CHECK:         %[[BYTES32:.*]] = arith.index_cast %[[BYTES]] : index to i32
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_fc blocks in (%{{.*}}, %[[GRIDY]], %{{.*}}) threads in ({{.*}}) dynamic_shared_memory_size %[[BYTES32]]
// CHECK:       gpu.func @qlinear_fc(%[[X:.*]]: memref<?x64xf32>
// CHECK:         %[[BATCH:.*]] = memref.dim %[[X]]
// CHECK:         %[[KLARGE:.*]] = arith.cmpi uge, %[[BATCH]], %{{.*}} : index
// CHECK:         scf.if %[[KLARGE]] {
// CHECK:           gpu.dynamic_shared_memory
// CHECK:           nvgpu.mma.sync
// CHECK:         } else {
// CHECK-NOT:       nvgpu.mma.sync
// CHECK:           %[[ONE:.*]] = arith.cmpi eq, %[[BATCH]], %{{.*}} : index
// CHECK:           scf.if %[[ONE]] {
// CHECK:             scf.for {{.*}} iter_args(%{{[^,]*}}, %{{[^,]*}}) -> (f32, f32) {
// CHECK:             gpu.shuffle xor
// CHECK:           } else {
// CHECK:             scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK:             gpu.shuffle xor
// CHECK:         gpu.return

func.func @dynamic_batch(%x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %codes = arith.constant dense<[[12, 1, 2, 3, 2, 12, 13, 9, 0, 1, 5, 6, 9, 7, 4, 2, 11, 11, 0, 1, 7, 6, 14, 8, 6, 6, 10, 9, 2, 11, 12, 15, 12, 4, 5, 10, 10, 11, 13, 4, 15, 0, 1, 15, 15, 4, 2, 5, 0, 14, 10, 9, 3, 7, 3, 12, 7, 0, 4, 11, 8, 5, 4, 1], [9, 10, 8, 14, 14, 3, 9, 10, 3, 4, 7, 11, 4, 11, 10, 3, 6, 13, 13, 10, 0, 10, 3, 13, 14, 6, 15, 12, 5, 14, 6, 1, 9, 13, 10, 6, 14, 7, 6, 2, 3, 11, 12, 4, 10, 13, 2, 4, 8, 8, 6, 6, 2, 9, 14, 3, 12, 2, 0, 11, 2, 12, 5, 9], [15, 14, 7, 3, 4, 13, 9, 2, 14, 15, 15, 9, 15, 9, 8, 15, 9, 12, 5, 12, 15, 0, 8, 5, 0, 1, 4, 3, 11, 3, 10, 13, 7, 2, 1, 4, 6, 7, 4, 13, 9, 15, 14, 11, 0, 3, 11, 8, 15, 11, 13, 0, 4, 10, 10, 5, 2, 9, 1, 10, 12, 10, 1, 8], [4, 8, 10, 3, 0, 7, 9, 2, 14, 7, 15, 8, 11, 12, 7, 6, 10, 0, 9, 8, 2, 3, 0, 11, 10, 6, 15, 6, 4, 14, 1, 6, 0, 5, 11, 5, 7, 7, 0, 1, 4, 8, 1, 14, 13, 9, 11, 11, 0, 15, 0, 13, 13, 11, 2, 13, 15, 13, 11, 4, 8, 7, 13, 5], [6, 4, 7, 9, 7, 5, 8, 9, 2, 9, 11, 1, 9, 7, 14, 6, 5, 11, 13, 1, 1, 2, 5, 8, 9, 6, 14, 10, 2, 5, 3, 3, 13, 14, 6, 3, 13, 2, 2, 4, 5, 5, 4, 3, 10, 8, 10, 14, 14, 2, 12, 6, 13, 10, 0, 14, 14, 15, 0, 2, 10, 8, 1, 14], [3, 0, 13, 9, 0, 2, 14, 12, 13, 15, 4, 8, 5, 0, 3, 1, 1, 6, 14, 13, 10, 3, 2, 10, 11, 6, 2, 4, 15, 11, 9, 4, 13, 5, 7, 12, 6, 7, 0, 12, 4, 8, 8, 2, 3, 7, 1, 13, 5, 9, 2, 15, 7, 0, 5, 5, 3, 12, 15, 10, 2, 8, 7, 10], [13, 14, 12, 10, 7, 8, 2, 8, 8, 10, 7, 5, 8, 10, 3, 9, 5, 12, 9, 7, 0, 0, 3, 8, 7, 13, 2, 10, 6, 10, 1, 6, 2, 5, 3, 11, 10, 1, 4, 13, 14, 14, 1, 15, 6, 2, 11, 1, 0, 14, 1, 6, 14, 4, 4, 6, 12, 10, 4, 2, 6, 7, 6, 10], [1, 11, 8, 0, 10, 12, 5, 6, 9, 6, 8, 8, 9, 4, 1, 14, 7, 3, 15, 8, 5, 2, 0, 9, 9, 14, 15, 14, 0, 2, 9, 9, 3, 14, 15, 3, 10, 6, 8, 11, 8, 11, 4, 7, 2, 10, 6, 10, 15, 5, 12, 10, 11, 9, 4, 11, 5, 8, 8, 5, 7, 6, 4, 14]]> : tensor<8x64xi4>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %z = arith.constant dense<8> : tensor<8x2xi4>
  %y = qwha.qlinear "fc" %x, %codes, %s, %z group_size 32 : tensor<?x64xf32>, tensor<8x64xi4>, tensor<8x2xf32>, tensor<8x2xi4> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A QWHA layer: the adapter's entries are sorted by column within each row
// (row 0's 40, 3 become 3, 40). Each chunk multiplies the weight with the
// inputs, then each warp overwrites its rows with the adapter's chunk
// (walked with a cursor carried across chunks) and multiplies it with the
// transform's chunk, a third tile.
// CHECK-LABEL: func.func @fused_adapter(
// CHECK:         gpu.launch_func @qwha_kernels::@fwht_64_n
// CHECK:         gpu.launch_func @qwha_kernels::@qlinear_fc {{.*}} dynamic_shared_memory_size %{{.*}} args(%[[IN:.*]] : memref<?x64xf32>, %[[H:.*]] : memref<?x64xf32>, %{{.*}} : memref<?x8xf32>)
// CHECK-DAG:   memref.global "private" constant @fc_adapter_values : memref<3xf32, #gpu.address_space<global>> = dense<[5.000000e-01, 2.500000e-01, -1.000000e+00]>
// CHECK-DAG:   memref.global "private" constant @fc_adapter_cols : memref<3xi32, #gpu.address_space<global>> = dense<[3, 40, 5]>
// CHECK:       gpu.func @qlinear_fc(%[[X:.*]]: memref<?x64xf32>, %[[XH:.*]]: memref<?x64xf32>, %{{.*}}: memref<?x8xf32>)
// CHECK:         %[[WTILE:.*]] = memref.view {{.*}} to memref<128x36xf32, #gpu.address_space<workgroup>>
// CHECK:         %[[XTILE:.*]] = memref.view {{.*}} to memref<32x36xf32, #gpu.address_space<workgroup>>
// CHECK:         %[[HTILE:.*]] = memref.view {{.*}} to memref<32x36xf32, #gpu.address_space<workgroup>>
// CHECK:         scf.for {{.*}} iter_args({{.*}}, %[[CURSOR:[a-z0-9_]+]] = %{{.*}}) -> ({{.*}}, index)
// CHECK:           vector.load %[[X]]
// CHECK:           vector.store %{{.*}}, %[[XTILE]]
// CHECK:           vector.load %[[XH]]
// CHECK:           vector.store %{{.*}}, %[[HTILE]]
// CHECK:           gpu.barrier
// CHECK:           nvgpu.mma.sync
// CHECK:           nvvm.bar.warp.sync
// CHECK:           %[[NEXT:[0-9]+]] = scf.while (%[[P:[a-z0-9_]+]] = %[[CURSOR]]) : (index) -> index {
// CHECK:             scf.condition
// CHECK:           } do {
// CHECK:             memref.load %[[WTILE]]
// CHECK:             arith.addf
// CHECK:             memref.store %{{.*}}, %[[WTILE]]
// CHECK:           nvvm.bar.warp.sync
// CHECK:           memref.load %[[HTILE]]
// CHECK:           nvgpu.mma.sync
// CHECK:           gpu.barrier
// CHECK:           scf.yield {{.*}}, %[[NEXT]] : {{.*}}, index

func.func @fused_adapter(%x: tensor<24x64xf32>) -> tensor<24x8xf32> {
  %codes = arith.constant dense<[[12, 1, 2, 3, 2, 12, 13, 9, 0, 1, 5, 6, 9, 7, 4, 2, 11, 11, 0, 1, 7, 6, 14, 8, 6, 6, 10, 9, 2, 11, 12, 15, 12, 4, 5, 10, 10, 11, 13, 4, 15, 0, 1, 15, 15, 4, 2, 5, 0, 14, 10, 9, 3, 7, 3, 12, 7, 0, 4, 11, 8, 5, 4, 1], [9, 10, 8, 14, 14, 3, 9, 10, 3, 4, 7, 11, 4, 11, 10, 3, 6, 13, 13, 10, 0, 10, 3, 13, 14, 6, 15, 12, 5, 14, 6, 1, 9, 13, 10, 6, 14, 7, 6, 2, 3, 11, 12, 4, 10, 13, 2, 4, 8, 8, 6, 6, 2, 9, 14, 3, 12, 2, 0, 11, 2, 12, 5, 9], [15, 14, 7, 3, 4, 13, 9, 2, 14, 15, 15, 9, 15, 9, 8, 15, 9, 12, 5, 12, 15, 0, 8, 5, 0, 1, 4, 3, 11, 3, 10, 13, 7, 2, 1, 4, 6, 7, 4, 13, 9, 15, 14, 11, 0, 3, 11, 8, 15, 11, 13, 0, 4, 10, 10, 5, 2, 9, 1, 10, 12, 10, 1, 8], [4, 8, 10, 3, 0, 7, 9, 2, 14, 7, 15, 8, 11, 12, 7, 6, 10, 0, 9, 8, 2, 3, 0, 11, 10, 6, 15, 6, 4, 14, 1, 6, 0, 5, 11, 5, 7, 7, 0, 1, 4, 8, 1, 14, 13, 9, 11, 11, 0, 15, 0, 13, 13, 11, 2, 13, 15, 13, 11, 4, 8, 7, 13, 5], [6, 4, 7, 9, 7, 5, 8, 9, 2, 9, 11, 1, 9, 7, 14, 6, 5, 11, 13, 1, 1, 2, 5, 8, 9, 6, 14, 10, 2, 5, 3, 3, 13, 14, 6, 3, 13, 2, 2, 4, 5, 5, 4, 3, 10, 8, 10, 14, 14, 2, 12, 6, 13, 10, 0, 14, 14, 15, 0, 2, 10, 8, 1, 14], [3, 0, 13, 9, 0, 2, 14, 12, 13, 15, 4, 8, 5, 0, 3, 1, 1, 6, 14, 13, 10, 3, 2, 10, 11, 6, 2, 4, 15, 11, 9, 4, 13, 5, 7, 12, 6, 7, 0, 12, 4, 8, 8, 2, 3, 7, 1, 13, 5, 9, 2, 15, 7, 0, 5, 5, 3, 12, 15, 10, 2, 8, 7, 10], [13, 14, 12, 10, 7, 8, 2, 8, 8, 10, 7, 5, 8, 10, 3, 9, 5, 12, 9, 7, 0, 0, 3, 8, 7, 13, 2, 10, 6, 10, 1, 6, 2, 5, 3, 11, 10, 1, 4, 13, 14, 14, 1, 15, 6, 2, 11, 1, 0, 14, 1, 6, 14, 4, 4, 6, 12, 10, 4, 2, 6, 7, 6, 10], [1, 11, 8, 0, 10, 12, 5, 6, 9, 6, 8, 8, 9, 4, 1, 14, 7, 3, 15, 8, 5, 2, 0, 9, 9, 14, 15, 14, 0, 2, 9, 9, 3, 14, 15, 3, 10, 6, 8, 11, 8, 11, 4, 7, 2, 10, 6, 10, 15, 5, 12, 10, 11, 9, 4, 11, 5, 8, 8, 5, 7, 6, 4, 14]]> : tensor<8x64xi4>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %z = arith.constant dense<8> : tensor<8x2xi4>
  %rows = arith.constant dense<[0, 2, 2, 2, 2, 2, 2, 2, 3]> : tensor<9xi32>
  %cols = arith.constant dense<[40, 3, 5]> : tensor<3xi32>
  %vals = arith.constant dense<[0.25, 0.5, -1.0]> : tensor<3xf32>
  %y = qwha.qlinear_wha "fc" %x, %codes, %s, %z group_size 32 adapter(%rows, %cols, %vals : tensor<9xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<24x64xf32>, tensor<8x64xi4>, tensor<8x2xf32>, tensor<8x2xi4> -> tensor<24x8xf32>
  return %y : tensor<24x8xf32>
}

// -----

// An act-order weight reads its input through the column map, so its
// chunks are not the transform's: the adapter takes a second pass over the
// input columns, reusing the weight and input tiles.
// CHECK-LABEL: func.func @act_order_adapter(
// CHECK:       gpu.func @qlinear_fc(%[[X:.*]]: memref<?x64xf32>, %[[XH:.*]]: memref<?x64xf32>, %{{.*}}: memref<?x8xf32>)
// CHECK:         %[[WTILE:.*]] = memref.view {{.*}} to memref<128x36xf32, #gpu.address_space<workgroup>>
// CHECK:         %[[XTILE:.*]] = memref.view {{.*}} to memref<32x36xf32, #gpu.address_space<workgroup>>
// CHECK-NOT:     memref.view
// CHECK:         %[[MAP:.*]] = memref.get_global @fc_columns
// CHECK:         %[[ACC:.*]]:8 = scf.for
// CHECK:           memref.load %[[MAP]]
// CHECK:           arith.cmpi sge
// CHECK:           memref.load %[[X]]
// CHECK:           memref.store %{{.*}}, %[[XTILE]]
// CHECK:           nvgpu.mma.sync
// CHECK-NOT:       nvvm.bar.warp.sync
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[ACC]]#0, {{.*}}) -> ({{.*}}, index)
// CHECK:           vector.load %[[XH]]
// CHECK:           vector.store %{{.*}}, %[[XTILE]]
// CHECK:           scf.while
// CHECK:           gpu.barrier
// CHECK:           memref.load %[[WTILE]]
// CHECK:           nvgpu.mma.sync

func.func @act_order_adapter(%x: tensor<24x64xf32>) -> tensor<24x8xf32> {
  %codes = arith.constant dense<[[12, 1, 2, 3, 2, 12, 13, 9, 0, 1, 5, 6, 9, 7, 4, 2, 11, 11, 0, 1, 7, 6, 14, 8, 6, 6, 10, 9, 2, 11, 12, 15, 12, 4, 5, 10, 10, 11, 13, 4, 15, 0, 1, 15, 15, 4, 2, 5, 0, 14, 10, 9, 3, 7, 3, 12, 7, 0, 4, 11, 8, 5, 4, 1], [9, 10, 8, 14, 14, 3, 9, 10, 3, 4, 7, 11, 4, 11, 10, 3, 6, 13, 13, 10, 0, 10, 3, 13, 14, 6, 15, 12, 5, 14, 6, 1, 9, 13, 10, 6, 14, 7, 6, 2, 3, 11, 12, 4, 10, 13, 2, 4, 8, 8, 6, 6, 2, 9, 14, 3, 12, 2, 0, 11, 2, 12, 5, 9], [15, 14, 7, 3, 4, 13, 9, 2, 14, 15, 15, 9, 15, 9, 8, 15, 9, 12, 5, 12, 15, 0, 8, 5, 0, 1, 4, 3, 11, 3, 10, 13, 7, 2, 1, 4, 6, 7, 4, 13, 9, 15, 14, 11, 0, 3, 11, 8, 15, 11, 13, 0, 4, 10, 10, 5, 2, 9, 1, 10, 12, 10, 1, 8], [4, 8, 10, 3, 0, 7, 9, 2, 14, 7, 15, 8, 11, 12, 7, 6, 10, 0, 9, 8, 2, 3, 0, 11, 10, 6, 15, 6, 4, 14, 1, 6, 0, 5, 11, 5, 7, 7, 0, 1, 4, 8, 1, 14, 13, 9, 11, 11, 0, 15, 0, 13, 13, 11, 2, 13, 15, 13, 11, 4, 8, 7, 13, 5], [6, 4, 7, 9, 7, 5, 8, 9, 2, 9, 11, 1, 9, 7, 14, 6, 5, 11, 13, 1, 1, 2, 5, 8, 9, 6, 14, 10, 2, 5, 3, 3, 13, 14, 6, 3, 13, 2, 2, 4, 5, 5, 4, 3, 10, 8, 10, 14, 14, 2, 12, 6, 13, 10, 0, 14, 14, 15, 0, 2, 10, 8, 1, 14], [3, 0, 13, 9, 0, 2, 14, 12, 13, 15, 4, 8, 5, 0, 3, 1, 1, 6, 14, 13, 10, 3, 2, 10, 11, 6, 2, 4, 15, 11, 9, 4, 13, 5, 7, 12, 6, 7, 0, 12, 4, 8, 8, 2, 3, 7, 1, 13, 5, 9, 2, 15, 7, 0, 5, 5, 3, 12, 15, 10, 2, 8, 7, 10], [13, 14, 12, 10, 7, 8, 2, 8, 8, 10, 7, 5, 8, 10, 3, 9, 5, 12, 9, 7, 0, 0, 3, 8, 7, 13, 2, 10, 6, 10, 1, 6, 2, 5, 3, 11, 10, 1, 4, 13, 14, 14, 1, 15, 6, 2, 11, 1, 0, 14, 1, 6, 14, 4, 4, 6, 12, 10, 4, 2, 6, 7, 6, 10], [1, 11, 8, 0, 10, 12, 5, 6, 9, 6, 8, 8, 9, 4, 1, 14, 7, 3, 15, 8, 5, 2, 0, 9, 9, 14, 15, 14, 0, 2, 9, 9, 3, 14, 15, 3, 10, 6, 8, 11, 8, 11, 4, 7, 2, 10, 6, 10, 15, 5, 12, 10, 11, 9, 4, 11, 5, 8, 8, 5, 7, 6, 4, 14]]> : tensor<8x64xi4>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %z = arith.constant dense<8> : tensor<8x2xi4>
  %g = arith.constant dense<[1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]> : tensor<64xi32>
  %rows = arith.constant dense<[0, 1, 1, 1, 1, 1, 1, 1, 1]> : tensor<9xi32>
  %cols = arith.constant dense<[7]> : tensor<1xi32>
  %vals = arith.constant dense<[0.25]> : tensor<1xf32>
  %y = qwha.qlinear_wha "fc" %x, %codes, %s, %z g_idx %g group_size 32 adapter(%rows, %cols, %vals : tensor<9xi32>, tensor<1xi32>, tensor<1xf32>) : tensor<24x64xf32>, tensor<8x64xi4>, tensor<8x2xf32>, tensor<8x2xi4>, tensor<64xi32> -> tensor<24x8xf32>
  return %y : tensor<24x8xf32>
}

