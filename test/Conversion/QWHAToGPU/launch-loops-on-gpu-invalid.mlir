// RUN: qwha-opt %s -split-input-file -qwha-launch-loops-on-gpu -verify-diagnostics
// RUN: not qwha-opt %s -qwha-launch-loops-on-gpu="block-size=48" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not qwha-opt %s -qwha-launch-loops-on-gpu="block-size=2048" 2>&1 | FileCheck %s --check-prefix=BLOCK2048

// BLOCK: error: qwha-launch-loops-on-gpu: block-size must be a multiple of 32 between 32 and 1024, not 48
// BLOCK2048: error: qwha-launch-loops-on-gpu: block-size must be a multiple of 32 between 32 and 1024, not 2048

func.func @parallel_reduction(%x: memref<8xf32>, %out: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'scf.parallel' op has reductions; only parallel loops without results run as GPU kernels}}
  %sum = scf.parallel (%i) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
    %v = memref.load %x[%i] : memref<8xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  memref.store %sum, %out[] : memref<f32>
  return
}

// -----

func.func @host_result(%x: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'scf.for' op yields values to the host, which cannot read the device buffers it computes them from}}
  %sum = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %zero) -> f32 {
    %v = memref.load %x[%i] : memref<8xf32>
    %s = arith.addf %acc, %v : f32
    scf.yield %s : f32
  }
  return %sum : f32
}

// -----

// expected-error @below {{'func.func' op has more than one block; the GPU lowering launches the loops of straight-line host code only}}
func.func @branches(%c: i1, %x: memref<8xf32>) {
  cf.cond_br %c, ^a, ^b
^a:
  return
^b:
  return
}

// -----

memref.global "private" @state : memref<4xf32> = dense<0.0>
func.func @mutable_global(%out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  // expected-error @below {{'memref.get_global' op reads the mutable global "state" in a kernel; kernels get their own copy of a global, so only constant globals can be read there}}
  %g = memref.get_global @state : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %g[%i] : memref<4xf32>
    memref.store %v, %out[%i] : memref<4xf32>
    scf.reduce
  }
  return
}

// -----

func.func @unranked_copy(%a: memref<*xf32>, %b: memref<*xf32>) {
  // expected-error @below {{'memref.copy' op copies an unranked buffer; the GPU lowering copies ranked buffers only}}
  memref.copy %a, %b : memref<*xf32> to memref<*xf32>
  return
}
