// RUN: qwha-opt %s -split-input-file -qwha-place-buffers-on-gpu -verify-diagnostics | FileCheck %s

// Allocations become device allocations; the intermediate one is freed
// after its last use (a launch reading a view of it), the returned one is
// not; copies become device copies.

// CHECK-LABEL: func.func @two_layers(
// CHECK-SAME:      %[[X:.*]]: memref<2x8xf32>)
// CHECK:         %[[H:.*]] = gpu.alloc () : memref<2x8xf32>
// CHECK:         %[[HV:.*]] = memref.cast %[[H]]
// CHECK:         gpu.launch_func @kernels::@k blocks in ({{.*}}) threads in ({{.*}}) args(%{{.*}} : memref<?x8xf32>, %[[HV]] : memref<?x8xf32>)
// CHECK:         %[[Y:.*]] = gpu.alloc () : memref<2x8xf32>
// CHECK:         gpu.memcpy %[[Y]], %[[X]] : memref<2x8xf32>, memref<2x8xf32>
// CHECK:         %[[YV:.*]] = memref.cast %[[Y]]
// CHECK:         gpu.launch_func @kernels::@k blocks in ({{.*}}) threads in ({{.*}}) args(%[[HV]] : memref<?x8xf32>, %[[YV]] : memref<?x8xf32>)
// CHECK-NEXT:    gpu.dealloc %[[H]] : memref<2x8xf32>
// CHECK-NOT:     gpu.dealloc
// CHECK:         return %[[Y]]
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @k(%a: memref<?x8xf32>, %b: memref<?x8xf32>) kernel {
      gpu.return
    }
  }
  func.func @two_layers(%x: memref<2x8xf32>) -> memref<2x8xf32> {
    %c1 = arith.constant 1 : index
    %xv = memref.cast %x : memref<2x8xf32> to memref<?x8xf32>
    %h = memref.alloc() {alignment = 64 : i64} : memref<2x8xf32>
    %hv = memref.cast %h : memref<2x8xf32> to memref<?x8xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%xv : memref<?x8xf32>, %hv : memref<?x8xf32>)
    %y = memref.alloc() : memref<2x8xf32>
    memref.copy %x, %y : memref<2x8xf32> to memref<2x8xf32>
    %yv = memref.cast %y : memref<2x8xf32> to memref<?x8xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%hv : memref<?x8xf32>, %yv : memref<?x8xf32>)
    return %y : memref<2x8xf32>
  }
}

// -----

func.func @host_compute(%x: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @below {{'memref.load' op would read or write device memory on the host: with --target=cuda every buffer lives on the GPU}}
  %v = memref.load %x[%c0] : memref<4xf32>
  return %v : f32
}

// -----

func.func @constant_tensor() -> memref<2xf32> {
  // expected-error @below {{'memref.get_global' op would read or write device memory on the host}}
  %g = memref.get_global @table : memref<2xf32>
  return %g : memref<2xf32>
}
memref.global "private" constant @table : memref<2xf32> = dense<[1.0, 2.0]>

// -----

// expected-error @below {{'func.func' op has more than one block; the GPU lowering frees buffers in straight-line host code only}}
func.func @branches(%c: i1) {
  cf.cond_br %c, ^a, ^b
^a:
  return
^b:
  return
}

// -----

func.func @shared_space() -> memref<4xf32, 3> {
  // expected-error @below {{'memref.alloc' op allocates in memory space 3 : i64; the host functions of a GPU module allocate only device memory}}
  %a = memref.alloc() : memref<4xf32, 3>
  return %a : memref<4xf32, 3>
}

// -----

func.func @alloc_in_region(%c: i1) {
  scf.if %c {
    // expected-error @below {{'memref.alloc' op allocates inside a region; the GPU lowering frees buffers in straight-line host code only}}
    %a = memref.alloc() : memref<4xf32>
  }
  return
}

// -----

// A gpu.launch's body runs on the device: its loads and stores are not
// host accesses; the buffer it writes is allocated on the device and freed
// after it.

// CHECK-LABEL: func.func @inline_kernel(
// CHECK:         %[[B:.*]] = gpu.alloc () : memref<4xf32>
// CHECK:         gpu.launch
// CHECK:           memref.load
// CHECK:           memref.store %{{.*}}, %[[B]]
// CHECK:         gpu.dealloc %[[B]]
func.func @inline_kernel(%x: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %b = memref.alloc() : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<4xf32>
    memref.store %v, %b[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}
