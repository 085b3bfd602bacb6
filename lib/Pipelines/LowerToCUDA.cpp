//===- LowerToCUDA.cpp - The qwha-lower-to-cuda pipeline ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// From qwha layers on tensors to LLVM with embedded GPU kernels, the
// pipeline behind `qwha-compile --target=cuda`. Everything a function
// computes runs in kernels (the qwha layers' own, and simple ones for the
// rest of the model); the host side only allocates device buffers,
// launches and frees, all on one stream per call.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/Passes.h"
#include "qwha/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qwha::buildLowerToCUDAPassPipeline(OpPassManager &pm,
                                        const LowerToCUDAOptions &options) {
  if (options.cInterface)
    pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());
  // Folds qwha.linear of qwha.dequantize into qwha.qlinear first.
  pm.addPass(createCanonicalizerPass());
  ConvertQWHAToGPUOptions gpu;
  gpu.warps = options.warps;
  gpu.rowsPerWarp = options.rowsPerWarp;
  gpu.batchTile = options.batchTile;
  gpu.mmaMinBatch = options.getMmaMinBatch();
  gpu.mmaBatchTile = options.mmaBatchTile;
  pm.addPass(createConvertQWHAToGPU(gpu));
  pm.addPass(createCanonicalizerPass());
  // Elementwise chains (GELU, residual adds, a norm's scale and shift)
  // become one kernel each instead of one per op and a buffer between.
  pm.addPass(createLinalgElementwiseOpFusionPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createCanonicalizerPass());
  // The rest of the model (attention, norms, activations, embeddings) runs
  // in simple kernels of its own, in the kernel module, which also gets the
  // constant tables they read: the host's copies are then unused.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  LaunchLoopsOnGPUOptions loops;
  loops.blockSize = options.loopBlockSize;
  pm.addPass(createLaunchLoopsOnGPU(loops));
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  // Also frees what upstream's ownership-based deallocation would: it does
  // not know the memory effects of gpu.launch_func.
  pm.addPass(createPlaceBuffersOnGPU());
  // One stream per call: allocations, launches and frees in order on it,
  // one synchronization at the end (none with a borrowed stream, see
  // qwhaCudaSetStream).
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  // Packed weights and tables stay in the library's read-only data rather
  // than the PTX, which would take them as text.
  UploadKernelConstantsOptions constants;
  constants.maxEmbeddedBytes = options.maxEmbeddedConstantBytes;
  pm.addPass(createUploadKernelConstants(constants));

  LowerToNVVMOptions nvvm;
  nvvm.chip = options.chip;
  nvvm.features = options.features;
  nvvm.optLevel = options.optLevel;
  nvvm.format = options.format;
  nvvm.cudaPath = options.cudaPath;
  buildLowerToNVVMPassPipeline(pm, nvvm);
}

void qwha::registerLowerToCUDAPipeline() {
  registerPassPipeline(
      "qwha-lower-to-cuda",
      "Lower a model on tensors to GPU kernels compiled through NVVM (the "
      "qwha layers' own, simple ones for the rest) and host code that "
      "launches them on device buffers",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> emitError) {
        LowerToCUDAOptions options;
        if (failed(options.parseFromString(text)) ||
            failed(verifyLowerToCUDAOptions(options, emitError)))
          return failure();
        buildLowerToCUDAPassPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const mlir::detail::PassOptions &)> printOptions) {
        printOptions(LowerToCUDAOptions());
      });
}
