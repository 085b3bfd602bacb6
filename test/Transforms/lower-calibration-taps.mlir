// RUN: qwha-opt %s -split-input-file -qwha-lower-calibration-taps | FileCheck %s

// Taps become calls with an id per distinct layer name; f16 inputs are
// widened to f32 first; the module lists the names in id order.
// CHECK: module attributes {qwha.calibration_layers = ["fc1", "fc2"]}
// CHECK: func.func private @qwha_observe_f32(i64, tensor<*xf32> {bufferization.access = "read"}) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>, %[[H:.*]]: tensor<3x8xf16>
// CHECK: %[[U:.*]] = tensor.cast %[[X]] : tensor<2x8xf32> to tensor<*xf32>
// CHECK: %[[ID0:.*]] = arith.constant 0 : i64
// CHECK: call @qwha_observe_f32(%[[ID0]], %[[U]]) : (i64, tensor<*xf32>) -> ()
// CHECK: qwha.linear "fc1" %[[X]],
// CHECK: %[[WIDE:.*]] = linalg.generic
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: %[[V:.*]] = tensor.cast %[[WIDE]] : tensor<3x8xf32> to tensor<*xf32>
// CHECK: %[[ID1:.*]] = arith.constant 1 : i64
// CHECK: call @qwha_observe_f32(%[[ID1]], %[[V]])
// CHECK: qwha.linear "fc2" %[[H]],
// The same layer observed again reuses its id.
// CHECK: %[[ID0B:.*]] = arith.constant 0 : i64
// CHECK: call @qwha_observe_f32(%[[ID0B]],
// CHECK-NOT: qwha.observe
func.func @forward(%x: tensor<2x8xf32>, %h: tensor<3x8xf16>, %w: tensor<4x8xf32>, %wh: tensor<4x8xf16>) -> (tensor<2x4xf32>, tensor<3x4xf16>) {
  %tx = qwha.observe "fc1" %x : tensor<2x8xf32>
  %0 = qwha.linear "fc1" %tx, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  %th = qwha.observe "fc2" %h : tensor<3x8xf16>
  %1 = qwha.linear "fc2" %th, %wh : tensor<3x8xf16>, tensor<4x8xf16> -> tensor<3x4xf16>
  %tx2 = qwha.observe "fc1" %x : tensor<2x8xf32>
  return %0, %1 : tensor<2x4xf32>, tensor<3x4xf16>
}

// -----

// Without taps the module only records that no layer is observed.
// CHECK: module attributes {qwha.calibration_layers = []}
// CHECK-NOT: qwha_observe_f32
func.func @plain(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
