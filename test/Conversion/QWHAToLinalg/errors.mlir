// RUN: qwha-opt %s -split-input-file -convert-qwha-to-linalg -verify-diagnostics

// Calibration taps run under the calibration runtime; compiling one is a
// mistake the user should hear about, not a silent identity.
func.func @observe(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'qwha.observe' op has no lowering to linalg: calibration taps are executed by the calibration runtime, not compiled; remove them before lowering}}
  %0 = qwha.observe "fc" %x : tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// A valid size whose base matrix is too large to build: H_21500 took over a
// minute and 15 GB before it was refused.
func.func @huge_base_order(%x: tensor<1x688000xf32>) -> tensor<1x688000xf32> {
  // expected-error @below {{'qwha.fwht' op has a Walsh-Hadamard transform of size 688000 = 32 x 21500, whose 21500x21500 base matrix is too large to build (the lowering builds them up to order 2048)}}
  %y = qwha.fwht %x normalized : tensor<1x688000xf32>
  return %y : tensor<1x688000xf32>
}
