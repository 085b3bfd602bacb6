// RUN: qwha-opt %s -split-input-file -qwha-upload-kernel-constants -verify-diagnostics
// RUN: not qwha-opt %s -qwha-upload-kernel-constants="max-embedded-bytes=-1" 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// NEGATIVE: error: qwha-upload-kernel-constants: max-embedded-bytes must not be negative, not -1

// The library destructor is the pass's to add.
module attributes {gpu.container_module} {
  llvm.func @other_cleanup() {
    llvm.return
  }
  // expected-error @below {{'llvm.mlir.global_dtors' op is already in the module; qwha-upload-kernel-constants adds the library destructor that frees the device copies of the constants}}
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

// -----

// The device copy is got at the entry of the func.func that launches; a
// launch elsewhere has none to take.
module attributes {gpu.container_module} {
  llvm.func @forward(%n: i64) {
    %c1 = llvm.mlir.constant(1 : index) : i64
    // expected-error @below {{'gpu.launch_func' op launches @qwha_kernels::@kernel, which reads constants the host uploads, outside a function of the module}}
    gpu.launch_func @qwha_kernels::@kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%n : i64)
    llvm.return
  }
  gpu.module @qwha_kernels {
    memref.global "private" constant @table : memref<2048xf32> = dense<3.0>
    gpu.func @kernel(%n: i64) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @table : memref<2048xf32>
      %v = memref.load %t[%c0] : memref<2048xf32>
      gpu.return
    }
  }
}
