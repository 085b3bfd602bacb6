// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/calib.safetensors good enc.fc1:16 enc.fc2:8
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/fc1.safetensors good enc.fc1:16
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/wide.safetensors good enc.fc1:16 enc.fc2:16
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors group-size=-1" -o %t/nofloat.mlir
// RUN: qwha-opt %S/Inputs/layers.mlir -qwha-gptq="calibration=%t/calib.safetensors group-size=-1 keep-float-weight" -o %t/q.mlir
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors selection=best" 2>&1 | FileCheck %s --check-prefix=SELECTION
// RUN: not qwha-opt %t/nofloat.mlir -qwha-wha-init="calibration=%t/calib.safetensors" 2>&1 | FileCheck %s --check-prefix=NOFLOAT
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/fc1.safetensors" 2>&1 | FileCheck %s --check-prefix=NOSTATS
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/wide.safetensors" 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors rank=0" 2>&1 | FileCheck %s --check-prefix=RANK
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors layers=(" 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: not qwha-opt %t/q.mlir -qwha-wha-init="calibration=%t/calib.safetensors export=%t/no/dir/a.safetensors" 2>&1 | FileCheck %s --check-prefix=EXPORT
// RUN: %python %S/Inputs/make_calibration.py %qwha_src_root/test/lib %t/six.safetensors good enc.fc1:6
// RUN: not qwha-opt %s -qwha-wha-init="calibration=%t/six.safetensors" 2>&1 | FileCheck %s --check-prefix=SIZE

// NOFILE: error: qwha-wha-init needs calibration statistics: pass calibration=<file> (see qwha-calibrate)
// SELECTION: error: selection must be magnitude or random, got 'best'
// NOFLOAT: error: layer 'enc.fc1' has no float weight to measure its quantization error: quantize it with keep-float-weight=true
// NOSTATS: error: layer 'enc.fc2' has no calibration statistics in '{{.*}}fc1.safetensors'
// WIDTH: error: layer 'enc.fc2' has 8 input features but its calibration statistics have 16
// RANK: error: layer 'enc.fc1': rank must be positive, alloc power >= 0, damp in [0, 1) and the damp increment positive
// REGEX: error: invalid 'layers' regular expression '(': parentheses not balanced
// EXPORT: error: cannot write '{{.*}}a.safetensors'
// SIZE: error: layer 'enc.fc1': no Hadamard matrix of order 6

// Six input features: no Walsh-Hadamard transform of that size.
func.func @f(%x: tensor<1x6xf32>) -> tensor<1x4xf32> {
  %c = arith.constant dense<3> : tensor<4x6xi4>
  %s = arith.constant dense<0.25> : tensor<4x1xf32>
  %z = arith.constant dense<8> : tensor<4x1xi4>
  %y = qwha.qlinear "enc.fc1" %x, %c, %s, %z group_size -1 {qwha.float_weight = dense<0.1> : tensor<4x6xf32>} : tensor<1x6xf32>, tensor<4x6xi4>, tensor<4x1xf32>, tensor<4x1xi4> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
