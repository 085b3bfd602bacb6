// RUN: qwha-opt %s -split-input-file -qwha-upload-kernel-constants -verify-diagnostics
// RUN: not qwha-opt %s -qwha-upload-kernel-constants="max-embedded-bytes=-1" 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// NEGATIVE: error: qwha-upload-kernel-constants: max-embedded-bytes must not be negative, not -1

// A symbol with a runtime function's name but another type: the call
// would not match the library. Nothing is changed.
module attributes {gpu.container_module} {
  // expected-error @below {{'llvm.func' op is named qwhaCudaDeviceConstant, the CUDA runtime function of type '!llvm.func<ptr (ptr, ptr, i64)>' that qwha-upload-kernel-constants calls}}
  llvm.func @qwhaCudaDeviceConstant(!llvm.ptr) -> !llvm.ptr
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

// The same name on a function of another kind.
module attributes {gpu.container_module} {
  // expected-error @below {{'func.func' op is named qwhaCudaReleaseDeviceConstant, the CUDA runtime function of type '!llvm.func<void (ptr)>' that qwha-upload-kernel-constants calls}}
  func.func private @qwhaCudaReleaseDeviceConstant(%p: !llvm.ptr)
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
