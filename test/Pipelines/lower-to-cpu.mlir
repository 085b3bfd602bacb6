// RUN: qwha-opt %s -qwha-lower-to-cpu | FileCheck %s
// RUN: qwha-opt %s -qwha-lower-to-cpu=c-interface | FileCheck %s --check-prefix=CIFACE
// RUN: qwha-opt %s --pass-pipeline="builtin.module(qwha-lower-to-cpu{c-interface=true})" | FileCheck %s --check-prefix=CIFACE

// Everything ends in the LLVM dialect: no qwha, linalg, tensor, memref or
// scf op survives.
// CHECK-LABEL: llvm.func @layer
// CHECK-NOT: qwha.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK-NOT: llvm.func @_mlir_ciface_layer

// With c-interface, callers in C get a wrapper over memref descriptors.
// CIFACE: llvm.func @layer
// CIFACE: llvm.func @_mlir_ciface_layer
func.func @layer(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %c = arith.constant dense<3> : tensor<4x8xi4>
  %s = arith.constant dense<0.5> : tensor<4x2xf16>
  %z = arith.constant dense<1> : tensor<4x2xi4>
  %0 = qwha.qlinear "fc" %x, %c, %s, %z group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf16>, tensor<4x2xi4> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
