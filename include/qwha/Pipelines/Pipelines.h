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

/// Options of `qwha-lower-to-cpu`.
struct LowerToCPUOptions : public mlir::PassPipelineOptions<LowerToCPUOptions> {
  PassOptions::Option<bool> cInterface{
      *this, "c-interface",
      llvm::cl::desc("Emit an `_mlir_ciface_<name>` wrapper taking memref "
                     "descriptors for every function, for callers in C or "
                     "C++ and for ahead-of-time compiled libraries"),
      llvm::cl::init(false)};
};

/// Lowers a module of qwha, linalg, tensor and arith ops on tensors to the
/// LLVM dialect for the host CPU: qwha -> linalg, bufferization with
/// deallocation, loops, then LLVM.
void buildLowerToCPUPassPipeline(mlir::OpPassManager &pm,
                                 const LowerToCPUOptions &options);

/// Registers the named pipelines with the global registry.
void registerQWHAPipelines();

} // namespace qwha

#endif // QWHA_PIPELINES_PIPELINES_H
