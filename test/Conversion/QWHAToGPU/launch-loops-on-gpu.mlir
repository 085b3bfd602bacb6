// RUN: qwha-opt %s -split-input-file -qwha-launch-loops-on-gpu -canonicalize -cse | FileCheck %s
// RUN: qwha-opt %s -split-input-file -qwha-launch-loops-on-gpu="block-size=64" -canonicalize | FileCheck %s --check-prefix=BLOCK64

// A 4x300 elementwise loop: collapsed to 1200 iterations (the last
// dimension fastest), tiled by 256 threads into 5 blocks; constants and
// index arithmetic are recomputed in the kernel, only the buffers passed.

// CHECK-LABEL: func.func @elementwise(
// CHECK-SAME:      %[[A:.*]]: memref<4x300xf32>, %[[B:.*]]: memref<4x300xf32>)
// CHECK-DAG:     %[[C5:.*]] = arith.constant 5 : index
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK:         gpu.launch_func @qwha_kernels::@elementwise_loop blocks in (%[[C5]], %{{.*}}, %{{.*}}) threads in (%[[C256]], %{{.*}}, %{{.*}}) args(%[[A]] : memref<4x300xf32>, %[[B]] : memref<4x300xf32>)
// CHECK-NEXT:    return
// CHECK:       gpu.module @qwha_kernels
// CHECK:         gpu.func @elementwise_loop(%[[KA:.*]]: memref<4x300xf32>, %[[KB:.*]]: memref<4x300xf32>) kernel attributes {known_block_size = array<i32: 256, 1, 1>, known_grid_size = array<i32: 5, 1, 1>}
// CHECK-DAG:       %[[C300:.*]] = arith.constant 300 : index
// CHECK-DAG:       %[[C1200:.*]] = arith.constant 1200 : index
// CHECK-DAG:       %[[BLOCK:.*]] = gpu.block_id x
// CHECK-DAG:       %[[THREAD:.*]] = gpu.thread_id x
// CHECK:           %[[I:.*]] = arith.addi %[[THREAD]], %{{.*}} : index
// CHECK:           %[[IN:.*]] = arith.cmpi ult, %[[I]], %[[C1200]]
// CHECK:           scf.if %[[IN]] {
// CHECK-DAG:         %[[COL:.*]] = arith.remsi %[[I]], %[[C300]]
// CHECK-DAG:         %[[ROW:.*]] = arith.divsi %[[I]], %[[C300]]
// CHECK:             %[[X:.*]] = memref.load %[[KA]][%[[ROW]], %[[COL]]]
// CHECK:             %[[Y:.*]] = arith.addf %[[X]], %[[X]]
// CHECK:             memref.store %[[Y]], %[[KB]][%[[ROW]], %[[COL]]]
// CHECK:           gpu.return

// BLOCK64-LABEL: func.func @elementwise(
// BLOCK64:         gpu.launch_func @qwha_kernels::@elementwise_loop blocks in (%c19, %c1, %c1) threads in (%c64, %c1, %c1)
func.func @elementwise(%a: memref<4x300xf32>, %b: memref<4x300xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c300 = arith.constant 300 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c300) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<4x300xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%i, %j] : memref<4x300xf32>
    scf.reduce
  }
  return
}

// -----

// A constant table, read directly and through a view: both reads move into
// the kernel, and the global is copied into the existing kernel module,
// renamed where that module already has the name. A norm-like row loop:
// 8 rows take one warp, each reducing its row sequentially; the nested
// parallel loop runs sequentially too.

// CHECK:       gpu.module @qwha_kernels
// CHECK:         memref.global "private" constant @table : memref<2xf32> = dense<[5.000000e+00, 6.000000e+00]>
// CHECK:         gpu.func @existing() kernel
// CHECK:         gpu.func @rows_loop(%[[KIN:.*]]: memref<8x16xf32>, %[[KOUT:.*]]: memref<8xf32>) kernel attributes {known_block_size = array<i32: 32, 1, 1>, known_grid_size = array<i32: 1, 1, 1>}
// CHECK:           %[[ROW:.*]] = gpu.thread_id x
// CHECK:           %[[T:.*]] = memref.get_global @[[COPY:table_[0-9]+]] : memref<8xf32>
// CHECK:           %[[V:.*]] = memref.expand_shape %[[T]] {{\[}}[0, 1]] output_shape [2, 4]
// CHECK:           scf.if
// CHECK:             memref.load %[[T]][%[[ROW]]]
// CHECK:             scf.for
// CHECK:               memref.load %[[KIN]][%[[ROW]],
// CHECK:               memref.load %[[V]][
// CHECK:             scf.for
// CHECK:               memref.store %{{.*}}, %[[KOUT]][%[[ROW]]]
// CHECK:         memref.global "private" constant @[[COPY]] : memref<8xf32> = dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00]>
// CHECK-LABEL: func.func @rows(
// CHECK-SAME:      %[[IN:.*]]: memref<8x16xf32>, %[[OUT:.*]]: memref<8xf32>)
// CHECK-NOT:     memref.get_global
// CHECK:         gpu.launch_func @qwha_kernels::@rows_loop blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%[[IN]] : memref<8x16xf32>, %[[OUT]] : memref<8xf32>)
// CHECK-NEXT:    return
module attributes {gpu.container_module} {
  gpu.module @qwha_kernels {
    memref.global "private" constant @table : memref<2xf32> = dense<[5.0, 6.0]>
    gpu.func @existing() kernel {
      gpu.return
    }
  }
  memref.global "private" constant @table : memref<8xf32> = dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]>
  func.func @rows(%in: memref<8x16xf32>, %out: memref<8xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %t = memref.get_global @table : memref<8xf32>
    %v = memref.expand_shape %t [[0, 1]] output_shape [2, 4] : memref<8xf32> into memref<2x4xf32>
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %bias = memref.load %t[%i] : memref<8xf32>
      %sum = scf.for %k = %c0 to %c16 step %c1 iter_args(%acc = %bias) -> f32 {
        %x = memref.load %in[%i, %k] : memref<8x16xf32>
        %r = arith.remui %k, %c4 : index
        %w = memref.load %v[%c1, %r] : memref<2x4xf32>
        %p = arith.mulf %x, %w : f32
        %s = arith.addf %acc, %p : f32
        scf.yield %s : f32
      }
      scf.parallel (%j) = (%c0) to (%c2) step (%c1) {
        memref.store %sum, %out[%i] : memref<8xf32>
        scf.reduce
      }
      scf.reduce
    }
    return
  }
}

// -----

// A reduction to a scalar (no parallel dimension) runs in one thread, its
// accumulator carried in a register (loaded once, stored once) rather than
// through memory on every iteration; a copy between strided views becomes
// a kernel, a dense one stays a copy for qwha-place-buffers-on-gpu to turn
// into a device memcpy. A module without qwha layers gets a kernel module
// of its own.

// CHECK:       module attributes {gpu.container_module}
// CHECK-LABEL: func.func @reduce_and_copy(
// CHECK-SAME:      %[[IN:.*]]: memref<16xf32>, %[[SUM:.*]]: memref<f32>, %[[DST:.*]]: memref<4x4xf32>, %[[DENSE:.*]]: memref<16xf32>)
// CHECK:         gpu.launch_func @qwha_kernels::@reduce_and_copy_loop blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%[[SUM]] : memref<f32>, %[[IN]] : memref<16xf32>)
// CHECK:         %[[TO:.*]] = memref.subview %[[DST]][0, 1] [4, 2] [1, 1]
// CHECK:         %[[FROM:.*]] = memref.subview
// CHECK:         gpu.launch_func @qwha_kernels::@reduce_and_copy_loop_0 blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1) args(%[[FROM]] : memref<4x2xf32, strided<[4, 1]>>, %[[TO]] : memref<4x2xf32, strided<[4, 1], offset: 1>>)
// CHECK:         memref.copy %[[IN]], %[[DENSE]] : memref<16xf32> to memref<16xf32>
// CHECK:       gpu.module @qwha_kernels
// CHECK:         gpu.func @reduce_and_copy_loop(%[[KSUM:.*]]: memref<f32>, %[[KIN:.*]]: memref<16xf32>) kernel
// CHECK:           %[[FIRST:.*]] = arith.cmpi ult, %{{.*}}, %c1
// CHECK:           scf.if %[[FIRST]] {
// CHECK:             %[[INIT:.*]] = memref.load %[[KSUM]][]
// CHECK:             %[[TOTAL:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK:               %[[X:.*]] = memref.load %[[KIN]]
// CHECK:               %[[S:.*]] = arith.addf %[[X]], %[[ACC]]
// CHECK-NEXT:          scf.yield %[[S]]
// CHECK:             memref.store %[[TOTAL]], %[[KSUM]][]
// CHECK:         gpu.func @reduce_and_copy_loop_0(%[[KFROM:.*]]: memref<4x2xf32, strided<[4, 1]>>, %[[KTO:.*]]: memref<4x2xf32, strided<[4, 1], offset: 1>>) kernel
// CHECK:           %[[E:.*]] = memref.load %[[KFROM]]
// CHECK:           memref.store %[[E]], %[[KTO]]
func.func @reduce_and_copy(%in: memref<16xf32>, %out: memref<f32>, %dst: memref<4x4xf32>, %dense: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c16 step %c1 {
    %x = memref.load %in[%i] : memref<16xf32>
    %acc = memref.load %out[] : memref<f32>
    %s = arith.addf %x, %acc : f32
    memref.store %s, %out[] : memref<f32>
  }
  %to = memref.subview %dst[0, 1] [4, 2] [1, 1] : memref<4x4xf32> to memref<4x2xf32, strided<[4, 1], offset: 1>>
  %src = memref.expand_shape %in [[0, 1]] output_shape [4, 4] : memref<16xf32> into memref<4x4xf32>
  %from = memref.subview %src[0, 0] [4, 2] [1, 1] : memref<4x4xf32> to memref<4x2xf32, strided<[4, 1]>>
  memref.copy %from, %to : memref<4x2xf32, strided<[4, 1]>> to memref<4x2xf32, strided<[4, 1], offset: 1>>
  memref.copy %in, %dense : memref<16xf32> to memref<16xf32>
  return
}

// -----

// A copy out of a constant's global cannot be a memcpy from the host's
// copy of it: it reads the kernel module's.

// CHECK-LABEL: func.func @copy_constant(
// CHECK-NOT:     memref.copy
// CHECK:         gpu.launch_func @qwha_kernels::@copy_constant_loop
// CHECK:       gpu.func @copy_constant_loop(
// CHECK:         memref.get_global @bias
// CHECK:       memref.global "private" constant @bias
memref.global "private" constant @bias : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @copy_constant(%out: memref<4xf32>) {
  %b = memref.get_global @bias : memref<4xf32>
  memref.copy %b, %out : memref<4xf32> to memref<4xf32>
  return
}

// -----

// The accumulator stays in memory when the loop also reads another element
// of its buffer: only accumulators no other access in the loop touches are
// carried in registers.

// CHECK-LABEL: gpu.func @shared_buffer_loop(
// CHECK:         scf.for
// CHECK-NOT:       iter_args
// CHECK:           memref.load %{{.*}}[%c0]
// CHECK:           memref.load %{{.*}}[%c1]
// CHECK:           memref.store %{{.*}}, %{{.*}}[%c0]
func.func @shared_buffer(%in: memref<16xf32>, %out: memref<2xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c16 step %c1 {
    %acc = memref.load %out[%c0] : memref<2xf32>
    %other = memref.load %out[%c1] : memref<2xf32>
    %x = memref.load %in[%i] : memref<16xf32>
    %s = arith.addf %acc, %x : f32
    %t = arith.addf %s, %other : f32
    memref.store %t, %out[%c0] : memref<2xf32>
  }
  return
}

// -----

// Rows of 128 reduced by one warp each (a norm's statistics at batch 1):
// lane l takes elements l, l + 32, ...; the partial sums meet through
// butterfly shuffles; lane 0 adds the initial value and stores. Four rows
// need 128 threads.

// CHECK-LABEL: gpu.func @row_sums_loop(
// CHECK-SAME:      %[[OUT:[^:]*]]: memref<4xf32>, %[[X:[^:]*]]: memref<4x128xf32>) kernel attributes {known_block_size = array<i32: 128, 1, 1>, known_grid_size = array<i32: 1, 1, 1>}
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[TID:.*]] = gpu.thread_id x
// CHECK:         %[[ROW:.*]] = arith.divui %[[TID]], %[[C32]]
// CHECK:         %[[LANE:.*]] = arith.remui %[[TID]], %[[C32]]
// CHECK:         %[[IN:.*]] = arith.cmpi ult, %[[ROW]], %[[C4]]
// CHECK:         scf.if %[[IN]] {
// CHECK:           %[[INIT:.*]] = memref.load %[[OUT]][%[[ROW]]]
// CHECK:           %[[FIRST:.*]] = memref.load %[[X]][%[[ROW]], %[[LANE]]]
// CHECK:           %[[NEXT:.*]] = arith.addi %[[LANE]], %[[C32]]
// CHECK:           %[[PART:.*]] = scf.for %[[K:.*]] = %[[NEXT]] to %[[C128]] step %[[C32]] iter_args(%[[ACC:.*]] = %[[FIRST]]) -> (f32) {
// CHECK:             %[[E:.*]] = memref.load %[[X]][%[[ROW]], %[[K]]]
// CHECK:             %[[S:.*]] = arith.addf %[[E]], %[[ACC]]
// CHECK:             scf.yield %[[S]]
// CHECK:           %[[P16:.*]], %{{.*}} = gpu.shuffle xor %[[PART]], %c16_i32, %c32_i32 : f32
// CHECK:           %[[S16:.*]] = arith.addf %[[P16]], %[[PART]]
// CHECK-COUNT-4:   gpu.shuffle xor
// CHECK:           %[[TOTAL:.*]] = arith.addf %{{.*}}, %[[INIT]]
// CHECK:           %[[LEAD:.*]] = arith.cmpi eq, %[[LANE]], %[[C0]]
// CHECK:           scf.if %[[LEAD]] {
// CHECK-NEXT:        memref.store %[[TOTAL]], %[[OUT]][%[[ROW]]]
func.func @row_sums(%x: memref<4x128xf32>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c128 = arith.constant 128 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c128 step %c1 {
      %a = memref.load %x[%i, %k] : memref<4x128xf32>
      %acc = memref.load %out[%i] : memref<4xf32>
      %s = arith.addf %a, %acc : f32
      memref.store %s, %out[%i] : memref<4xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A maximum (softmax) is reordered the same way; a combination that is not
// associative (x - acc), a row shorter than a warp, keep one thread per row.

// CHECK-LABEL: gpu.func @row_max_loop(
// CHECK:         scf.for
// CHECK:           arith.maximumf
// CHECK:         gpu.shuffle xor
// CHECK:         arith.maximumf
// CHECK-LABEL: gpu.func @row_max_loop_0(
// CHECK-NOT:     gpu.shuffle
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           arith.subf
// CHECK-NOT:     gpu.shuffle
// CHECK-LABEL: gpu.func @row_max_loop_1(
// CHECK-NOT:     gpu.shuffle
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           arith.addf
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.return
func.func @row_max(%x: memref<4x64xf32>, %out: memref<4xf32>, %short: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %x[%i, %k] : memref<4x64xf32>
      %acc = memref.load %out[%i] : memref<4xf32>
      %m = arith.maximumf %a, %acc : f32
      memref.store %m, %out[%i] : memref<4xf32>
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %x[%i, %k] : memref<4x64xf32>
      %acc = memref.load %out[%i] : memref<4xf32>
      %d = arith.subf %a, %acc : f32
      memref.store %d, %out[%i] : memref<4xf32>
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c16 step %c1 {
      %a = memref.load %short[%i, %k] : memref<4x16xf32>
      %acc = memref.load %out[%i] : memref<4xf32>
      %s = arith.addf %a, %acc : f32
      memref.store %s, %out[%i] : memref<4xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A one-dimensional loop that does not count from 0 by 1 keeps a thread
// per iteration (tiled by upstream's rules), its rows of 64 included.

// CHECK-LABEL: gpu.func @strided_rows_loop(
// CHECK-NOT:     gpu.shuffle
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           arith.addf
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.return
func.func @strided_rows(%x: memref<8x64xf32>, %out: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i) = (%c1) to (%c8) step (%c2) {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %x[%i, %k] : memref<8x64xf32>
      %acc = memref.load %out[%i] : memref<8xf32>
      %s = arith.addf %a, %acc : f32
      memref.store %s, %out[%i] : memref<8xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A slice of a constant table at a dynamic offset (a rotary table at the
// current position): the slice is taken inside the kernel from the kernel
// module's copy of the table, and only the offset is passed. A dynamic
// loop may be empty: its grid is at least one block. A host loop that
// touches no buffer stays on the host.

// CHECK-LABEL: func.func @dynamic_slice(
// CHECK-SAME:      %[[OUT:.*]]: memref<?xf32>, %[[POS:.*]]: index, %[[N:.*]]: index)
// CHECK-NOT:     memref.get_global
// CHECK:         %[[GRID:.*]] = arith.maxui %{{.*}}, %c1
// CHECK:         gpu.launch_func @qwha_kernels::@dynamic_slice_loop blocks in (%[[GRID]], %c1, %c1) threads in (%c256, %c1, %c1) args(%[[POS]] : index, %[[N]] : index, %[[OUT]] : memref<?xf32>)
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           arith.addi
// CHECK:       gpu.func @dynamic_slice_loop(%[[KPOS:.*]]: index, %[[KN:.*]]: index, %[[KOUT:.*]]: memref<?xf32>) kernel
// CHECK:         %[[T:.*]] = memref.get_global @rotary : memref<64xf32>
// CHECK:         %[[S:.*]] = memref.subview %[[T]][%[[KPOS]]] [8] [1]
// CHECK:         memref.load %[[S]]
memref.global "private" constant @rotary : memref<64xf32> = dense<1.0>
func.func @dynamic_slice(%out: memref<?xf32>, %pos: index, %n: index) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.get_global @rotary : memref<64xf32>
  %s = memref.subview %t[%pos] [8] [1] : memref<64xf32> to memref<8xf32, strided<[1], offset: ?>>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %j = arith.remui %i, %c8 : index
    %v = memref.load %s[%j] : memref<8xf32, strided<[1], offset: ?>>
    memref.store %v, %out[%i] : memref<?xf32>
    scf.reduce
  }
  %sum = scf.for %k = %c0 to %n step %c1 iter_args(%acc = %c0) -> index {
    %next = arith.addi %acc, %k : index
    scf.yield %next : index
  }
  return %sum : index
}

// -----

// Left in memory, one thread per row: an accumulator also read through a
// cast of its buffer, a loop whose trip count is not known to be positive
// (hoisting would make an empty loop read and write), a reversed range,
// and an integer sum with nsw (reordering could overflow into poison).

// CHECK-LABEL: gpu.func @kept_loop(
// CHECK-NOT:     iter_args
// CHECK:         memref.load %{{.*}}[%c0]
// CHECK:         memref.store
// CHECK-LABEL: gpu.func @kept_loop_0(
// CHECK-NOT:     iter_args
// CHECK:         memref.store
// CHECK-LABEL: gpu.func @kept_loop_1(
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.return
// CHECK-LABEL: gpu.func @kept_loop_2(
// CHECK-NOT:     gpu.shuffle
// CHECK:         arith.addi {{.*}} overflow<nsw>
// CHECK-NOT:     gpu.shuffle
// CHECK:         gpu.return
func.func @kept(%acc: memref<4xf32>, %x: memref<4x64xf32>, %n: index, %ints: memref<4x64xi32>, %isum: memref<4xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %alias = memref.cast %acc : memref<4xf32> to memref<?xf32>
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c8 step %c1 {
      %a = memref.load %acc[%c0] : memref<4xf32>
      %b = memref.load %alias[%c0] : memref<?xf32>
      %s = arith.addf %a, %b : f32
      memref.store %s, %acc[%c0] : memref<4xf32>
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %n step %c1 {
      %a = memref.load %x[%i, %k] : memref<4x64xf32>
      %s0 = memref.load %acc[%i] : memref<4xf32>
      %s = arith.addf %a, %s0 : f32
      memref.store %s, %acc[%i] : memref<4xf32>
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %init = memref.load %acc[%i] : memref<4xf32>
    %r = scf.for %k = %c64 to %c0 step %c1 iter_args(%s0 = %init) -> f32 {
      %a = memref.load %x[%i, %k] : memref<4x64xf32>
      %s = arith.addf %a, %s0 : f32
      scf.yield %s : f32
    }
    memref.store %r, %acc[%i] : memref<4xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %ints[%i, %k] : memref<4x64xi32>
      %s0 = memref.load %isum[%i] : memref<4xi32>
      %s = arith.addi %a, %s0 overflow<nsw> : i32
      memref.store %s, %isum[%i] : memref<4xi32>
    }
    scf.reduce
  }
  return
}

// -----

// A constant returned as it is, through a view, and passed to a call would
// reach the caller as a host pointer: it gets a device buffer of its own
// (which the caller frees), filled by a copy kernel that reads the global;
// every use takes the buffer. A constant only kernels read stays a global.

// CHECK-LABEL: func.func @escaping_constant() -> (memref<4xf32>, memref<2x2xf32>)
// CHECK:         %[[BUF:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK:         gpu.launch_func @qwha_kernels::@escaping_constant_loop {{.*}} args(%[[BUF]] : memref<4xf32>)
// CHECK:         %[[VIEW:.*]] = memref.expand_shape %[[BUF]] {{\[}}[0, 1]] output_shape [2, 2]
// CHECK:         call @consume(%[[BUF]]) : (memref<4xf32>) -> ()
// CHECK:         gpu.launch_func @qwha_kernels::@escaping_constant_loop_0 {{.*}} args(%[[BUF]] : memref<4xf32>)
// CHECK:         return %[[BUF]], %[[VIEW]] : memref<4xf32>, memref<2x2xf32>
// CHECK-NOT:     memref.get_global
// CHECK:       gpu.module @qwha_kernels
// CHECK:         gpu.func @escaping_constant_loop(%[[KBUF:.*]]: memref<4xf32>) kernel
// CHECK:           %[[KG:.*]] = memref.get_global @weights : memref<4xf32>
// CHECK:           %[[KV:.*]] = memref.load %[[KG]][%{{.*}}] : memref<4xf32>
// CHECK:           memref.store %[[KV]], %[[KBUF]][%{{.*}}] : memref<4xf32>
// CHECK:         memref.global "private" constant @weights : memref<4xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]>
// CHECK:         gpu.func @escaping_constant_loop_0(%[[KBUF0:.*]]: memref<4xf32>) kernel
// CHECK:           %[[KB:.*]] = memref.get_global @bias_table : memref<4xf32>
// CHECK:           memref.load %[[KBUF0]]
// CHECK:           memref.load %[[KB]]
memref.global "private" constant @weights : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
memref.global "private" constant @bias_table : memref<4xf32> = dense<0.5>
func.func private @consume(memref<4xf32>)
func.func @escaping_constant() -> (memref<4xf32>, memref<2x2xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %w = memref.get_global @weights : memref<4xf32>
  %v = memref.expand_shape %w [[0, 1]] output_shape [2, 2] : memref<4xf32> into memref<2x2xf32>
  call @consume(%w) : (memref<4xf32>) -> ()
  %b = memref.get_global @bias_table : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %x = memref.load %w[%i] : memref<4xf32>
    %y = memref.load %b[%i] : memref<4xf32>
    %z = arith.addf %x, %y : f32
    memref.store %z, %w[%i] : memref<4xf32>
    scf.reduce
  }
  return %w, %v : memref<4xf32>, memref<2x2xf32>
}
