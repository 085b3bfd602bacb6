// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/good.safetensors good float quant
// RUN: qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/good.safetensors | FileCheck %s
// RUN: qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/good.safetensors -qwha-fuse-adapters | FileCheck %s --check-prefix=FUSED
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/range.safetensors out-of-range quant
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/dup.safetensors duplicate quant
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/length.safetensors length quant
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/dtype.safetensors dtype quant
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/nan.safetensors nan quant
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/orphan.safetensors orphan-values quant
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/unknown.safetensors good quant missing
// RUN: %python %S/Inputs/make_adapters.py %qwha_src_root/test/lib %t/huge.safetensors good huge
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/range.safetensors 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/dup.safetensors 2>&1 | FileCheck %s --check-prefix=DUP
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/length.safetensors 2>&1 | FileCheck %s --check-prefix=LENGTH
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/dtype.safetensors 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/nan.safetensors 2>&1 | FileCheck %s --check-prefix=NAN
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/orphan.safetensors 2>&1 | FileCheck %s --check-prefix=ORPHAN
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/unknown.safetensors 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not qwha-opt %S/Inputs/adapter-layers.mlir -qwha-load-adapters=file=%t/none.safetensors 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not qwha-opt %S/Inputs/huge-layer.mlir -qwha-load-adapters=file=%t/huge.safetensors 2>&1 | FileCheck %s --check-prefix=HUGE

// Each layer gets fwht -> sparse_linear (CSR of entries (0,0), (1,3), (3,15))
// -> add; the float layer's adapter stays unfused.
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[X:.*]]: tensor<2x16xf32>)
// CHECK: %[[A:.*]] = qwha.linear "float" %[[X]]
// CHECK-DAG: %[[ROWS:.*]] = arith.constant dense<[0, 1, 2, 2, 3]> : tensor<5xi32>
// CHECK-DAG: %[[COLS:.*]] = arith.constant dense<[0, 3, 15]> : tensor<3xi32>
// CHECK-DAG: %[[VALS:.*]] = arith.constant dense<[1.000000e+00, -2.000000e+00, 5.000000e-01]> : tensor<3xf32>
// CHECK: %[[H:.*]] = qwha.fwht %[[X]] normalized : tensor<2x16xf32>
// CHECK: %[[P:.*]] = qwha.sparse_linear %[[H]], %[[ROWS]], %[[COLS]], %[[VALS]]
// CHECK: %[[SUM:.*]] = linalg.add ins(%[[A]], %[[P]] : tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK: qwha.qlinear "quant" %[[X]]
// CHECK: return %[[SUM]],

// FUSED: linalg.add
// FUSED: qwha.qlinear_wha "quant"
// FUSED-NOT: linalg.add

// NOFILE: error: qwha-load-adapters needs file=<adapters.safetensors>
// RANGE: error: layer 'quant': adapter in '{{.*}}': index 64 at position 2 is outside the 4x16 matrix
// DUP: error: layer 'quant': adapter in '{{.*}}': index 19 (row 1, column 3) appears twice
// LENGTH: error: adapter file '{{.*}}': layer 'quant' has 3 indices but 2 values
// DTYPE: error: adapter file '{{.*}}': 'quant.wha.indices' must be a 1-D I32 tensor, got I64 of rank 1
// NAN: error: adapter file '{{.*}}': 'quant.wha.values' has a non-finite value at index 1
// ORPHAN: error: adapter file '{{.*}}': layer 'lonely' has values but no 'lonely.wha.indices'
// UNKNOWN: error: '{{.*}}unknown.safetensors' has adapters for 1 layer(s) the module has no qwha.linear or qwha.qlinear for, e.g. 'missing'
// MISSING: error: cannot open '{{.*}}none.safetensors'
// 2^32 x 2^32 entries overflowed int64 to 0 in the size check, so the
// index was said to be outside the matrix (a signed overflow under UBSan).
// HUGE: error: layer 'huge': adapter in '{{.*}}': a 4294967296x4294967296 adapter has more entries than 32-bit flat indices can address
