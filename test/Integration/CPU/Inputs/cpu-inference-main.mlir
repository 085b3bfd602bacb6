// Appended to examples/cpu-inference/model.mlir to run @forward with
// mlir-runner on the inputs main.cpp and run.py build:
// x[b][k] = ((8 b + k) mod 7 - 3) / 4.
func.func private @printMemrefF32(tensor<*xf32>)
func.func @main() {
  %x = arith.constant dense<[[-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, -0.75],
                             [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, -0.75, -0.5],
                             [-0.25, 0.0, 0.25, 0.5, 0.75, -0.75, -0.5, -0.25]]> : tensor<3x8xf32>
  %dyn = tensor.cast %x : tensor<3x8xf32> to tensor<?x8xf32>
  %y = call @forward(%dyn) : (tensor<?x8xf32>) -> tensor<?x3xf32>
  %u = tensor.cast %y : tensor<?x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
