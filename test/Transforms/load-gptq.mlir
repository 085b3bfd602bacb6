// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/good good
// RUN: qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/good | FileCheck %s
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/bad-shape bad-shape
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/bad-gidx bad-gidx
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/nan-scale nan-scale
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/v1-overflow v1-overflow
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/bad-config bad-config
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/extra-layer extra-layer
// RUN: %python %S/Inputs/make_gptq_checkpoint.py %qwha_src_root/test/lib %t/per-channel per-channel
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq 2>&1 | FileCheck %s --check-prefix=NODIR
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/none 2>&1 | FileCheck %s --check-prefix=NOCONFIG
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/bad-config 2>&1 | FileCheck %s --check-prefix=CONFIG
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/bad-shape 2>&1 | FileCheck %s --check-prefix=SHAPE
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/bad-gidx 2>&1 | FileCheck %s --check-prefix=GIDX
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/nan-scale 2>&1 | FileCheck %s --check-prefix=NAN
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/v1-overflow 2>&1 | FileCheck %s --check-prefix=OVERFLOW
// RUN: not qwha-opt %S/Inputs/square-layer.mlir -qwha-load-gptq=checkpoint=%t/extra-layer 2>&1 | FileCheck %s --check-prefix=EXTRA
// RUN: not qwha-opt %S/Inputs/no-input-features.mlir -qwha-load-gptq=checkpoint=%t/per-channel 2>&1 | FileCheck %s --check-prefix=EMPTY

// The layer takes the checkpoint's codes (9), zeros (8: stored as 7 in v1)
// and F16 scales; the identity g_idx is dropped.
// CHECK-DAG: arith.constant dense<-7> : tensor<32x32xi4>
// CHECK-DAG: arith.constant dense<5.000000e-01> : tensor<32x1xf16>
// CHECK-DAG: arith.constant dense<-8> : tensor<32x1xi4>
// CHECK: qwha.qlinear "fc" %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} group_size -1 : tensor<1x32xf32>, tensor<32x32xi4>, tensor<32x1xf16>, tensor<32x1xi4> -> tensor<1x32xf32>

// NODIR: error: qwha-load-gptq needs checkpoint=<directory>
// NOCONFIG: error: cannot read '{{.*}}none{{.}}quantize_config.json'
// CONFIG: error: '{{.*}}quantize_config.json': field 'bits' must be 2, 3, 4 or 8
// SHAPE: error: layer 'fc': 'fc.qweight' is I32 [4, 16], expected I32 [4, 32] for a 32x32 layer
// GIDX: error: layer 'fc': g_idx[5] = 3 is not a group in [0, 1)
// NAN: error: layer 'fc': 'fc.scales' has a non-finite value at [0, 3]
// OVERFLOW: error: layer 'fc': GPTQ v1 qzeros stores 15 at [g, n] = [0, 0], which reads back as zero point 16
// EXTRA: error: the checkpoint quantizes 1 layer(s) the module has no qwha.linear for, e.g. 'other'
// A layer without input features with a per-channel checkpoint (group size
// -1, so K) divided by zero before it was rejected (found by fuzzing).
// EMPTY: error: layer 'fc': a 32x0 layer cannot be read from a GPTQ checkpoint: it needs at least one output and one input feature
