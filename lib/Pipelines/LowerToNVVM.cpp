//===- LowerToNVVM.cpp - The qwha-lower-to-nvvm pipeline ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A thin layer over upstream's gpu-lower-to-nvvm-pipeline: QWHA's option
// names and defaults, and checks of the options upstream passes through
// unchecked to the NVPTX backend (where a bad chip is a warning and a bad
// feature string a late failure).
//
//===----------------------------------------------------------------------===//

#include "qwha/Pipelines/Pipelines.h"

#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Regex.h"

using namespace mlir;

/// The checks of both pipelines' target options.
static LogicalResult
verifyNVVMTarget(StringRef pipeline, StringRef chip, StringRef featureList,
                 int optLevel,
                 llvm::function_ref<LogicalResult(const Twine &)> emitError) {
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
                          options.features, options.optLevel, emitError);
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
                              options.features, options.optLevel, emitError)))
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
  return success();
}

void qwha::buildLowerToNVVMPassPipeline(OpPassManager &pm,
                                        const LowerToNVVMOptions &options) {
  gpu::GPUToNVVMPipelineOptions nvvm;
  nvvm.cubinChip = options.chip;
  nvvm.cubinFeatures = options.features;
  nvvm.optLevel = options.optLevel;
  switch (options.format) {
  case NVVMBinaryFormat::Isa:
    nvvm.cubinFormat = "isa";
    break;
  case NVVMBinaryFormat::Bin:
    nvvm.cubinFormat = "bin";
    break;
  case NVVMBinaryFormat::Fatbin:
    nvvm.cubinFormat = "fatbin";
    break;
  }
  gpu::buildLowerToNVVMPassPipeline(pm, nvvm);
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
