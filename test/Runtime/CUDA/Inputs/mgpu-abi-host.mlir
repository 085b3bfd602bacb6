// Host code that exercises every mgpu* function gpu-to-llvm and the gpu.binary
// translation emit: launches with and without clusters, streams, events (two
// streams joined), allocation (device and host_shared), copies, 32- and 16-bit
// memsets, host registration and the default device.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%buf: memref<?xf32>, %s: f32) kernel {
      %tid = gpu.thread_id x
      %v = memref.load %buf[%tid] : memref<?xf32>
      %r = arith.mulf %v, %s : f32
      memref.store %r, %buf[%tid] : memref<?xf32>
      gpu.return
    }
  }

  func.func @memory(%h: memref<?xf32>, %n: index, %s: f32, %f: f32,
                    %half: f16) {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : i32
    gpu.set_default_device %c2
    %hu = memref.cast %h : memref<?xf32> to memref<*xf32>
    gpu.host_register %hu : memref<*xf32>
    %t0 = gpu.wait async
    %d, %t1 = gpu.alloc async [%t0] (%n) : memref<?xf32>
    %t2 = gpu.memcpy async [%t1] %d, %h : memref<?xf32>, memref<?xf32>
    %t3 = gpu.memset async [%t2] %d, %f : memref<?xf32>, f32
    %d16, %t4 = gpu.alloc async [%t3] (%n) : memref<?xf16>
    %t5 = gpu.memset async [%t4] %d16, %half : memref<?xf16>, f16
    %t6 = gpu.launch_func async [%t5] @kernels::@scale
        blocks in (%c1, %c1, %c1) threads in (%n, %c1, %c1)
        args(%d : memref<?xf32>, %s : f32)
    %t7 = gpu.dealloc async [%t6] %d : memref<?xf32>
    %t8 = gpu.dealloc async [%t7] %d16 : memref<?xf16>
    gpu.wait [%t8]
    %shared = gpu.alloc host_shared (%n) : memref<?xf32>
    %t9 = gpu.wait async
    %t10 = gpu.dealloc async [%t9] %shared : memref<?xf32>
    gpu.wait [%t10]
    gpu.host_unregister %hu : memref<*xf32>
    return
  }

  func.func @events_and_clusters(%n: index, %s: f32) {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %a = gpu.wait async
    %b = gpu.wait async
    %da, %ta = gpu.alloc async [%a] (%n) : memref<?xf32>
    %db, %tb = gpu.alloc async [%b] (%n) : memref<?xf32>
    %joined = gpu.wait async [%ta, %tb]
    %t1 = gpu.launch_func async [%joined] @kernels::@scale
        clusters in (%c2, %c1, %c1) blocks in (%c2, %c1, %c1)
        threads in (%n, %c1, %c1) args(%da : memref<?xf32>, %s : f32)
    %t2 = gpu.dealloc async [%t1] %da : memref<?xf32>
    %t3 = gpu.dealloc async [%t2] %db : memref<?xf32>
    gpu.wait [%t3]
    return
  }
}
