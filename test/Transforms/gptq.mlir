// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/calib.safetensors good enc.fc1:16 enc.fc2:8
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors bits=4 group-size=4 report=%t/report.json" | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t/report.json
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors bits=3 group-size=-1 act-order=false scale-type=f16" | FileCheck %s --check-prefix=PLAIN
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors bits=2 group-size=8 static-groups=true layers=enc\.fc2 progress" 2>%t/progress.txt | FileCheck %s --check-prefix=STATIC
// RUN: FileCheck %s --check-prefix=PROGRESS < %t/progress.txt
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors report=%t/a.json report-timings=false group-size=8" -o %t/a.mlir
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors report=%t/b.json report-timings=false group-size=8" -o %t/b.mlir
// RUN: cmp %t/a.mlir %t/b.mlir
// RUN: cmp %t/a.json %t/b.json

// Act-order with groups of 4: codes, scales, zero points and g_idx become
// constants of a qwha.qlinear that keeps the layer's name.
// CHECK-LABEL: func.func @forward
// CHECK-DAG: %[[C1:.*]] = arith.constant dense<{{.*}}> : tensor<8x16xi4>
// CHECK-DAG: %[[S1:.*]] = arith.constant dense<{{.*}}> : tensor<8x4xf32>
// CHECK-DAG: %[[Z1:.*]] = arith.constant dense<{{.*}}> : tensor<8x4xi4>
// CHECK-DAG: %[[G1:.*]] = arith.constant dense<{{.*}}> : tensor<16xi32>
// CHECK: %[[H:.*]] = qwha.qlinear "enc.fc1" %{{.*}}, %[[C1]], %[[S1]], %[[Z1]] g_idx %[[G1]] group_size 4
// CHECK: qwha.qlinear "enc.fc2" %[[H]], {{.*}} group_size 4 : tensor<2x8xf32>, tensor<4x8xi4>, tensor<4x2xf32>, tensor<4x2xi4>, tensor<8xi32> -> tensor<2x4xf32>
// CHECK-NOT: qwha.linear

// REPORT: "calibration": "{{.*}}calib.safetensors"
// REPORT: "name": "enc.fc1"
// REPORT: "objective":
// REPORT: "objective_rtn":
// REPORT: "relative_error":
// REPORT: "relative_error_rtn":
// REPORT: "samples": 64
// REPORT: "seconds":
// REPORT: "name": "enc.fc2"
// REPORT: "method": "gptq"
// REPORT: "act_order": true
// REPORT: "bits": 4
// REPORT: "group_size": 4
// REPORT: "summary":
// REPORT-NEXT: "layers": 2

// Per-channel 3-bit without act-order: no g_idx, f16 scales.
// PLAIN: qwha.qlinear "enc.fc1" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} group_size -1 : tensor<2x16xf32>, tensor<8x16xi3>, tensor<8x1xf16>, tensor<8x1xi3> -> tensor<2x8xf32>

// Static groups need no g_idx; only the selected layer changes.
// STATIC: qwha.linear "enc.fc1"
// STATIC: qwha.qlinear "enc.fc2" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} group_size -1 : tensor<2x8xf32>, tensor<4x8xi2>
// PROGRESS: [1/1] enc.fc2 4x8 2-bit g8 GPTQ act-order static: relative error {{.*}} (RTN {{.*}}), {{.*}} s
