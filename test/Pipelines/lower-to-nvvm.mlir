// qwha-lower-to-nvvm on hand-written gpu.func kernels: an elementwise one and
// a warp-shuffle reduction. The NVVM dialect is checked just before
// serialization; the PTX (format=isa, which needs only LLVM's NVPTX backend)
// in the gpu.binary it produces; the host side in the final module.

// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-nvvm{format=isa})" \
// RUN:   --mlir-print-ir-before=gpu-module-to-binary -o %t.mlir 2> %t.nvvm
// RUN: FileCheck %s --check-prefix=NVVM < %t.nvvm
// RUN: FileCheck %s --check-prefix=PTX < %t.mlir
// RUN: FileCheck %s --check-prefix=HOST < %t.mlir

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // out[i] = a[i] * s + b[i] for i < n.
    gpu.func @axpy(%a: memref<?xf32>, %b: memref<?xf32>, %out: memref<?xf32>,
                   %s: f32, %n: index) kernel {
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %tid = gpu.thread_id x
      %base = arith.muli %bid, %bdim : index
      %i = arith.addi %base, %tid : index
      %in = arith.cmpi ult, %i, %n : index
      scf.if %in {
        %x = memref.load %a[%i] : memref<?xf32>
        %y = memref.load %b[%i] : memref<?xf32>
        %m = arith.mulf %x, %s : f32
        %r = arith.addf %m, %y : f32
        memref.store %r, %out[%i] : memref<?xf32>
      }
      gpu.return
    }

    // out[w] = in[32 w] + ... + in[32 w + 31]: one warp (block) per sum, an
    // xor butterfly leaves the sum in every lane, lane 0 stores it.
    gpu.func @warp_sum(%in: memref<?xf32>, %out: memref<?xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c32 = arith.constant 32 : index
      %width = arith.constant 32 : i32
      %o1 = arith.constant 1 : i32
      %o2 = arith.constant 2 : i32
      %o4 = arith.constant 4 : i32
      %o8 = arith.constant 8 : i32
      %o16 = arith.constant 16 : i32
      %w = gpu.block_id x
      %lane = gpu.thread_id x
      %base = arith.muli %w, %c32 : index
      %i = arith.addi %base, %lane : index
      %v0 = memref.load %in[%i] : memref<?xf32>
      %s16, %p16 = gpu.shuffle xor %v0, %o16, %width : f32
      %v1 = arith.addf %v0, %s16 : f32
      %s8, %p8 = gpu.shuffle xor %v1, %o8, %width : f32
      %v2 = arith.addf %v1, %s8 : f32
      %s4, %p4 = gpu.shuffle xor %v2, %o4, %width : f32
      %v3 = arith.addf %v2, %s4 : f32
      %s2, %p2 = gpu.shuffle xor %v3, %o2, %width : f32
      %v4 = arith.addf %v3, %s2 : f32
      %s1, %p1 = gpu.shuffle xor %v4, %o1, %width : f32
      %v5 = arith.addf %v4, %s1 : f32
      %first = arith.cmpi eq, %lane, %c0 : index
      scf.if %first {
        memref.store %v5, %out[%w] : memref<?xf32>
      }
      gpu.return
    }
  }

  func.func @run(%a: memref<?xf32>, %b: memref<?xf32>, %out: memref<?xf32>,
                 %sums: memref<?xf32>, %s: f32, %n: index, %warps: index) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %c128 = arith.constant 128 : index
    %blocks = arith.ceildivui %n, %c128 : index
    gpu.launch_func @kernels::@axpy blocks in (%blocks, %c1, %c1)
        threads in (%c128, %c1, %c1)
        args(%a : memref<?xf32>, %b : memref<?xf32>, %out : memref<?xf32>,
             %s : f32, %n : index)
    gpu.launch_func @kernels::@warp_sum blocks in (%warps, %c1, %c1)
        threads in (%c32, %c1, %c1)
        args(%out : memref<?xf32>, %sums : memref<?xf32>)
    return
  }
}

// The defaults reach the target: sm_90, +ptx80 (and O2, not printed).
// NVVM: gpu.module @kernels [#nvvm.target<chip = "sm_90", features = "+ptx80">]
// NVVM-LABEL: llvm.func @axpy(
// NVVM-SAME:  nvvm.kernel
// NVVM-DAG:   nvvm.read.ptx.sreg.ctaid.x
// NVVM-DAG:   nvvm.read.ptx.sreg.ntid.x
// NVVM-DAG:   nvvm.read.ptx.sreg.tid.x
// NVVM:       llvm.fmul
// NVVM:       llvm.fadd
// NVVM:       llvm.store
// NVVM-LABEL: llvm.func @warp_sum(
// NVVM-SAME:  nvvm.kernel
// NVVM-COUNT-5: nvvm.shfl.sync bfly
// NVVM-NOT:   nvvm.shfl.sync
// NVVM:       llvm.store

// The kernels are PTX for sm_90, ISA 8.0, in the binary.
// PTX:      gpu.binary @kernels
// PTX-SAME: .version 8.0
// PTX-SAME: .target sm_90
// PTX-SAME: .entry axpy(
// PTX-SAME: mul.rn.f32
// PTX-SAME: add.rn.f32
// PTX-SAME: .entry warp_sum(
// PTX-SAME: shfl.sync.bfly.b32
// PTX-SAME: shfl.sync.bfly.b32
// PTX-SAME: shfl.sync.bfly.b32
// PTX-SAME: shfl.sync.bfly.b32
// PTX-SAME: shfl.sync.bfly.b32
// PTX-NOT:  shfl.sync

// The host launches both kernels through the mgpu ABI.
// HOST-LABEL: llvm.func @run(
// HOST:       gpu.launch_func @kernels::@axpy
// HOST:       gpu.launch_func @kernels::@warp_sum
// HOST-NOT:   gpu.module
