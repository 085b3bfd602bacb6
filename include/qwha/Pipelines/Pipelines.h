//===- Pipelines.h - Named QWHA pass pipelines ------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Pipelines are functions over option structs (the IREE style), registered
// by name like upstream's gpu-lower-to-nvvm-pipeline, so that a downstream
// compiler can call the builder and a user can name the pipeline.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_PIPELINES_PIPELINES_H
#define QWHA_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"
#include "mlir/Support/LogicalResult.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace qwha {

enum class CPUKernels { Packed, Generic };

/// Options of `qwha-lower-to-cpu`.
struct LowerToCPUOptions : public mlir::PassPipelineOptions<LowerToCPUOptions> {
  PassOptions::Option<bool> cInterface{
      *this, "c-interface",
      llvm::cl::desc("Emit an `_mlir_ciface_<name>` wrapper taking memref "
                     "descriptors for every function, for callers in C or "
                     "C++ and for ahead-of-time compiled libraries"),
      llvm::cl::init(false)};
  PassOptions::Option<CPUKernels> kernels{
      *this, "kernels",
      llvm::cl::desc("How quantized layers with constant weights are "
                     "lowered"),
      llvm::cl::init(CPUKernels::Packed),
      llvm::cl::values(
          clEnumValN(CPUKernels::Packed, "packed",
                     "packed weights and the vectorized kernels of "
                     "convert-qwha-to-cpu"),
          clEnumValN(CPUKernels::Generic, "generic",
                     "everything through convert-qwha-to-linalg"))};
  PassOptions::Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes per vector in the packed kernels (4, 8, 16 "
                     "or 32)"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> gemmRows{
      *this, "gemm-rows",
      llvm::cl::desc("Input rows per tile of the packed GEMM kernel"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> gemmBlocks{
      *this, "gemm-blocks",
      llvm::cl::desc("Output vectors per tile of the packed GEMM kernel"),
      llvm::cl::init(2)};
  PassOptions::Option<int64_t> gemvBlocks{
      *this, "gemv-blocks",
      llvm::cl::desc("Output vectors per tile of the packed GEMV kernel"),
      llvm::cl::init(4)};
  PassOptions::Option<int64_t> prefetchDistance{
      *this, "prefetch-distance",
      llvm::cl::desc("Bytes the packed GEMV kernel prefetches ahead of each "
                     "weight stream (0 disables)"),
      llvm::cl::init(2048)};
  PassOptions::Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("Threads of the packed kernels: above 1, output tiles "
                     "are distributed with OpenMP, and the program needs "
                     "the OpenMP runtime (libomp)"),
      llvm::cl::init(1)};
};

/// The form gpu-module-to-binary gives the kernels of `qwha-lower-to-nvvm`.
enum class NVVMBinaryFormat { Isa, Bin, Fatbin };

/// Options of `qwha-lower-to-nvvm`.
struct LowerToNVVMOptions
    : public mlir::PassPipelineOptions<LowerToNVVMOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("Target GPU: sm_<N>, optionally with the a or f suffix "
                     "(sm_90, sm_90a, sm_100f)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("NVPTX features, comma-separated, one of them the PTX "
                     "ISA version (+ptx80)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int> optLevel{
      *this, "opt-level",
      llvm::cl::desc("LLVM optimization level of the kernels (0 to 3)"),
      llvm::cl::init(2)};
  PassOptions::Option<NVVMBinaryFormat> format{
      *this, "format",
      llvm::cl::desc("What the kernels are embedded as"),
      llvm::cl::init(NVVMBinaryFormat::Fatbin),
      llvm::cl::values(
          clEnumValN(NVVMBinaryFormat::Isa, "isa",
                     "PTX text, JIT-compiled by the driver when loaded "
                     "(mgpuModuleLoadJIT); needs no CUDA toolkit, except "
                     "for libdevice when kernels call math functions"),
          clEnumValN(NVVMBinaryFormat::Bin, "bin",
                     "a cubin for `chip` (ptxas)"),
          clEnumValN(NVVMBinaryFormat::Fatbin, "fatbin",
                     "a fatbin with the cubin and the PTX (ptxas and "
                     "fatbinary)"))};
  PassOptions::Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("The CUDA toolkit, for ptxas, fatbinary and libdevice "
                     "(default: $CUDA_ROOT, $CUDA_HOME, $CUDA_PATH, the "
                     "directory above ptxas on PATH, /usr/local/cuda)"),
      llvm::cl::init("")};
};

/// Checks the options of `qwha-lower-to-nvvm` that the option parser takes
/// any string for (chip, features, opt-level); reports the first problem
/// through `emitError`.
mlir::LogicalResult verifyLowerToNVVMOptions(
    const LowerToNVVMOptions &options,
    llvm::function_ref<mlir::LogicalResult(const llvm::Twine &)> emitError);

/// The CUDA toolkit the NVVM pipelines use: `explicitPath` when given, else
/// $CUDA_ROOT, $CUDA_HOME, $CUDA_PATH, the directory above ptxas on PATH
/// (when it has nvvm/libdevice), /usr/local/cuda; empty when none is found.
std::string findCUDAToolkit(llvm::StringRef explicitPath = {});

/// Lowers a module whose kernels are gpu.funcs in gpu.modules (or
/// gpu.launch bodies, which are outlined), launched from func.funcs on the
/// host, to the LLVM dialect with the kernels compiled through NVVM and
/// embedded as a gpu.binary: upstream's gpu-lower-to-nvvm-pipeline with
/// QWHA's defaults, libdevice linked from the toolkit findCUDAToolkit
/// finds. The host code calls the mgpu* functions of
/// libqwha_cuda_runtime.so.
void buildLowerToNVVMPassPipeline(mlir::OpPassManager &pm,
                                  const LowerToNVVMOptions &options);

/// Options of `qwha-lower-to-cuda`: the NVVM target of qwha-lower-to-nvvm
/// and the kernel shapes of convert-qwha-to-gpu.
struct LowerToCUDAOptions
    : public mlir::PassPipelineOptions<LowerToCUDAOptions> {
  PassOptions::Option<bool> cInterface{
      *this, "c-interface",
      llvm::cl::desc("Emit an `_mlir_ciface_<name>` wrapper taking memref "
                     "descriptors (of device memory) for every function"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Target GPU, as for qwha-lower-to-nvvm"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("NVPTX features, as for qwha-lower-to-nvvm"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int> optLevel{
      *this, "opt-level",
      llvm::cl::desc("LLVM optimization level of the kernels (0 to 3)"),
      llvm::cl::init(3)};
  PassOptions::Option<NVVMBinaryFormat> format{
      *this, "format", llvm::cl::desc("What the kernels are embedded as"),
      llvm::cl::init(NVVMBinaryFormat::Fatbin),
      llvm::cl::values(
          clEnumValN(NVVMBinaryFormat::Isa, "isa", "PTX text"),
          clEnumValN(NVVMBinaryFormat::Bin, "bin", "a cubin for `chip`"),
          clEnumValN(NVVMBinaryFormat::Fatbin, "fatbin",
                     "a fatbin with the cubin and the PTX"))};
  PassOptions::Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("The CUDA toolkit, as for qwha-lower-to-nvvm"),
      llvm::cl::init("")};
  PassOptions::Option<int64_t> warps{
      *this, "warps",
      llvm::cl::desc("Warps per block of the row kernels (1 to 32)"),
      llvm::cl::init(4)};
  PassOptions::Option<int64_t> rowsPerWarp{
      *this, "rows-per-warp",
      llvm::cl::desc("Output rows each warp computes (1 to 8)"),
      llvm::cl::init(2)};
  PassOptions::Option<int64_t> batchTile{
      *this, "batch-tile",
      llvm::cl::desc("Input rows each warp computes at most (1 to 16)"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> mmaMinBatch{
      *this, "mma-min-batch",
      llvm::cl::desc("Batches of at least this many rows use the tensor-core "
                     "kernels (0: never; -1: 17 on sm_80 and newer, never "
                     "below)"),
      llvm::cl::init(kAutoMmaMinBatch)};
  PassOptions::Option<int64_t> mmaBatchTile{
      *this, "mma-batch-tile",
      llvm::cl::desc("Input rows per block of the tensor-core kernels (8 to "
                     "64, a multiple of 8)"),
      llvm::cl::init(32)};
  PassOptions::Option<int64_t> loopBlockSize{
      *this, "loop-block-size",
      llvm::cl::desc("Threads per block of the kernels that run the rest of "
                     "a model (attention, norms, activations; "
                     "qwha-launch-loops-on-gpu)"),
      llvm::cl::init(256)};
  PassOptions::Option<int64_t> maxEmbeddedConstantBytes{
      *this, "max-embedded-constant-bytes",
      llvm::cl::desc("Kernel constants (packed weights, tables) of more "
                     "bytes stay in the host library and are copied to "
                     "the GPU when it is loaded instead of being compiled "
                     "into the kernel image (qwha-upload-kernel-constants)"),
      llvm::cl::init(4096)};

  /// mma-min-batch's default: chosen from the chip.
  static constexpr int64_t kAutoMmaMinBatch = -1;
  /// The threshold the tensor-core kernels get on chips that have TF32
  /// mma.sync: the warp-per-rows kernels serve batches 1 to 16.
  static constexpr int64_t kDefaultMmaMinBatch = 17;
  /// mma-min-batch with the default resolved for `chip`.
  int64_t getMmaMinBatch() const;
};

/// Checks chip, features and opt-level of qwha-lower-to-cuda as
/// verifyLowerToNVVMOptions does, and that tensor-core kernels are asked
/// for only on chips that have them (sm_80 and newer).
mlir::LogicalResult verifyLowerToCUDAOptions(
    const LowerToCUDAOptions &options,
    llvm::function_ref<mlir::LogicalResult(const llvm::Twine &)> emitError);

/// Lowers a model on tensors for NVIDIA GPUs: kernels and launches for the
/// qwha layers (convert-qwha-to-gpu), elementwise fusion, bufferization,
/// the rest of the model (linalg: attention, norms, activations) as
/// parallel-loop kernels (qwha-launch-loops-on-gpu), every host buffer in
/// device memory with deallocation (qwha-place-buffers-on-gpu), the
/// launches of a call on one stream (gpu-async-region), then
/// qwha-lower-to-nvvm. The functions take and return device memory; the
/// host code calls libqwha_cuda_runtime.so.
void buildLowerToCUDAPassPipeline(mlir::OpPassManager &pm,
                                  const LowerToCUDAOptions &options);

/// Lowers a module of qwha, linalg, tensor and arith ops on tensors to the
/// LLVM dialect for the host CPU: quantized layers with constant weights to
/// packed vector kernels (unless kernels=generic), the rest of qwha to
/// linalg, bufferization with deallocation, loops, then LLVM.
void buildLowerToCPUPassPipeline(mlir::OpPassManager &pm,
                                 const LowerToCPUOptions &options);

/// Registers `qwha-lower-to-nvvm` (registerQWHAPipelines does too).
void registerLowerToNVVMPipeline();

/// Registers `qwha-lower-to-cuda` (registerQWHAPipelines does too).
void registerLowerToCUDAPipeline();

/// Registers the named pipelines with the global registry.
void registerQWHAPipelines();

} // namespace qwha

#endif // QWHA_PIPELINES_PIPELINES_H
