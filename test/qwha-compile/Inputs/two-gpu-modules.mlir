// A module with a GPU kernel module of its own beside the one the qwha layers
// get: two gpu.binary ops after qwha-lower-to-cuda.
module attributes {gpu.container_module} {
  gpu.module @mine {
    gpu.func @scale(%buf: memref<4xf32>) kernel {
      %tid = gpu.thread_id x
      %v = memref.load %buf[%tid] : memref<4xf32>
      %r = arith.addf %v, %v : f32
      memref.store %r, %buf[%tid] : memref<4xf32>
      gpu.return
    }
  }
  func.func @forward(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
    %y = qwha.fwht %x normalized : tensor<1x64xf32>
    return %y : tensor<1x64xf32>
  }
  func.func private @other(%buf: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @mine::@scale blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%buf : memref<4xf32>)
    return
  }
}
