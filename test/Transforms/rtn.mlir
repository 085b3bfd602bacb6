// RUN: rm -rf %t && mkdir -p %t
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-rtn="bits=8 group-size=-1 symmetric=true" | FileCheck %s
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/calib.safetensors good enc.fc1:16 enc.fc2:8
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-rtn="bits=4 group-size=8 mse=true calibration=%t/calib.safetensors report=%t/report.json"
// RUN: FileCheck %s --check-prefix=REPORT < %t/report.json
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-rtn="bits=4 group-size=8 report=%t/plain.json"
// RUN: FileCheck %s --check-prefix=PLAIN < %t/plain.json

// Symmetric 8-bit per-channel: the zero point is 128 in every row (printed
// as a signed i8).
// CHECK-LABEL: func.func @forward
// CHECK: arith.constant dense<-128> : tensor<8x1xi8>
// CHECK: qwha.qlinear "enc.fc1" {{.*}} group_size -1 : tensor<2x16xf32>, tensor<8x16xi8>, tensor<8x1xf32>, tensor<8x1xi8> -> tensor<2x8xf32>
// CHECK: arith.constant dense<-128> : tensor<4x1xi8>
// CHECK: qwha.qlinear "enc.fc2"

// REPORT: "name": "enc.fc1"
// REPORT: "objective":
// REPORT: "relative_error":
// REPORT: "method": "rtn"
// REPORT: "mse": true

// Without statistics the report has no objectives.
// PLAIN: "name": "enc.fc1"
// PLAIN-NOT: objective
// PLAIN: "method": "rtn"
