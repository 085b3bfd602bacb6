// Public functions whose signatures a C header cannot spell are rejected,
// each error at the function, and nothing is written.

// RUN: rm -rf %t && mkdir -p %t
// RUN: not qwha-compile %s -o %t/lib.so 2>&1 | FileCheck %s
// RUN: ls -A %t | count 0

// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @unranked in the C header: argument #0 has type 'tensor<*xf32>': unranked shapes have no fixed descriptor
func.func @unranked(%x: tensor<*xf32>) {
  return
}

// f16 travels in a vector register in LLVM's convention and as an integer
// in C's: no portable by-value scalar.
// CHECK: undescribable-signatures.mlir:[[@LINE+2]]:1: error: cannot declare @half in the C header: argument #0 has type 'f16': only memrefs, tensors and f32, f64, 32- and 64-bit integer and index scalars cross the C interface
// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @half in the C header: result #0 has type 'f16'
func.func @half(%x: f16) -> f16 {
  return %x : f16
}

// 4-bit codes have no C element type.
// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @codes in the C header: result #0 has type 'tensor<4xi4>': elements of this type have no C equivalent
func.func @codes() -> tensor<4xi4> {
  %c = arith.constant dense<[1, 2, 3, 4]> : tensor<4xi4>
  return %c : tensor<4xi4>
}

// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @sparse in the C header: argument #0 has type 'tensor<8xf32, #sparse_tensor.encoding<{{.*}}>>': tensors with an encoding
func.func @sparse(%x: tensor<8xf32, #sparse_tensor.encoding<{map = (i) -> (i : compressed)}>>) {
  return
}

// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @device in the C header: argument #0 has type 'memref<4xf32, 1>': memrefs outside the default memory space are not host pointers
func.func @device(%x: memref<4xf32, 1>) {
  return
}

// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @vector in the C header: argument #0 has type 'vector<4xf32>': only memrefs, tensors
func.func @vector(%x: vector<4xf32>) {
  return
}

// CHECK: undescribable-signatures.mlir:[[@LINE+1]]:1: error: cannot declare @with.dot in the C header: '_mlir_ciface_with.dot' is not a C identifier
func.func @"with.dot"() {
  return
}

// A private function is no entry point and may use any type.
// CHECK-NOT: @helper
func.func private @helper(%x: tensor<*xf32>) {
  return
}
