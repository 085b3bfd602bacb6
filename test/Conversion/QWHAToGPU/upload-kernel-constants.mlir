// RUN: qwha-opt %s -split-input-file -qwha-upload-kernel-constants | FileCheck %s
// RUN: qwha-opt %s -split-input-file -qwha-upload-kernel-constants="max-embedded-bytes=0" | FileCheck %s --check-prefix=ALL

// A 64x32xf32 table (8192 bytes) moves to the host; a 16-byte one stays in
// the kernel image. The kernel takes the table as a new last argument, a
// bare pointer (noalias, read-only, 16-byte aligned) it views as the table
// through a static descriptor, cast back to the global memory space it was
// read in; the host function gets the device copy once, at its entry, from
// the runtime, and passes it to both launches. A constructor of the library
// uploads it at load, after gpu.binary's module load (priority 123); a
// destructor frees it.

// CHECK-LABEL: memref.global "private" constant @qwha_kernels_table : memref<64x32xf32> = dense<1.500000e+00> {alignment = 16 : i64}
// CHECK-NEXT:    llvm.mlir.global internal @qwha_kernels_table_device() {{.*}} : !llvm.ptr {
// CHECK-NEXT:      %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-NEXT:      llvm.return %[[NULL]] : !llvm.ptr
// CHECK-NOT:     memref.global {{.*}}@qwha_kernels_small

// CHECK-LABEL: func.func @forward(
// CHECK-SAME:      %[[X:.*]]: memref<?x32xf32>, %[[Y:.*]]: memref<?x64xf32>, %[[N:.*]]: index)
// CHECK:           %[[SLOT:.*]] = llvm.mlir.addressof @qwha_kernels_table_device : !llvm.ptr
// CHECK:           %[[HOST:.*]] = memref.get_global @qwha_kernels_table : memref<64x32xf32>
// CHECK:           %[[HOST_INDEX:.*]] = memref.extract_aligned_pointer_as_index %[[HOST]]
// CHECK:           %[[HOST_I64:.*]] = arith.index_cast %[[HOST_INDEX]] : index to i64
// CHECK:           %[[HOST_PTR:.*]] = llvm.inttoptr %[[HOST_I64]] : i64 to !llvm.ptr
// CHECK:           %[[BYTES:.*]] = llvm.mlir.constant(8192 : i64) : i64
// CHECK:           %[[DEVICE:.*]] = llvm.call @qwhaCudaDeviceConstant(%[[SLOT]], %[[HOST_PTR]], %[[BYTES]]) : (!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr
// CHECK-NOT:       qwhaCudaDeviceConstant
// CHECK:           gpu.launch_func @qwha_kernels::@rows blocks in ({{.*}}) threads in ({{.*}}) args(%[[X]] : memref<?x32xf32>, %[[Y]] : memref<?x64xf32>, %[[DEVICE]] : !llvm.ptr)
// CHECK:           gpu.launch_func @qwha_kernels::@rows blocks in ({{.*}}) threads in ({{.*}}) args(%[[X]] : memref<?x32xf32>, %[[Y]] : memref<?x64xf32>, %[[DEVICE]] : !llvm.ptr)
// CHECK:           return

// CHECK-LABEL: gpu.module @qwha_kernels
// CHECK:           memref.global "private" constant @small : memref<4xf32, #gpu.address_space<global>>
// CHECK-NOT:       memref.global {{.*}}@table
// CHECK:           gpu.func @rows(%[[KX:.*]]: memref<?x32xf32>, %[[KY:.*]]: memref<?x64xf32>, %[[KT:.*]]: !llvm.ptr {llvm.align = 16 : i64, llvm.noalias, llvm.readonly}) kernel
// CHECK:             %[[K0:.*]] = llvm.insertvalue %[[KT]], %{{.*}}[0]
// CHECK:             %[[K1:.*]] = llvm.insertvalue %[[KT]], %[[K0]][1]
// CHECK:             %[[KOFFSET:.*]] = llvm.mlir.constant(0 : index) : i64
// CHECK:             %[[K2:.*]] = llvm.insertvalue %[[KOFFSET]], %[[K1]][2]
// CHECK:             %[[KROWS:.*]] = llvm.mlir.constant(64 : index) : i64
// CHECK:             %[[K3:.*]] = llvm.insertvalue %[[KROWS]], %[[K2]][3, 0]
// CHECK:             %[[KROWSTRIDE:.*]] = llvm.mlir.constant(32 : index) : i64
// CHECK:             %[[K4:.*]] = llvm.insertvalue %[[KROWSTRIDE]], %[[K3]][4, 0]
// CHECK:             %[[KCOLS:.*]] = llvm.mlir.constant(32 : index) : i64
// CHECK:             %[[K5:.*]] = llvm.insertvalue %[[KCOLS]], %[[K4]][3, 1]
// CHECK:             %[[KCOLSTRIDE:.*]] = llvm.mlir.constant(1 : index) : i64
// CHECK:             %[[KDESC:.*]] = llvm.insertvalue %[[KCOLSTRIDE]], %[[K5]][4, 1]
// CHECK-NEXT:        %[[KVIEW:.*]] = builtin.unrealized_conversion_cast %[[KDESC]] : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<64x32xf32>
// CHECK-NEXT:        %[[CAST:.*]] = memref.memory_space_cast %[[KVIEW]] : memref<64x32xf32> to memref<64x32xf32, #gpu.address_space<global>>
// CHECK:             %[[SMALL:.*]] = memref.get_global @small
// CHECK:             scf.if
// CHECK:               memref.load %[[CAST]]
// CHECK:               memref.load %[[SMALL]]

// CHECK:         llvm.func @qwhaCudaDeviceConstant(!llvm.ptr, !llvm.ptr, i64) -> !llvm.ptr
// CHECK:         llvm.func @qwhaCudaReleaseDeviceConstant(!llvm.ptr)
// CHECK-LABEL:   llvm.func internal @__qwha_upload_device_constants() {
// CHECK-NEXT:      %[[LOAD_SLOT:.*]] = llvm.mlir.addressof @qwha_kernels_table_device : !llvm.ptr
// CHECK-NEXT:      %[[LOAD_HOST:.*]] = memref.get_global @qwha_kernels_table : memref<64x32xf32>
// CHECK-NEXT:      %[[LOAD_INDEX:.*]] = memref.extract_aligned_pointer_as_index %[[LOAD_HOST]]
// CHECK-NEXT:      %[[LOAD_I64:.*]] = arith.index_cast %[[LOAD_INDEX]] : index to i64
// CHECK-NEXT:      %[[LOAD_PTR:.*]] = llvm.inttoptr %[[LOAD_I64]] : i64 to !llvm.ptr
// CHECK-NEXT:      %[[LOAD_BYTES:.*]] = llvm.mlir.constant(8192 : i64) : i64
// CHECK-NEXT:      llvm.call @qwhaCudaDeviceConstant(%[[LOAD_SLOT]], %[[LOAD_PTR]], %[[LOAD_BYTES]])
// CHECK-NEXT:      llvm.return
// CHECK:         llvm.mlir.global_ctors ctors = [@__qwha_upload_device_constants], priorities = [124 : i32]
// CHECK-LABEL:   llvm.func internal @__qwha_release_device_constants() {
// CHECK-NEXT:      %[[RELEASE_SLOT:.*]] = llvm.mlir.addressof @qwha_kernels_table_device : !llvm.ptr
// CHECK-NEXT:      llvm.call @qwhaCudaReleaseDeviceConstant(%[[RELEASE_SLOT]]) : (!llvm.ptr) -> ()
// CHECK-NEXT:      llvm.return
// CHECK:         llvm.mlir.global_dtors dtors = [@__qwha_release_device_constants], priorities = [124 : i32]

// With max-embedded-bytes=0, the small table moves too, as a second
// argument; the slots are released in the order the globals were moved.
// ALL-LABEL: func.func @forward(
// ALL-COUNT-2: llvm.call @qwhaCudaDeviceConstant
// ALL:         gpu.launch_func @qwha_kernels::@rows {{.*}} args(%{{.*}} : memref<?x32xf32>, %{{.*}} : memref<?x64xf32>, %{{.*}} : !llvm.ptr, %{{.*}} : !llvm.ptr)
// ALL-LABEL: gpu.module @qwha_kernels
// ALL-NOT:     memref.global
// ALL:         gpu.func @rows({{.*}}, %{{.*}}: !llvm.ptr {llvm.align = 16 : i64, llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr {llvm.align = 16 : i64, llvm.noalias, llvm.readonly}) kernel
// ALL-DAG:       builtin.unrealized_conversion_cast {{.*}} to memref<64x32xf32>
// ALL-DAG:       builtin.unrealized_conversion_cast {{.*}} to memref<4xf32>
// ALL-LABEL: llvm.func internal @__qwha_upload_device_constants() {
// ALL-COUNT-2: llvm.call @qwhaCudaDeviceConstant
// ALL-LABEL: llvm.func internal @__qwha_release_device_constants() {
// ALL-COUNT-2: llvm.call @qwhaCudaReleaseDeviceConstant
module attributes {gpu.container_module} {
  func.func @forward(%x: memref<?x32xf32>, %y: memref<?x64xf32>, %n: index) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @qwha_kernels::@rows blocks in (%n, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<?x32xf32>, %y : memref<?x64xf32>)
    gpu.launch_func @qwha_kernels::@rows blocks in (%n, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<?x32xf32>, %y : memref<?x64xf32>)
    return
  }
  gpu.module @qwha_kernels {
    memref.global "private" constant @table : memref<64x32xf32, #gpu.address_space<global>> = dense<1.5> {alignment = 16 : i64}
    memref.global "private" constant @small : memref<4xf32, #gpu.address_space<global>> = dense<2.0> {alignment = 16 : i64}
    gpu.func @rows(%x: memref<?x32xf32>, %y: memref<?x64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c3 = arith.constant 3 : index
      %row = gpu.block_id x
      %col = gpu.thread_id x
      %table = memref.get_global @table : memref<64x32xf32, #gpu.address_space<global>>
      %small = memref.get_global @small : memref<4xf32, #gpu.address_space<global>>
      %n = memref.dim %x, %c0 : memref<?x32xf32>
      %in = arith.cmpi ult, %row, %n : index
      scf.if %in {
        %w = memref.load %table[%col, %c3] : memref<64x32xf32, #gpu.address_space<global>>
        %s = memref.load %small[%c3] : memref<4xf32, #gpu.address_space<global>>
        %v = arith.mulf %w, %s : f32
        memref.store %v, %y[%row, %col] : memref<?x64xf32>
      }
      gpu.return
    }
  }
}

// -----

// A table read only in a nested region (here in a loop) still becomes an
// argument, visible there. Two host functions launching the kernel get the
// device copy each, through the same slot. A table without memory space
// needs no cast. An i1 table takes a byte per element, as on the host.

// CHECK-LABEL: func.func @first(
// CHECK:           %[[SLOT1:.*]] = llvm.mlir.addressof @qwha_kernels_flags_device
// CHECK:           llvm.mlir.constant(5000 : i64)
// CHECK:           %[[FLAGS1:.*]] = llvm.call @qwhaCudaDeviceConstant(%[[SLOT1]],
// CHECK:           gpu.launch_func @qwha_kernels::@scan {{.*}} args(%{{.*}} : memref<5000xf32>, %[[FLAGS1]] : !llvm.ptr)
// CHECK-LABEL: func.func @second(
// CHECK:           %[[SLOT2:.*]] = llvm.mlir.addressof @qwha_kernels_flags_device
// CHECK:           %[[FLAGS2:.*]] = llvm.call @qwhaCudaDeviceConstant(%[[SLOT2]],
// CHECK:           gpu.launch_func @qwha_kernels::@scan {{.*}} args(%{{.*}} : memref<5000xf32>, %[[FLAGS2]] : !llvm.ptr)
// CHECK-LABEL: gpu.module @qwha_kernels
// CHECK:           gpu.func @scan(%{{.*}}: memref<5000xf32>, %{{.*}}: !llvm.ptr {llvm.align = 16 : i64, llvm.noalias, llvm.readonly}) kernel
// CHECK:             %[[KFLAGS:.*]] = builtin.unrealized_conversion_cast {{.*}} to memref<5000xi1>
// CHECK-NOT:         memory_space_cast
// CHECK:             scf.for
// CHECK:               memref.load %[[KFLAGS]]
module attributes {gpu.container_module} {
  func.func @first(%out: memref<5000xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @qwha_kernels::@scan blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<5000xf32>)
    return
  }
  func.func @second(%out: memref<5000xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @qwha_kernels::@scan blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<5000xf32>)
    return
  }
  gpu.module @qwha_kernels {
    memref.global "private" constant @flags : memref<5000xi1> = dense<true>
    gpu.func @scan(%out: memref<5000xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c5000 = arith.constant 5000 : index
      %one = arith.constant 1.0 : f32
      %zero = arith.constant 0.0 : f32
      scf.for %i = %c0 to %c5000 step %c1 {
        %flags = memref.get_global @flags : memref<5000xi1>
        %f = memref.load %flags[%i] : memref<5000xi1>
        %v = arith.select %f, %one, %zero : f32
        memref.store %v, %out[%i] : memref<5000xf32>
      }
      gpu.return
    }
  }
}

// -----

// Left in the kernel image, even with max-embedded-bytes=0: a mutable
// global, a global a device function (not a kernel) reads, a table of
// index elements (whose width the device decides), an uninitialized
// constant, a public constant (the driver may look it up by name), one in
// workgroup memory (no generic pointer casts into it), an i24 table (padded
// differently on host and device), a table only a kernel launched from an
// llvm.func reads (no func.func entry to get it at) and one only a kernel
// never launched here reads (no launch to give it). With nothing moved,
// the runtime is not declared.

// CHECK-LABEL: func.func @kept(
// CHECK-NOT:       qwhaCudaDeviceConstant
// CHECK:           gpu.launch_func @qwha_kernels::@kernel blocks in ({{.*}}) threads in ({{.*}}) args(%{{.*}} : memref<2048xf32>)
// CHECK-LABEL: gpu.module @qwha_kernels
// CHECK-DAG:       memref.global "private" @counters : memref<2048xf32>
// CHECK-DAG:       memref.global "private" constant @helper_table : memref<2048xf32>
// CHECK-DAG:       memref.global "private" constant @indices : memref<2048xindex>
// CHECK-DAG:       memref.global "private" constant @empty : memref<2048xf32>
// CHECK-DAG:       memref.global constant @public_table : memref<2048xf32>
// CHECK-DAG:       memref.global "private" constant @shared_table : memref<2048xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:       memref.global "private" constant @wide : memref<2048xi24>
// CHECK-DAG:       memref.global "private" constant @llvm_launched_table : memref<2048xf32>
// CHECK-DAG:       memref.global "private" constant @unlaunched_table : memref<2048xf32>
// CHECK:           gpu.func @kernel(%{{.*}}: memref<2048xf32>) kernel {
// CHECK:           gpu.func @from_llvm(%{{.*}}: i64) kernel {
// CHECK:           gpu.func @unlaunched(%{{.*}}: memref<2048xf32>) kernel {
// CHECK-NOT:     llvm.func @qwha
// CHECK-NOT:     llvm.mlir.global_ctors
// CHECK-NOT:     llvm.mlir.global_dtors
// ALL-LABEL: func.func @kept(
// ALL-NOT:       qwhaCudaDeviceConstant
// ALL-NOT:       llvm.mlir.global_ctors
// ALL-NOT:       llvm.mlir.global_dtors
module attributes {gpu.container_module} {
  func.func @kept(%out: memref<2048xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @qwha_kernels::@kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<2048xf32>)
    return
  }
  llvm.func @llvm_host(%n: i64) {
    %c1 = llvm.mlir.constant(1 : index) : i64
    gpu.launch_func @qwha_kernels::@from_llvm blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%n : i64)
    llvm.return
  }
  gpu.module @qwha_kernels {
    memref.global "private" @counters : memref<2048xf32> = dense<0.0>
    memref.global "private" constant @helper_table : memref<2048xf32> = dense<3.0>
    memref.global "private" constant @indices : memref<2048xindex> = dense<7>
    memref.global "private" constant @empty : memref<2048xf32>
    memref.global constant @public_table : memref<2048xf32> = dense<4.0>
    memref.global "private" constant @shared_table : memref<2048xf32, #gpu.address_space<workgroup>> = dense<5.0>
    memref.global "private" constant @wide : memref<2048xi24> = dense<6>
    memref.global "private" constant @llvm_launched_table : memref<2048xf32> = dense<7.0>
    memref.global "private" constant @unlaunched_table : memref<2048xf32> = dense<8.0>
    func.func @helper(%i: index) -> f32 {
      %t = memref.get_global @helper_table : memref<2048xf32>
      %v = memref.load %t[%i] : memref<2048xf32>
      return %v : f32
    }
    gpu.func @kernel(%out: memref<2048xf32>) kernel {
      %c0 = arith.constant 0 : index
      %counters = memref.get_global @counters : memref<2048xf32>
      %indices = memref.get_global @indices : memref<2048xindex>
      %empty = memref.get_global @empty : memref<2048xf32>
      %public = memref.get_global @public_table : memref<2048xf32>
      %shared = memref.get_global @shared_table : memref<2048xf32, #gpu.address_space<workgroup>>
      %wide = memref.get_global @wide : memref<2048xi24>
      %c = memref.load %counters[%c0] : memref<2048xf32>
      %i = memref.load %indices[%c0] : memref<2048xindex>
      %e = memref.load %empty[%i] : memref<2048xf32>
      %p = memref.load %public[%i] : memref<2048xf32>
      %q = memref.load %shared[%i] : memref<2048xf32, #gpu.address_space<workgroup>>
      %w = memref.load %wide[%i] : memref<2048xi24>
      %wf = arith.sitofp %w : i24 to f32
      %h = func.call @helper(%i) : (index) -> f32
      %s = arith.addf %c, %h : f32
      %t = arith.addf %s, %e : f32
      %u = arith.addf %t, %p : f32
      %v = arith.addf %u, %q : f32
      %x = arith.addf %v, %wf : f32
      memref.store %x, %out[%c0] : memref<2048xf32>
      gpu.return
    }
    gpu.func @from_llvm(%n: i64) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @llvm_launched_table : memref<2048xf32>
      %v = memref.load %t[%c0] : memref<2048xf32>
      memref.store %v, %t[%c0] : memref<2048xf32>
      gpu.return
    }
    gpu.func @unlaunched(%out: memref<2048xf32>) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @unlaunched_table : memref<2048xf32>
      %v = memref.load %t[%c0] : memref<2048xf32>
      memref.store %v, %out[%c0] : memref<2048xf32>
      gpu.return
    }
  }
}

// -----

// The module's own global constructors and destructors are kept, after the
// pass's; symbols already named like the upload and release functions make
// the pass rename its own.

// CHECK-LABEL: llvm.func @other_setup()
// CHECK-LABEL: llvm.func @other_cleanup()
// CHECK:       llvm.func internal @[[UPLOAD:__qwha_upload_device_constants_[0-9]+]]() {
// CHECK:         llvm.call @qwhaCudaDeviceConstant
// CHECK:       llvm.mlir.global_ctors ctors = [@[[UPLOAD]], @other_setup], priorities = [124 : i32, 7 : i32], data = [#llvm.zero, #llvm.zero]
// CHECK:       llvm.func internal @[[RELEASE:__qwha_release_device_constants_[0-9]+]]() {
// CHECK:         llvm.call @qwhaCudaReleaseDeviceConstant
// CHECK:       llvm.mlir.global_dtors dtors = [@[[RELEASE]], @other_cleanup], priorities = [124 : i32, 0 : i32], data = [#llvm.zero, #llvm.zero]
// CHECK-NOT:   llvm.mlir.global_ctors
// CHECK-NOT:   llvm.mlir.global_dtors
// ALL-LABEL: llvm.func @other_cleanup()
// ALL:       llvm.mlir.global_ctors ctors = [@__qwha_upload_device_constants_{{[0-9]+}}, @other_setup]
// ALL:       llvm.mlir.global_dtors dtors = [@__qwha_release_device_constants_{{[0-9]+}}, @other_cleanup]
module attributes {gpu.container_module} {
  llvm.func @other_setup() {
    llvm.return
  }
  llvm.func @other_cleanup() {
    llvm.return
  }
  llvm.func @__qwha_upload_device_constants() {
    llvm.return
  }
  llvm.func @__qwha_release_device_constants() {
    llvm.return
  }
  llvm.mlir.global_ctors ctors = [@other_setup], priorities = [7 : i32], data = [#llvm.zero]
  llvm.mlir.global_dtors dtors = [@other_cleanup], priorities = [0 : i32], data = [#llvm.zero]
  func.func @forward(%out: memref<2048xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @qwha_kernels::@kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<2048xf32>)
    return
  }
  gpu.module @qwha_kernels {
    memref.global "private" constant @table : memref<2048xf32> = dense<3.0>
    gpu.func @kernel(%out: memref<2048xf32>) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @table : memref<2048xf32>
      %v = memref.load %t[%c0] : memref<2048xf32>
      memref.store %v, %out[%c0] : memref<2048xf32>
      gpu.return
    }
  }
}
