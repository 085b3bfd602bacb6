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

/// Lowers a module of qwha, linalg, tensor and arith ops on tensors to the
/// LLVM dialect for the host CPU: quantized layers with constant weights to
/// packed vector kernels (unless kernels=generic), the rest of qwha to
/// linalg, bufferization with deallocation, loops, then LLVM.
void buildLowerToCPUPassPipeline(mlir::OpPassManager &pm,
                                 const LowerToCPUOptions &options);

/// Registers the named pipelines with the global registry.
void registerQWHAPipelines();

} // namespace qwha

#endif // QWHA_PIPELINES_PIPELINES_H
