// RUN: qwha-opt %s -qwha-lower-calibration-taps -verify-diagnostics

// A user function that takes the runtime's name with another type.
// expected-error @+1 {{'qwha_observe_f32' is declared with the wrong type '(f32) -> ()', expected '(i64, tensor<*xf32>) -> ()'}}
func.func private @qwha_observe_f32(f32)

func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = qwha.observe "fc" %x : tensor<2xf32>
  return %0 : tensor<2xf32>
}
