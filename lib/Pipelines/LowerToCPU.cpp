//===- LowerToCPU.cpp - The qwha-lower-to-cpu pipeline --------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/Passes.h"
#include "qwha/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void qwha::buildLowerToCPUPassPipeline(OpPassManager &pm,
                                       const LowerToCPUOptions &options) {
  // C wrappers for the module's own functions only, not for the kernels
  // the lowering adds.
  if (options.cInterface)
    pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());
  // Canonicalization folds qwha.linear of qwha.dequantize into
  // qwha.qlinear, so that the kernels fuse the dequantization.
  pm.addPass(createCanonicalizerPass());
  if (options.kernels == CPUKernels::Packed) {
    ConvertQWHAToCPUOptions cpu;
    cpu.vectorWidth = options.vectorWidth;
    cpu.gemmRows = options.gemmRows;
    cpu.gemmBlocks = options.gemmBlocks;
    cpu.gemvBlocks = options.gemvBlocks;
    cpu.prefetchDistance = options.prefetchDistance;
    cpu.threads = options.threads;
    pm.addPass(createConvertQWHAToCPU(cpu));
  }
  pm.addPass(createConvertQWHAToLinalg());
  pm.addPass(createCanonicalizerPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());

  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  if (options.threads > 1) {
    ConvertSCFToOpenMPPassOptions openmp;
    openmp.numThreads = options.threads;
    pm.addPass(createConvertSCFToOpenMPPass(openmp));
    // The loop bodies come wrapped in memref.alloca_scope, single-block
    // regions that scf-to-cf cannot lower into; ours allocate nothing, and
    // canonicalization inlines them.
    pm.addPass(createCanonicalizerPass());
  }
  pm.addPass(createSCFToControlFlowPass());
  // Math functions LLVM has no intrinsic for (erf in GELU, tanh) become
  // libm calls (qwha-compile links libm; the JIT finds it in process). The
  // others go to LLVM first: math-to-libm would also turn rsqrt into a call
  // of `rsqrtf`, which libm does not have.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // The kernels' horizontal sums may be reassociated into a tree: they
  // already reorder the sums of the generic lowering.
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  if (options.threads > 1)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void qwha::registerQWHAPipelines() {
  PassPipelineRegistration<LowerToCPUOptions>(
      "qwha-lower-to-cpu",
      "Lower qwha, linalg and tensor ops to the LLVM dialect for the host CPU "
      "(generic lowering: qwha -> linalg -> bufferized loops -> LLVM)",
      buildLowerToCPUPassPipeline);
  registerLowerToNVVMPipeline();
  registerLowerToCUDAPipeline();
}
