// REQUIRES: cuda-toolkit
// qwha-lower-to-nvvm's binary formats go through ptxas (and fatbinary): a
// cubin is an ELF file, a fatbin starts with its magic 0xBA55ED50; the
// options reach the NVVM target.

// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-nvvm{format=bin chip=sm_90a opt-level=3})" \
// RUN:   | FileCheck %s --check-prefix=BIN
// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-nvvm)" \
// RUN:   | FileCheck %s --check-prefix=FATBIN

// BIN:    gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">
// BIN-SAME: bin = "\7FELF
// FATBIN: gpu.binary @kernels [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">
// FATBIN-SAME: "P\EDU\BA
// BIN-NOT: gpu.module
// FATBIN-NOT: gpu.module

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%buf: memref<?xf32>, %s: f32) kernel {
      %tid = gpu.thread_id x
      %v = memref.load %buf[%tid] : memref<?xf32>
      %r = arith.mulf %v, %s : f32
      memref.store %r, %buf[%tid] : memref<?xf32>
      gpu.return
    }
  }
  func.func @run(%buf: memref<?xf32>, %s: f32, %n: index) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @kernels::@scale blocks in (%c1, %c1, %c1)
        threads in (%n, %c1, %c1) args(%buf : memref<?xf32>, %s : f32)
    return
  }
}
