// RUN: qwha-opt %s -split-input-file -qwha-instrument-calibration | FileCheck %s
// RUN: qwha-opt %s -split-input-file -qwha-instrument-calibration -qwha-instrument-calibration | FileCheck %s
// RUN: qwha-opt %s -split-input-file -qwha-instrument-calibration="layers=enc\..*" | FileCheck %s --check-prefix=REGEX

// Every named layer gets a tap on its input; running twice adds nothing.
// CHECK-LABEL: func.func @layers
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>
// CHECK: %[[T1:.*]] = qwha.observe "enc.fc1" %[[X]] : tensor<2x8xf32>
// CHECK-NEXT: %[[Y:.*]] = qwha.linear "enc.fc1" %[[T1]],
// CHECK-NEXT: %[[T2:.*]] = qwha.observe "dec.fc2" %[[Y]] : tensor<2x4xf32>
// CHECK-NEXT: qwha.qlinear "dec.fc2" %[[T2]],
// CHECK-NOT: qwha.observe
// REGEX-LABEL: func.func @layers
// REGEX: qwha.observe "enc.fc1"
// REGEX-NOT: qwha.observe
func.func @layers(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>, %c: tensor<2x4xi4>, %s: tensor<2x1xf32>) -> tensor<2x2xf32> {
  %0 = qwha.linear "enc.fc1" %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  %1 = qwha.qlinear "dec.fc2" %0, %c, %s, %s group_size -1 : tensor<2x4xf32>, tensor<2x4xi4>, tensor<2x1xf32>, tensor<2x1xf32> -> tensor<2x2xf32>
  return %1 : tensor<2x2xf32>
}

// -----

// A tap under another name does not count: the layer gets its own.
// CHECK-LABEL: func.func @other_tap
// CHECK: %[[A:.*]] = qwha.observe "other"
// CHECK: %[[B:.*]] = qwha.observe "fc" %[[A]]
// CHECK: qwha.linear "fc" %[[B]]
// REGEX-LABEL: func.func @other_tap
// REGEX-NOT: qwha.observe "fc"
func.func @other_tap(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  %t = qwha.observe "other" %x : tensor<2x8xf32>
  %0 = qwha.linear "fc" %t, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
