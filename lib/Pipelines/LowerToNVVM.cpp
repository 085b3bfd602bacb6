//===- LowerToNVVM.cpp - The qwha-lower-to-nvvm pipeline ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Upstream's gpu-lower-to-nvvm-pipeline with QWHA's option names and
// defaults, the CUDA toolkit found rather than left to environment
// variables, and checks of the options upstream passes through unchecked
// to the NVPTX backend (where a bad chip is a warning and a bad feature
// string a late failure).
//
//===----------------------------------------------------------------------===//

#include "qwha/Pipelines/Pipelines.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/OptimizeForNVVM.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"

#include <cstdlib>

using namespace mlir;

/// The checks of both pipelines' target options.
static LogicalResult
verifyNVVMTarget(StringRef pipeline, StringRef chip, StringRef featureList,
                 int optLevel, StringRef cudaPath,
                 llvm::function_ref<LogicalResult(const Twine &)> emitError) {
  // Upstream reports a missing toolkit as an error but goes on for PTX.
  if (!cudaPath.empty() && !llvm::sys::fs::is_directory(cudaPath))
    return emitError(pipeline + ": cuda-path '" + cudaPath +
                     "' is not a directory");
  if (!llvm::Regex("^sm_[1-9][0-9]+[af]?$").match(chip))
    return emitError(pipeline + ": chip '" + chip +
                     "' is not of the form sm_<N>[a|f] (e.g. sm_90, "
                     "sm_90a)");
  SmallVector<StringRef> features;
  featureList.split(features, ',');
  bool ptx = false;
  for (StringRef feature : features) {
    if (!llvm::Regex("^[+-][A-Za-z0-9_.]+$").match(feature))
      return emitError(pipeline + ": feature '" + feature +
                       "' is not +<name> or -<name>");
    ptx |= llvm::Regex("^\\+ptx[1-9][0-9]+$").match(feature);
  }
  if (!ptx)
    return emitError(pipeline + ": features '" + featureList +
                     "' name no PTX ISA version (e.g. +ptx80)");
  if (optLevel < 0 || optLevel > 3)
    return emitError(pipeline + ": opt-level " + Twine(optLevel) +
                     " is not 0, 1, 2 or 3");
  return success();
}

LogicalResult qwha::verifyLowerToNVVMOptions(
    const LowerToNVVMOptions &options,
    llvm::function_ref<LogicalResult(const Twine &)> emitError) {
  return verifyNVVMTarget("qwha-lower-to-nvvm", options.chip,
                          options.features, options.optLevel,
                          options.cudaPath, emitError);
}

/// The compute capability of `chip` (sm_90a: 90), which verifyNVVMTarget
/// has checked.
static int64_t getComputeCapability(StringRef chip) {
  int64_t capability = 0;
  chip.drop_front(3).take_while(llvm::isDigit).getAsInteger(10, capability);
  return capability;
}

int64_t qwha::LowerToCUDAOptions::getMmaMinBatch() const {
  if (mmaMinBatch != kAutoMmaMinBatch)
    return mmaMinBatch;
  return getComputeCapability(chip) >= 80 ? kDefaultMmaMinBatch : 0;
}

LogicalResult qwha::verifyLowerToCUDAOptions(
    const LowerToCUDAOptions &options,
    llvm::function_ref<LogicalResult(const Twine &)> emitError) {
  if (failed(verifyNVVMTarget("qwha-lower-to-cuda", options.chip,
                              options.features, options.optLevel,
                              options.cudaPath, emitError)))
    return failure();
  if (options.mmaMinBatch < LowerToCUDAOptions::kAutoMmaMinBatch)
    return emitError("qwha-lower-to-cuda: mma-min-batch must be -1 (chosen "
                     "from the chip), 0 (never) or a batch size, got " +
                     Twine(options.mmaMinBatch));
  if (options.mmaMinBatch > 0 &&
      getComputeCapability(options.chip) < 80)
    return emitError("qwha-lower-to-cuda: mma-min-batch=" +
                     Twine(options.mmaMinBatch) +
                     " asks for the tensor-core kernels, which need TF32 "
                     "mma.sync (sm_80 or newer); chip is " +
                     options.chip);
  if (options.loopBlockSize < 32 || options.loopBlockSize > 1024 ||
      options.loopBlockSize % 32 != 0)
    return emitError("qwha-lower-to-cuda: loop-block-size must be a multiple "
                     "of 32 between 32 and 1024, got " +
                     Twine(options.loopBlockSize));
  if (options.maxEmbeddedConstantBytes < 0)
    return emitError("qwha-lower-to-cuda: max-embedded-constant-bytes must "
                     "not be negative, got " +
                     Twine(options.maxEmbeddedConstantBytes));
  return success();
}

std::string qwha::findCUDAToolkit(StringRef explicitPath) {
  if (!explicitPath.empty())
    return explicitPath.str();
  // Upstream's getCUDAToolkitPath() order, then where ptxas is, then the
  // usual install directory; Debian's MLIR records no toolkit of its own.
  for (const char *variable : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(variable); value && *value)
      return value;
  if (llvm::ErrorOr<std::string> ptxas =
          llvm::sys::findProgramByName("ptxas")) {
    SmallString<256> root(*ptxas);
    llvm::sys::path::remove_filename(root); // bin/
    llvm::sys::path::remove_filename(root);
    if (llvm::sys::fs::exists(root + "/nvvm/libdevice"))
      return root.str().str();
  }
  if (llvm::sys::fs::is_directory("/usr/local/cuda"))
    return "/usr/local/cuda";
  return "";
}

void qwha::buildLowerToNVVMPassPipeline(OpPassManager &pm,
                                        const LowerToNVVMOptions &options) {
  // Upstream's gpu-lower-to-nvvm-pipeline (GPUToNVVMPipeline.cpp), step for
  // step, except that gpu-module-to-binary is given the CUDA toolkit: it
  // links libdevice (the kernels' exp, erf, rsqrt) from there, and upstream
  // would only look at environment variables, leaving calls to __nv_expf
  // unresolved when they are not set.
  pm.addPass(createConvertNVGPUToNVVMPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  pm.addNestedPass<gpu::GPUModuleOp>(createStripDebugInfoPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps());
  pm.addNestedPass<gpu::GPUModuleOp>(LLVM::createNVVMOptimizeForTargetPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());

  pm.addPass(createGpuToLLVMConversionPass());
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = findCUDAToolkit(options.cudaPath);
  switch (options.format) {
  case NVVMBinaryFormat::Isa:
    binary.compilationTarget = "isa";
    break;
  case NVVMBinaryFormat::Bin:
    binary.compilationTarget = "bin";
    break;
  case NVVMBinaryFormat::Fatbin:
    binary.compilationTarget = "fatbin";
    break;
  }
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void qwha::registerLowerToNVVMPipeline() {
  // PassPipelineRegistration<Options> parses but cannot check: register the
  // function it would, with the checks between parsing and building.
  registerPassPipeline(
      "qwha-lower-to-nvvm",
      "Lower gpu.func kernels and their host launches to the LLVM dialect, "
      "the kernels compiled through NVVM and embedded as a gpu.binary "
      "(upstream's gpu-lower-to-nvvm-pipeline with QWHA's defaults)",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> emitError) {
        LowerToNVVMOptions options;
        if (failed(options.parseFromString(text)) ||
            failed(verifyLowerToNVVMOptions(options, emitError)))
          return failure();
        buildLowerToNVVMPassPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> printOptions) {
        printOptions(LowerToNVVMOptions());
      });
}
