//===- qwha-calibrate.cpp - Collect per-layer input statistics ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-calibrate model.mlir --inputs samples.safetensors -o calib.safetensors
//
// Raises the model's linear layers (qwha-raise-linear), runs it on the CPU
// once per sample, and writes each layer's Hessian H = (2/N) sum x x^T and
// sample count N (DESIGN.md, File formats). Ends with a table of layers.
//
//===----------------------------------------------------------------------===//

#include "qwha/Calibration/CalibrationRunner.h"
#include "qwha/InitAllDialects.h"
#include "qwha/InitAllPasses.h"
#include "qwha/Support/Safetensors.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("qwha-calibrate options");
static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<model.mlir>"),
                                      cl::cat(category));
static cl::opt<std::string>
    samplesFile("inputs", cl::Required,
                cl::desc("Samples: one tensor per function argument, named "
                         "arg<i> (or by the argument's qwha.name), shape "
                         "[samples, <argument shape>]"),
                cl::value_desc("samples.safetensors"), cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::Required,
                                       cl::desc("Calibration file to write"),
                                       cl::value_desc("calib.safetensors"),
                                       cl::cat(category));
static cl::opt<std::string>
    function("function",
             cl::desc("Function to run (default: the only public one)"),
             cl::cat(category));
static cl::opt<std::string>
    layers("layers", cl::init(".*"),
           cl::desc("Regular expression of the layers to calibrate"),
           cl::cat(category));
static cl::opt<int64_t> maxSamples("max-samples", cl::init(-1),
                                   cl::desc("Use at most this many samples"),
                                   cl::cat(category));
static cl::opt<bool> noRaise("no-raise",
                             cl::desc("Do not run qwha-raise-linear first"),
                             cl::cat(category));
static cl::opt<bool> quiet("quiet", cl::desc("No progress or summary"),
                           cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "qwha-calibrate") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Collect the input statistics of a model's "
                              "linear layers\n");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  qwha::registerAllDialects(registry);
  MLIRContext context(registry);

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(inputFile, sourceMgr, &context);
  if (!module)
    return fail("cannot parse '" + inputFile + "'");

  if (!noRaise) {
    PassManager pm(&context);
    pm.addPass(qwha::createRaiseLinear());
    if (failed(pm.run(*module)))
      return fail("raising the linear layers of '" + inputFile + "' failed");
  }

  llvm::Expected<qwha::SafetensorsFile> samples =
      qwha::SafetensorsFile::open(samplesFile);
  if (!samples)
    return fail(llvm::toString(samples.takeError()));

  qwha::CalibrationRunOptions options;
  options.function = function;
  options.layers = layers;
  options.maxSamples = maxSamples;
  options.progress = quiet ? nullptr : &llvm::errs();
  llvm::Expected<qwha::CalibrationStore> store =
      qwha::runCalibration(*module, *samples, options);
  if (!store)
    return fail(llvm::toString(store.takeError()));
  if (llvm::Error err = store->save(outputFile))
    return fail(llvm::toString(std::move(err)));

  if (!quiet) {
    llvm::errs() << llvm::format("%-40s %9s %9s %14s\n", "layer", "features",
                                 "rows", "mean diag H");
    for (const auto &[name, entry] : store->getEntries()) {
      double trace = 0;
      for (int64_t i = 0; i < entry.features; ++i)
        trace += entry.hessian[i * entry.features + i];
      llvm::errs() << llvm::format("%-40s %9lld %9lld %14.6g\n", name.c_str(),
                                   (long long)entry.features,
                                   (long long)entry.samples,
                                   trace / double(entry.features));
    }
    llvm::errs() << "wrote " << store->getEntries().size() << " layers to '"
                 << outputFile << "'\n";
  }
  return 0;
}
