// RUN: qwha-opt %s -split-input-file -convert-qwha-to-linalg -verify-diagnostics

// Calibration taps run under the calibration runtime; compiling one is a
// mistake the user should hear about, not a silent identity.
func.func @observe(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'qwha.observe' op has no lowering to linalg: calibration taps are executed by the calibration runtime, not compiled; remove them before lowering}}
  %0 = qwha.observe "fc" %x : tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}
