//===- Passes.td - QWHA conversion passes ------------------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_PASSES_TD
#define QWHA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQWHAToLinalg : Pass<"convert-qwha-to-linalg"> {
  let summary = "Lower qwha ops to linalg, tensor and arith on tensors";
  let description = [{
    The generic, target-independent lowering: correct for every op and
    shape, written so that other compilers can take the result and fuse it.

    * `qwha.linear` becomes a `linalg.generic` contraction
      `y[..., n] += x[..., k] * w[n, k]` into a zero-filled tensor.
    * `qwha.dequantize` becomes one `linalg.generic` over the integer codes
      whose body only extends, converts to float, subtracts the zero point
      and multiplies by the scale, the dequantization shape IREE's dispatch
      formation fuses into the consuming matmul. Codes are grouped as
      `[N, G, group]` by a `tensor.expand_shape`, so scales and zeros are
      indexed by projections. With a `g_idx` (act-order) the scale and zero
      are gathered by `tensor.extract` instead.
    * `qwha.qlinear` becomes `qwha.linear` of a `qwha.dequantize`, both
      lowered as above.
    * `qwha.fwht` becomes a chain of small contractions: the input is viewed
      as `[..., 16, ..., 16, m]` and each factor of
      `H_d = H_16 (x) ... (x) H_m` is applied along its own axis, which costs
      O(d (log d + m)) per row; the 1/sqrt(d) of a normalized transform is
      folded into one factor.
    * `qwha.sparse_linear` becomes a `linalg.generic` over the output whose
      body loops over the row's stored entries.
    * `qwha.qlinear_wha` becomes the sum of its quantized layer and its
      adapter applied to the normalized transform of the input.

    `qwha.observe` has no lowering here: calibration runs instrument the
    graph with a runtime library instead, so it is reported as an error.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect",
    "mlir::linalg::LinalgDialect",
    "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect",
  ];
}

def ConvertQWHAToCPU : Pass<"convert-qwha-to-cpu", "mlir::ModuleOp"> {
  let summary = "Lower quantized layers and adapters to packed, vectorized "
                "CPU kernels";
  let description = [{
    The fast CPU lowering of `qwha.qlinear`, `qwha.fwht`,
    `qwha.sparse_linear` and `qwha.qlinear_wha` (split into the other three,
    with one transform kept for layers that read the same input). A
    `qwha.dequantize` feeding a `qwha.linear` is folded into a `qwha.qlinear`
    by canonicalization first, so its dequantization is fused into the
    kernel too.

    For each layer whose codes, scales, zero points and group index are
    constants, the weight is packed at compile time in the layout of
    `qwha/Quant/CpuPacking.h` (output rows in vector lanes; codes packed 2,
    3, 4 or 8 bits into 32-bit words along the input; groups made
    contiguous; scales and zero points folded for codes that are unpacked
    into float mantissas) into `memref.global`s, and the op becomes a call
    of a kernel function generated with the vector dialect:

    * the rows of the input are gathered (act-order permutation, group
      padding) into a workspace, a tile at a time;
    * tiles of `gemm-rows` input rows (then halves of it, down to 2) use the
      GEMM kernel: each loaded weight vector is unpacked and dequantized
      once into registers and multiplied into `gemm-rows x gemm-blocks`
      accumulators (compute bound);
    * single rows (batch 1, and the last odd row) use the GEMV kernel:
      codes are multiplied by the input without dequantizing, per group,
      and scales and zero points are applied once per group through the
      group sums of the input (bandwidth bound: one pass over the packed
      weight, `gemv-blocks` streams at a time, `prefetch-distance` bytes
      prefetched ahead of each).

    Float layers (`qwha.linear` with a constant weight and an f32 input)
    take the same kernels with the weight stored as 32-bit "codes" that are
    float bits (one column per chunk, scale 1, offset 0), so that a float
    model compiled by this pipeline is a fair baseline for its quantized
    versions.

    `qwha.fwht` on f32 becomes a kernel of vectorized butterflies (and an
    H_m product for sizes 2^n m); `qwha.sparse_linear` with a constant CSR
    matrix becomes a kernel that puts tiles of input rows in the vector lanes
    and gathers for the rest. Sparse matrices are validated first (offsets
    from 0, non-decreasing, ending at the entry count; columns in range).

    Ops this pass does not handle (non-constant weights, element types other
    than f32) are left for `convert-qwha-to-linalg`; `explain-fallbacks`
    reports each with the reason.

    Kernels are shared by layers with the same shapes; they read their
    weights through arguments.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector: output rows computed together (4, 8, 16 "
           "or 32; 16 fills an AVX-512 register, 8 an AVX2 one)">,
    Option<"gemmRows", "gemm-rows", "int64_t", /*default=*/"8",
           "Input rows per GEMM tile (1 uses the GEMV kernel for every row)">,
    Option<"gemmBlocks", "gemm-blocks", "int64_t", /*default=*/"2",
           "Output vectors per GEMM tile">,
    Option<"gemvBlocks", "gemv-blocks", "int64_t", /*default=*/"4",
           "Output vectors (weight streams) per GEMV tile">,
    Option<"prefetchDistance", "prefetch-distance", "int64_t",
           /*default=*/"2048",
           "Bytes ahead of each weight stream the GEMV kernel prefetches "
           "(a multiple of 64; 0 disables)">,
    Option<"threads", "threads", "int64_t", /*default=*/"1",
           "Above 1, the kernels' output tiles form an scf.parallel loop "
           "(lowered to OpenMP by qwha-lower-to-cpu)">,
    Option<"explainFallbacks", "explain-fallbacks", "bool",
           /*default=*/"false",
           "Emit a remark for every quantized layer left to the generic "
           "lowering, saying why">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect",
    "mlir::bufferization::BufferizationDialect",
    "mlir::func::FuncDialect",
    "mlir::LLVM::LLVMDialect",
    "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect",
    "mlir::vector::VectorDialect",
  ];
}

def ConvertQWHAToGPU : Pass<"convert-qwha-to-gpu", "mlir::ModuleOp"> {
  let summary = "Lower quantized layers, adapters and transforms to gpu.func "
                "kernels launched from the host function";
  let description = [{
    The CUDA lowering of `qwha.qlinear`, `qwha.linear`, `qwha.fwht`,
    `qwha.sparse_linear` and `qwha.qlinear_wha`. Kernels are built as
    `gpu.func`s in one `gpu.module @qwha_kernels` (the module becomes a
    `gpu.container_module`) and each op becomes a `gpu.launch_func` on
    buffers, handed over from tensors as in `convert-qwha-to-cpu`: the input
    by a read-only `bufferization.to_buffer`, the output a fresh
    `memref.alloc` returned by a restrict `bufferization.to_tensor`.
    `qwha-place-buffers-on-gpu` later moves those buffers to the device.

    Each layer's weight is packed at compile time in the layout of
    `qwha/Quant/GpuPacking.h` into constant `memref.global`s of the kernel
    module (global address space): they are loaded onto the device with the
    module, once, and the kernel that reads them is the layer's own.

    * quantized and float layers: a warp-per-rows GEMV (`rows-per-warp`
      output rows, `batch-tile` input rows per warp) streaming the packed
      codes with 128-bit loads, dequantizing in registers and reducing
      across the warp with shuffles; act-order weights read their input
      through a column map;
    * the same layers at batches of `mma-min-batch` rows or more: the
      weight dequantized chunk by chunk into shared memory and multiplied
      on the tensor cores (`nvgpu.mma.sync` m16n8k8, TF32 operands, f32
      accumulators), the adapter densified chunk by chunk into the same
      accumulators;
    * `qwha.fwht`: one block per row in shared memory, warp-shuffle
      butterflies for the first five stages, H_m while loading for sizes
      `2^n * m`;
    * `qwha.qlinear_wha`: the transform is computed once per input row (and
      once for layers reading the same value), and the adapter's entries of
      each output row are summed by the warp that computes the row;
    * `qwha.sparse_linear`: the adapter part alone.

    There is no fallback: an op whose weights are not constants, whose
    element type is not f32, or whose transform does not fit in shared
    memory is an error naming the layer, as is any other qwha op
    (`qwha.dequantize` not folded into a layer, `qwha.observe`).
  }];
  let options = [
    Option<"warps", "warps", "int64_t", /*default=*/"4",
           "Warps per block of the row kernels (1 to 32)">,
    Option<"rowsPerWarp", "rows-per-warp", "int64_t", /*default=*/"2",
           "Output rows each warp computes (1 to 8)">,
    Option<"batchTile", "batch-tile", "int64_t", /*default=*/"8",
           "Input rows each warp computes at most (1 to 16): a layer whose "
           "static batch is smaller uses that, a dynamic batch 4">,
    Option<"mmaMinBatch", "mma-min-batch", "int64_t", /*default=*/"0",
           "Batches of at least this many input rows use the tensor-core "
           "path (mma.sync, TF32; sm_80 or newer); 0 never. A dynamic batch "
           "branches at run time">,
    Option<"mmaBatchTile", "mma-batch-tile", "int64_t", /*default=*/"32",
           "Input rows per block on the tensor-core path (8 to 64, a "
           "multiple of 8)">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect",
    "mlir::bufferization::BufferizationDialect",
    "mlir::gpu::GPUDialect",
    "mlir::memref::MemRefDialect",
    "mlir::NVVM::NVVMDialect",
    "mlir::nvgpu::NVGPUDialect",
    "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect",
    "mlir::vector::VectorDialect",
  ];
}

def PlaceBuffersOnGPU : Pass<"qwha-place-buffers-on-gpu", "mlir::ModuleOp"> {
  let summary = "Allocate the host functions' buffers in device memory";
  let description = [{
    Runs after bufferization of a module whose compute ops are all GPU
    launches (`convert-qwha-to-gpu`, `qwha-launch-loops-on-gpu`; the body
    of a `gpu.launch` is left alone): the host functions' arguments and
    results are device memory, so every `memref.alloc` becomes a
    `gpu.alloc`, every `memref.dealloc` a `gpu.dealloc` and every
    `memref.copy` a `gpu.memcpy`. A buffer allocated here that is not
    returned (through any view of it) is freed after its last use in its
    block: upstream's ownership-based deallocation cannot run on these
    functions, as it rejects `gpu.launch_func`, whose memory effects are
    unknown. Allocations in nested regions are an error, as are functions
    with more than one block. Any other host op that reads or writes a
    buffer (a `linalg` op, a `memref.load`, a constant tensor's global)
    would dereference a device pointer on the host: it is an error naming
    the op, not a crash at run time.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def LaunchLoopsOnGPU : Pass<"qwha-launch-loops-on-gpu", "mlir::ModuleOp"> {
  let summary = "Run the parallel loops of host functions as GPU kernels";
  let description = [{
    Runs after bufferization and `convert-linalg-to-parallel-loops` in the
    CUDA pipeline, so that whole models run on the GPU and not only their
    qwha layers: the generic lowering of attention, norms, activations,
    embeddings and residual adds leaves `scf.parallel` loops on buffers in
    the host functions, whose buffers are device memory. Each outermost
    loop becomes one `gpu.launch`: its dimensions are collapsed into one
    (the last fastest, so that neighbouring threads touch neighbouring
    elements), tiled by `block-size`, the tiles mapped to blocks and the
    iterations to threads; nested parallel loops and the reduction loops
    inside run sequentially in each thread, their accumulators carried in
    registers (linalg's loops reduce through memory, a global round trip
    per iteration on a GPU). An iteration that is one reduction of at
    least 32 elements with an associative, commutative combiner (a norm's
    statistics, a softmax's maximum and sum, a dot product) gets a warp:
    the lanes take every 32nd element and combine by shuffles. A host
    `scf.for` that reaches memory (a linalg op without parallel
    dimensions) runs in one thread.
    The constant globals a kernel reads are referenced inside it, so that
    outlining copies them into the kernel's module, in device memory. A
    constant global the host returns or passes to a call (directly or
    through a view) gets a device buffer of its own, filled by a copy
    kernel, for the host's uses: its caller cannot read host memory and
    owns what it is returned.

    These kernels are correct, not tuned: no shared-memory tiling, and
    fusion is left to the pipeline (`linalg-fuse-elementwise-ops` before
    bufferization). The qwha layers keep their own kernels
    (`convert-qwha-to-gpu`). A parallel loop with reductions (results) is
    an error naming the loop.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block (a multiple of 32, at most 1024)">,
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect",
    "mlir::scf::SCFDialect",
    "mlir::arith::ArithDialect",
    "mlir::affine::AffineDialect",
  ];
}

def UploadKernelConstants
    : Pass<"qwha-upload-kernel-constants", "mlir::ModuleOp"> {
  let summary = "Keep large kernel constants in the host library and upload "
                "them to device memory when the library is loaded";
  let description = [{
    Runs on a module whose kernels are outlined into `gpu.module`s and
    launched with `gpu.launch_func` from host functions (the CUDA pipeline,
    after `qwha-launch-loops-on-gpu`). A constant `memref.global` of a
    kernel module is compiled into the kernel image: `gpu-module-to-binary`
    writes it as PTX text and assembles it, which for a model's packed
    weights and embedding tables is most of the compile time and twice the
    library's size, and does not scale to billions of weights.

    Each constant global of a kernel module larger than
    `max-embedded-bytes`, read only by kernels, moves instead to a host
    `memref.global` (the library's read-only data). The kernels reading it
    take it as a new trailing argument: a bare `!llvm.ptr` marked
    `llvm.noalias`, `llvm.readonly` and `llvm.align = 16` (the GPU lowering
    drops `llvm.noalias` from memref arguments; with it the loads go
    through the non-coherent cache, `ld.global.nc`, as reads of a constant
    global did), viewed as the global through a static memref descriptor.
    A constructor of the library (`llvm.mlir.global_ctors`, priority 124,
    after the module load of `gpu-to-llvm` at 123) calls the runtime's
    `qwhaCudaDeviceConstant(slot, host data, bytes)` for each: it
    allocates device memory, copies the data into it and keeps the pointer
    in `slot` (a private pointer global of the host module). Each host
    function that launches the kernels gets, at its entry, the device copy
    from the same call, which returns the kept pointer (and uploads only if
    the copy at load failed): calls make no copies, so any call may be
    captured into a CUDA graph. A destructor of the library frees the copies
    (`qwhaCudaReleaseDeviceConstant`), as the module-unload destructor of
    `gpu-to-llvm` frees the kernels. This is how IREE keeps constants: in
    the host program's read-only data, uploaded once.

    The kernels' descriptors are built in the LLVM dialect and cast to
    memrefs with `builtin.unrealized_conversion_cast`, which the NVVM
    lowering folds (with the index width of the kernel module's data
    layout, as `convert-gpu-to-nvvm` derives it). The module's own
    `llvm.mlir.global_dtors` are kept after the new destructor.

    Stays in the kernel image: a public global (the driver may look it up
    by name); one outside global memory; one that is not a static,
    identity-layout memref of integers or floats of up to 8, 16, 32 or 64
    bits (host and device pad other widths differently); one that a
    non-kernel function reads, or a kernel not launched from a `func.func`
    of the module (no entry to get the copy at, or no launch to pass it).
    A symbol with the name of a runtime function and another type is an
    error, reported before anything changes.
  }];
  let options = [
    Option<"maxEmbeddedBytes", "max-embedded-bytes", "int64_t",
           /*default=*/"4096",
           "Kernel constants of at most this many bytes stay in the kernel "
           "image (0 moves all of them)">,
  ];
  let dependentDialects = [
    "mlir::LLVM::LLVMDialect",
    "mlir::arith::ArithDialect",
    "mlir::memref::MemRefDialect",
  ];
}

#endif // QWHA_CONVERSION_PASSES_TD
