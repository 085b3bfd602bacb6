// qwha-lower-to-cuda on a QWHA layer with a dynamic batch: on sm_90 its
// kernel holds the tensor-core path (batches of 17 rows or more) and the
// warp-per-rows one; below sm_80 only the latter.

// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-cuda{format=isa})" -o %t.mlir
// RUN: FileCheck %s --check-prefix=PTX < %t.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.mlir
// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-cuda{format=isa chip=sm_75})" | FileCheck %s --check-prefix=SM75

// The tensor-core branch: codes in 128-bit non-coherent loads, tiles stored
// 128 bits at a time, a barrier, TF32 multiplies; the adapter's chunk
// rewritten between warp barriers. The other branch reduces with shuffles.
// PTX: .entry qlinear_fc(
// PTX: .maxntid 128, 1, 1
// PTX-DAG: ld.global.nc.v4.b32
// PTX-DAG: st.shared.v4.b32
// PTX-DAG: bar.sync {{[^;]*}}0;
// PTX-DAG: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-DAG: bar.warp.sync {{[^;]*}}-1;
// PTX-DAG: shfl.sync.bfly.b32 {{[^;]*}}, 16, 31, -1;

// The host launches either path with one launch: the grid (here its batch
// tiles; one block of rows either way) and the dynamic shared memory are
// selected by the batch.
// HOST-LABEL: llvm.func @layer(
// HOST:         gpu.launch_func {{.*}} @qwha_kernels::@fwht_64_n
// HOST:         %[[LARGE:.*]] = llvm.icmp "uge" %{{.*}}, %{{.*}} : i64
// HOST:         %[[TILE:.*]] = llvm.select %[[LARGE]], %{{.*}}, %{{.*}} : i1, i64
// HOST:         llvm.udiv %{{.*}}, %[[TILE]] : i64
// HOST:         %[[GRIDY:.*]] = llvm.intr.umax
// HOST:         %[[BYTES:.*]] = llvm.select %[[LARGE]], %{{.*}}, %{{.*}} : i1, i64
// HOST:         %[[BYTES32:.*]] = llvm.trunc %[[BYTES]] : i64 to i32
// HOST:         gpu.launch_func {{.*}} @qwha_kernels::@qlinear_fc blocks in (%{{.*}}, %[[GRIDY]], %{{.*}}) {{.*}} dynamic_shared_memory_size %[[BYTES32]]

// SM75-NOT: mma.sync
// SM75: .entry qlinear_fc(
// SM75-NOT: mma.sync
// SM75: shfl.sync.bfly.b32

func.func @layer(%x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %codes = arith.constant dense<[[12, 1, 2, 3, 2, 12, 13, 9, 0, 1, 5, 6, 9, 7, 4, 2, 11, 11, 0, 1, 7, 6, 14, 8, 6, 6, 10, 9, 2, 11, 12, 15, 12, 4, 5, 10, 10, 11, 13, 4, 15, 0, 1, 15, 15, 4, 2, 5, 0, 14, 10, 9, 3, 7, 3, 12, 7, 0, 4, 11, 8, 5, 4, 1], [9, 10, 8, 14, 14, 3, 9, 10, 3, 4, 7, 11, 4, 11, 10, 3, 6, 13, 13, 10, 0, 10, 3, 13, 14, 6, 15, 12, 5, 14, 6, 1, 9, 13, 10, 6, 14, 7, 6, 2, 3, 11, 12, 4, 10, 13, 2, 4, 8, 8, 6, 6, 2, 9, 14, 3, 12, 2, 0, 11, 2, 12, 5, 9], [15, 14, 7, 3, 4, 13, 9, 2, 14, 15, 15, 9, 15, 9, 8, 15, 9, 12, 5, 12, 15, 0, 8, 5, 0, 1, 4, 3, 11, 3, 10, 13, 7, 2, 1, 4, 6, 7, 4, 13, 9, 15, 14, 11, 0, 3, 11, 8, 15, 11, 13, 0, 4, 10, 10, 5, 2, 9, 1, 10, 12, 10, 1, 8], [4, 8, 10, 3, 0, 7, 9, 2, 14, 7, 15, 8, 11, 12, 7, 6, 10, 0, 9, 8, 2, 3, 0, 11, 10, 6, 15, 6, 4, 14, 1, 6, 0, 5, 11, 5, 7, 7, 0, 1, 4, 8, 1, 14, 13, 9, 11, 11, 0, 15, 0, 13, 13, 11, 2, 13, 15, 13, 11, 4, 8, 7, 13, 5], [6, 4, 7, 9, 7, 5, 8, 9, 2, 9, 11, 1, 9, 7, 14, 6, 5, 11, 13, 1, 1, 2, 5, 8, 9, 6, 14, 10, 2, 5, 3, 3, 13, 14, 6, 3, 13, 2, 2, 4, 5, 5, 4, 3, 10, 8, 10, 14, 14, 2, 12, 6, 13, 10, 0, 14, 14, 15, 0, 2, 10, 8, 1, 14], [3, 0, 13, 9, 0, 2, 14, 12, 13, 15, 4, 8, 5, 0, 3, 1, 1, 6, 14, 13, 10, 3, 2, 10, 11, 6, 2, 4, 15, 11, 9, 4, 13, 5, 7, 12, 6, 7, 0, 12, 4, 8, 8, 2, 3, 7, 1, 13, 5, 9, 2, 15, 7, 0, 5, 5, 3, 12, 15, 10, 2, 8, 7, 10], [13, 14, 12, 10, 7, 8, 2, 8, 8, 10, 7, 5, 8, 10, 3, 9, 5, 12, 9, 7, 0, 0, 3, 8, 7, 13, 2, 10, 6, 10, 1, 6, 2, 5, 3, 11, 10, 1, 4, 13, 14, 14, 1, 15, 6, 2, 11, 1, 0, 14, 1, 6, 14, 4, 4, 6, 12, 10, 4, 2, 6, 7, 6, 10], [1, 11, 8, 0, 10, 12, 5, 6, 9, 6, 8, 8, 9, 4, 1, 14, 7, 3, 15, 8, 5, 2, 0, 9, 9, 14, 15, 14, 0, 2, 9, 9, 3, 14, 15, 3, 10, 6, 8, 11, 8, 11, 4, 7, 2, 10, 6, 10, 15, 5, 12, 10, 11, 9, 4, 11, 5, 8, 8, 5, 7, 6, 4, 14]]> : tensor<8x64xi4>
  %s = arith.constant dense<0.5> : tensor<8x2xf32>
  %z = arith.constant dense<8> : tensor<8x2xi4>
  %rows = arith.constant dense<[0, 2, 2, 2, 2, 2, 2, 2, 3]> : tensor<9xi32>
  %cols = arith.constant dense<[40, 3, 5]> : tensor<3xi32>
  %vals = arith.constant dense<[0.25, 0.5, -1.0]> : tensor<3xf32>
  %y = qwha.qlinear_wha "fc" %x, %codes, %s, %z group_size 32 adapter(%rows, %cols, %vals : tensor<9xi32>, tensor<3xi32>, tensor<3xf32>) : tensor<?x64xf32>, tensor<8x64xi4>, tensor<8x2xf32>, tensor<8x2xi4> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
