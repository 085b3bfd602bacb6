// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/good.safetensors good fc:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/wide.safetensors good fc:16
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/other.safetensors good other:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/singular.safetensors singular fc:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/nan.safetensors nan fc:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/no-nsamples.safetensors no-nsamples fc:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/zero.safetensors zero-samples fc:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/f64.safetensors wrong-dtype fc:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/extra.safetensors extra-tensor fc:8
// RUN: not qwha-opt %s -qwha-gptq 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/missing.safetensors 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/other.safetensors 2>&1 | FileCheck %s --check-prefix=NOLAYER
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/wide.safetensors 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not qwha-opt %s -qwha-gptq="calibration=%t/singular.safetensors group-size=-1" 2>&1 | FileCheck %s --check-prefix=SINGULAR
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/nan.safetensors 2>&1 | FileCheck %s --check-prefix=NAN
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/no-nsamples.safetensors 2>&1 | FileCheck %s --check-prefix=NONSAMPLES
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/zero.safetensors 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/f64.safetensors 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not qwha-opt %s -qwha-gptq=calibration=%t/extra.safetensors 2>&1 | FileCheck %s --check-prefix=EXTRA
// RUN: not qwha-opt %s -qwha-gptq="calibration=%t/good.safetensors group-size=3" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not qwha-opt %s -qwha-gptq="calibration=%t/good.safetensors bits=5" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not qwha-opt %s -qwha-gptq="calibration=%t/good.safetensors scale-type=f8" 2>&1 | FileCheck %s --check-prefix=SCALE
// RUN: not qwha-opt %s -qwha-gptq="calibration=%t/good.safetensors layers=(" 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: not qwha-opt %s -qwha-gptq="calibration=%t/good.safetensors group-size=-1 report=%t/no/such/dir/r.json" 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: not ls %t/no/such/dir/r.json
// RUN: not qwha-opt %S/Inputs/nan-weight.mlir -qwha-rtn="bits=3 group-size=-1" 2>&1 | FileCheck %s --check-prefix=NONFINITE
// RUN: not qwha-opt %S/Inputs/nan-weight.mlir -qwha-gptq="calibration=%t/good.safetensors group-size=-1" 2>&1 | FileCheck %s --check-prefix=NONFINITE

// NOFILE: error: qwha-gptq needs calibration statistics: pass calibration=<file> (see qwha-calibrate)
// MISSING: error: cannot open '{{.*}}missing.safetensors'
// NOLAYER: error: layer 'fc' has no calibration statistics in '{{.*}}other.safetensors' (expected 'fc.hessian')
// WIDTH: error: layer 'fc' has 8 input features but its calibration statistics have 16
// SINGULAR: error: layer 'fc': the Hessian is not positive definite even with damp raised to
// NAN: error: calibration file '{{.*}}nan.safetensors': 'fc.hessian' has a non-finite value at index 1
// NONSAMPLES: error: calibration file '{{.*}}': layer 'fc' has 'fc.hessian' but no 'fc.nsamples'
// ZERO: error: calibration file '{{.*}}': 'fc.nsamples' is 0; a layer needs at least one sample
// DTYPE: error: calibration file '{{.*}}': 'fc.hessian' must be a square F32 matrix, got F64 of rank 2
// EXTRA: error: calibration file '{{.*}}': unexpected tensor 'stray' (expected <layer>.hessian and <layer>.nsamples)
// GROUP: error: layer 'fc': group size 3 is not -1 (per-channel) or a positive divisor of the 8 input features
// BITS: error: layer 'fc': unsupported bit width 5 (expected 2, 3, 4 or 8)
// SCALE: error: scale type must be f32, f16 or bf16, got 'f8'
// REGEX: error: invalid 'layers' regular expression '(': parentheses not balanced
// REPORT: error: cannot write '{{.*}}r.json'
// NONFINITE: error: layer 'fc': the weight has a non-finite value (nan) at [1, 2] of a 2x8 matrix

func.func @f(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0.5, -0.25, 0.125, 1.0, -1.0, 0.75, 0.3, -0.6], [0.2, 0.4, 0.6, 0.1, -0.3, 0.9, -0.7, 0.05]]> : tensor<2x8xf32>
  %y = qwha.linear "fc" %x, %w : tensor<1x8xf32>, tensor<2x8xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
