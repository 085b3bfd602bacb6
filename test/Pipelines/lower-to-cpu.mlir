// RUN: qwha-opt %s -qwha-lower-to-cpu | FileCheck %s
// RUN: qwha-opt %s -qwha-lower-to-cpu | FileCheck %s --check-prefix=KERNEL
// RUN: qwha-opt %s -qwha-lower-to-cpu=c-interface | FileCheck %s --check-prefix=CIFACE
// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-cpu{c-interface=true})" | FileCheck %s --check-prefix=CIFACE
// RUN: qwha-opt %s -qwha-lower-to-cpu=kernels=generic | FileCheck %s --check-prefix=GENERIC

// Everything ends in the LLVM dialect: no qwha, linalg, tensor, memref or
// scf op survives.
// CHECK-LABEL: llvm.func @layer
// CHECK-NOT: qwha.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK-NOT: llvm.func @_mlir_ciface_layer

// The layer calls a packed kernel, internal to the module; its weight is a
// private global of packed words.
// KERNEL: llvm.mlir.global private constant @__qwha_cpu_fc_codes{{.*}} : !llvm.array<32 x i32>
// KERNEL: llvm.call @qwha_cpu_qmatmul_w4_n4_k8_g2x8_gather_v16_m8x2_r4_p2048(
// KERNEL: llvm.func internal @qwha_cpu_qmatmul_w4_n4_k8_g2x8_gather_v16_m8x2_r4_p2048(

// With c-interface, callers in C get a wrapper over memref descriptors; the
// kernels do not.
// CIFACE: llvm.func @layer
// CIFACE: llvm.func @_mlir_ciface_layer
// CIFACE-NOT: @_mlir_ciface_qwha_cpu

// kernels=generic keeps everything on the linalg path.
// GENERIC-NOT: qwha_cpu
func.func @layer(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %c = arith.constant dense<3> : tensor<4x8xi4>
  %s = arith.constant dense<0.5> : tensor<4x2xf16>
  %z = arith.constant dense<1> : tensor<4x2xi4>
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf16>, tensor<4x2xi4> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
