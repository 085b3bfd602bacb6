//===- Quantize.cpp - The qwha-quantize pass and pipeline -----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Calibration/CalibrationRunner.h"
#include "qwha/Calibration/Passes.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Support/Safetensors.h"
#include "qwha/Transforms/Passes.h"
#include "qwha/Transforms/Quantize.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/Regex.h"

#define DEBUG_TYPE "qwha-quantize"

namespace qwha {
#define GEN_PASS_DEF_QUANTIZE
#include "qwha/Calibration/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

struct QuantizePass : public qwha::impl::QuantizeBase<QuantizePass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// The run options of this pass for the layers matching `pattern`.
  CalibrationRunOptions getRunOptions(StringRef pattern) const;
  /// Calibrates the layers matching `pattern` on the current module.
  FailureOr<CalibrationStore> calibrate(StringRef pattern,
                                        const SafetensorsFile &samples);
  /// Quantizes the layers matching `pattern` from `store`.
  LogicalResult quantize(StringRef pattern, const CalibrationStore *store,
                         QuantizationReport &report, int64_t progressOffset = 0,
                         int64_t progressTotal = -1);
};

CalibrationRunOptions QuantizePass::getRunOptions(StringRef pattern) const {
  CalibrationRunOptions options;
  options.function = function;
  options.layers = pattern.str();
  options.maxSamples = maxSamples;
  options.maxStatisticsBytes = uint64_t(int64_t(maxStatisticsMiB)) << 20;
  return options;
}

FailureOr<CalibrationStore>
QuantizePass::calibrate(StringRef pattern, const SafetensorsFile &samples) {
  llvm::Expected<CalibrationStore> store =
      runCalibration(getOperation(), samples, getRunOptions(pattern));
  if (!store)
    return getOperation().emitError("calibration failed: ")
           << llvm::toString(store.takeError());
  return std::move(*store);
}

LogicalResult QuantizePass::quantize(StringRef pattern,
                                     const CalibrationStore *store,
                                     QuantizationReport &report,
                                     int64_t progressOffset,
                                     int64_t progressTotal) {
  LayerSelection selection;
  selection.layers = pattern.str();
  selection.progressOffset = progressOffset;
  selection.progressTotal = progressTotal;
  selection.scaleType = scaleType;
  selection.progress = progress ? &llvm::errs() : nullptr;
  quant::GridOptions grid;
  grid.bits = bits;
  grid.groupSize = groupSize;
  grid.symmetric = symmetric;
  grid.mse = mse;
  if (method == "rtn")
    return applyRTN(getOperation(), grid, store, selection, report);
  quant::GptqOptions options;
  options.grid = grid;
  options.actOrder = actOrder;
  options.staticGroups = staticGroups;
  options.damp = damp;
  options.blockSize = blockSize;
  options.computeBaselines = !report.calibration.empty() || progress ||
                             !this->report.empty();
  return applyGPTQ(getOperation(), *store, options, selection, report);
}

void QuantizePass::runOnOperation() {
  ModuleOp module = getOperation();
  if (method != "gptq" && method != "rtn") {
    module.emitError("method must be gptq or rtn, got '") << method << "'";
    return signalPassFailure();
  }
  if (inputs.empty() && method == "gptq") {
    module.emitError("qwha-quantize with GPTQ needs sample inputs: pass "
                     "inputs=<samples.safetensors>");
    return signalPassFailure();
  }
  if (maxStatisticsMiB < 0) {
    module.emitError("max-statistics-mib must be 0 (no bound) or positive, "
                     "got ")
        << int64_t(maxStatisticsMiB);
    return signalPassFailure();
  }
  if (maxStatisticsMiB > 0 && sequential) {
    module.emitError("max-statistics-mib has no effect in sequential mode, "
                     "which holds one layer's statistics at a time");
    return signalPassFailure();
  }
  if (maxStatisticsMiB > 0 && !calibrationOutput.empty()) {
    module.emitError("calibration-output needs every layer's statistics at "
                     "once; with max-statistics-mib, write them with "
                     "qwha-calibrate --max-statistics-mib instead");
    return signalPassFailure();
  }
  if (sequential && !calibrationOutput.empty()) {
    module.emitError("calibration-output cannot be written in sequential "
                     "mode: each layer sees different statistics");
    return signalPassFailure();
  }

  QuantizationReport result;
  result.method = method;
  result.calibration = inputs.empty() ? "" : "samples:" + inputs;
  result.includeTimings = reportTimings;
  result.options = llvm::json::Object{
      {"bits", int64_t(bits)},       {"group_size", int64_t(groupSize)},
      {"symmetric", bool(symmetric)}, {"mse", bool(mse)},
      {"sequential", bool(sequential)}, {"scale_type", std::string(scaleType)}};
  if (method == "gptq") {
    result.options["act_order"] = bool(actOrder);
    result.options["static_groups"] = bool(staticGroups);
    result.options["damp"] = double(damp);
    result.options["block_size"] = int64_t(blockSize);
  }

  if (inputs.empty()) {
    if (failed(quantize(layers, nullptr, result)))
      return signalPassFailure();
  } else {
    llvm::Expected<SafetensorsFile> samples = SafetensorsFile::open(inputs);
    if (!samples) {
      module.emitError(llvm::toString(samples.takeError()));
      return signalPassFailure();
    }
    if (!sequential && maxStatisticsMiB > 0) {
      // Every group is calibrated on the module as it was before the pass.
      OwningOpRef<ModuleOp> original = module.clone();
      CalibrationRunOptions options = getRunOptions(layers);
      llvm::Expected<CalibrationPlan> plan = planCalibration(*original, options);
      if (!plan) {
        module.emitError("calibration failed: ")
            << llvm::toString(plan.takeError());
        return signalPassFailure();
      }
      size_t group = 0;
      bool quantizeFailed = false; // its errors are on the layer already
      llvm::Error err = runCalibrationInGroups(
          *original, *samples, options, *plan,
          [&](CalibrationStore store) -> llvm::Error {
            size_t index = group++;
            auto [begin, end] = plan->groups[index];
            if (progress)
              llvm::errs() << "calibration: group " << (index + 1) << "/"
                           << plan->groups.size() << " (" << (end - begin)
                           << " layers)\n";
            if (succeeded(quantize(plan->getGroupPattern(index), &store,
                                   result, int64_t(begin),
                                   int64_t(plan->layers.size()))))
              return llvm::Error::success();
            quantizeFailed = true;
            return llvm::createStringError("quantization failed");
          });
      if (err) {
        std::string message = llvm::toString(std::move(err));
        if (!quantizeFailed)
          module.emitError("calibration failed: ") << message;
        return signalPassFailure();
      }
    } else if (!sequential) {
      FailureOr<CalibrationStore> store = calibrate(layers, *samples);
      if (failed(store))
        return signalPassFailure();
      if (!calibrationOutput.empty())
        if (llvm::Error err = store->save(calibrationOutput)) {
          module.emitError(llvm::toString(std::move(err)));
          return signalPassFailure();
        }
      if (failed(quantize(layers, &*store, result)))
        return signalPassFailure();
    } else {
      // One layer at a time, in program order, each calibrated on the
      // outputs of the layers already quantized.
      llvm::Regex pattern("^(" + layers + ")$");
      std::string regexError;
      if (!pattern.isValid(regexError)) {
        module.emitError("invalid 'layers' regular expression '")
            << layers << "': " << regexError;
        return signalPassFailure();
      }
      SmallVector<std::string> names;
      module.walk([&](LinearOp op) {
        if (pattern.match(op.getName()) &&
            !llvm::is_contained(names, op.getName()))
          names.push_back(op.getName().str());
      });
      for (auto [index, name] : llvm::enumerate(names)) {
        std::string exact = llvm::Regex::escape(name);
        FailureOr<CalibrationStore> store = calibrate(exact, *samples);
        if (failed(store) || failed(quantize(exact, &*store, result, index,
                                             int64_t(names.size()))))
          return signalPassFailure();
      }
    }
  }
  if (failed(writeReportIfRequested(module, result, report)))
    return signalPassFailure();
}

} // namespace

void qwha::buildQuantizePassPipeline(OpPassManager &pm,
                                     const QuantizePipelineOptions &options) {
  pm.addPass(createRaiseLinear());
  QuantizeOptions quantize;
  quantize.inputs = options.inputs;
  quantize.function = options.function;
  quantize.maxSamples = options.maxSamples;
  quantize.method = options.method;
  quantize.sequential = options.sequential;
  quantize.bits = options.bits;
  quantize.groupSize = options.groupSize;
  quantize.symmetric = options.symmetric;
  quantize.mse = options.mse;
  quantize.actOrder = options.actOrder;
  quantize.staticGroups = options.staticGroups;
  quantize.damp = options.damp;
  quantize.layers = options.layers;
  quantize.scaleType = options.scaleType;
  quantize.report = options.report;
  quantize.progress = options.progress;
  pm.addPass(createQuantize(quantize));
}

void qwha::registerQuantizePipeline() {
  PassPipelineRegistration<QuantizePipelineOptions>(
      "qwha-quantize-pipeline",
      "Raise linear layers, calibrate them on sample inputs and quantize them "
      "(GPTQ or RTN), optionally layer by layer; one progress line per layer",
      buildQuantizePassPipeline);
}
