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

LogicalResult qwha::verifyLowerToNVVMOptions(
    const LowerToNVVMOptions &options,
    llvm::function_ref<LogicalResult(const Twine &)> emitError) {
  StringRef chip = options.chip;
  if (!llvm::Regex("^sm_[1-9][0-9]+[af]?$").match(chip))
    return emitError("qwha-lower-to-nvvm: chip '" + chip +
                     "' is not of the form sm_<N>[a|f] (e.g. sm_90, "
                     "sm_90a)");
  SmallVector<StringRef> features;
  StringRef(options.features).split(features, ',');
  bool ptx = false;
  for (StringRef feature : features) {
    if (!llvm::Regex("^[+-][A-Za-z0-9_.]+$").match(feature))
      return emitError("qwha-lower-to-nvvm: feature '" + feature +
                       "' is not +<name> or -<name>");
    ptx |= llvm::Regex("^\\+ptx[1-9][0-9]+$").match(feature);
  }
  if (!ptx)
    return emitError("qwha-lower-to-nvvm: features '" + options.features +
                     "' name no PTX ISA version (e.g. +ptx80)");
  if (options.optLevel < 0 || options.optLevel > 3)
    return emitError("qwha-lower-to-nvvm: opt-level " +
                     Twine(options.optLevel) + " is not 0, 1, 2 or 3");
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
