// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/calib.safetensors good enc.fc1:16 enc.fc2:8
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors bits=2 group-size=-1 keep-float-weight" -o %t/q.mlir
// RUN: FileCheck %s --check-prefix=KEPT < %t/q.mlir
// RUN: qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors rank=1 report=%t/report.json export=%t/adapters.safetensors" | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t/report.json
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-load-adapters=file=%t/adapters.safetensors | FileCheck %s --check-prefix=LOADED
// RUN: qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors rank=1 selection=random seed=3 refine=false layers=enc\.fc2 keep-float-weight progress" 2>%t/progress.txt | FileCheck %s --check-prefix=RANDOM
// RUN: FileCheck %s --check-prefix=PROGRESS < %t/progress.txt
// RUN: qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors report=%t/a.json report-timings=false" -o %t/a.mlir
// RUN: qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors report=%t/b.json report-timings=false" -o %t/b.mlir
// RUN: cmp %t/a.mlir %t/b.mlir
// RUN: cmp %t/a.json %t/b.json

// Quantization kept the float weight for the adapter.
// KEPT: qwha.qlinear "enc.fc1" {{.*}} {qwha.float_weight = dense<{{.*}}> : tensor<8x16xf32>}

// rank 1: budgets 1 * (16 + 8) = 24 and 1 * (8 + 4) = 12 entries; the float
// weight is dropped afterwards.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<2x16xf32>)
// CHECK: %[[Q:.*]] = qwha.qlinear "enc.fc1" %[[X]],
// CHECK-NOT: qwha.float_weight
// CHECK: %[[H:.*]] = qwha.fwht %[[X]] normalized : tensor<2x16xf32>
// CHECK: %[[P:.*]] = qwha.sparse_linear %[[H]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x16xf32>, tensor<9xi32>, tensor<24xi32>, tensor<24xf32> -> tensor<2x8xf32>
// CHECK: %[[Y:.*]] = linalg.add ins(%[[Q]], %[[P]] : tensor<2x8xf32>, tensor<2x8xf32>)
// CHECK: qwha.qlinear "enc.fc2" %[[Y]],
// CHECK: qwha.sparse_linear {{.*}} tensor<5xi32>, tensor<12xi32>, tensor<12xf32> -> tensor<2x4xf32>

// REPORT: "adapter_entries": 24
// REPORT: "budget": 24
// REPORT: "name": "enc.fc1"
// REPORT: "objective":
// REPORT: "objective_no_adapter":
// REPORT: "objective_refined":
// REPORT: "objective_selected":
// REPORT: "relative_error":
// REPORT: "relative_error_no_adapter":
// REPORT: "relative_error_selected":
// REPORT: "method": "wha-init"
// REPORT: "rank": 1

// The exported adapters attach to the float model as they were.
// LOADED: qwha.linear "enc.fc1"
// LOADED: qwha.sparse_linear {{.*}} tensor<24xf32>
// LOADED: qwha.linear "enc.fc2"
// LOADED: qwha.sparse_linear {{.*}} tensor<12xf32>

// RANDOM: qwha.qlinear "enc.fc1" {{.*}}qwha.float_weight
// RANDOM-NOT: qwha.sparse_linear {{.*}} -> tensor<2x8xf32>
// RANDOM: qwha.sparse_linear {{.*}} -> tensor<2x4xf32>
// PROGRESS: [1/1] enc.fc2 4x8 adapter 12 entries: error {{.*}} -> {{.*}} (selected) -> {{.*}} (refined)
