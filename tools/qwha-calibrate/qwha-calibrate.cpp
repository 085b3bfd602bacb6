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
// With --max-statistics-mib the layers are calibrated in groups whose
// statistics fit the bound, running the samples once per group, and each
// group's Hessians are streamed to the file before the next group starts:
// memory holds one group's statistics, whatever the model's size. The file
// is byte-identical to an unbounded run's.
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

#include <map>

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
static cl::opt<uint64_t> maxStatisticsMiB(
    "max-statistics-mib", cl::init(0),
    cl::desc("Accumulate at most this many MiB of layer statistics at once, "
             "running the samples once per group of layers (0: no bound)"),
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

  // Shared, so that the parser may reference resources (the weights) in
  // the mapped input instead of copying them into the context.
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
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
  options.maxStatisticsBytes = maxStatisticsMiB * (uint64_t(1) << 20);
  llvm::Expected<qwha::CalibrationPlan> plan =
      qwha::planCalibration(*module, options);
  if (!plan)
    return fail(llvm::toString(plan.takeError()));

  // The header is written first, from the plan; the writer keeps the
  // output in a temporary file until every tensor arrived.
  qwha::SafetensorsStreamWriter writer;
  for (const auto &layer : plan->layers) {
    if (llvm::Error err =
            writer.declare(layer.name + ".hessian", qwha::DType::F32,
                           {layer.features, layer.features}))
      return fail(llvm::toString(std::move(err)));
    if (llvm::Error err =
            writer.declare(layer.name + ".nsamples", qwha::DType::I64, {}))
      return fail(llvm::toString(std::move(err)));
  }
  writer.setMetadata("format", "qwha-calibration");
  if (llvm::Error err = writer.begin(outputFile))
    return fail(llvm::toString(std::move(err)));

  struct Row {
    std::string name;
    int64_t features, samples;
    double meanDiagonal;
  };
  std::vector<Row> rows;
  // Tensors that arrived before their turn in the file: the sample counts
  // of layers whose name prefixes another's sort after that layer's
  // Hessian, e.g. "a.hessian" < "a.o.hessian" < "a.o.nsamples" < "a.nsamples".
  std::map<std::string, std::vector<char>> pending;
  size_t next = 0;
  auto writeGroup = [&](qwha::CalibrationStore store) -> llvm::Error {
    // This group's Hessians, viewed in the store; sample counts (8 bytes
    // each) go to `pending` right away.
    std::map<std::string, llvm::ArrayRef<char>> available;
    for (const auto &[name, entry] : store.getEntries()) {
      double trace = 0;
      for (int64_t i = 0; i < entry.features; ++i)
        trace += entry.hessian[i * entry.features + i];
      rows.push_back({name, entry.features, entry.samples,
                      trace / double(entry.features)});
      available[name + ".hessian"] = llvm::ArrayRef<char>(
          reinterpret_cast<const char *>(entry.hessian.data()),
          entry.hessian.size() * sizeof(float));
      const int64_t samples = entry.samples;
      const char *count = reinterpret_cast<const char *>(&samples);
      pending[name + ".nsamples"].assign(count, count + sizeof(samples));
    }
    llvm::ArrayRef<qwha::SafetensorsStreamWriter::Tensor> order =
        writer.getTensors();
    for (; next < order.size(); ++next) {
      const std::string &name = order[next].name;
      llvm::Error err = llvm::Error::success();
      if (auto it = available.find(name); it != available.end()) {
        err = writer.write(name, it->second);
        available.erase(it);
      } else if (auto it = pending.find(name); it != pending.end()) {
        err = writer.write(name, it->second);
        pending.erase(it);
      } else {
        break;
      }
      if (err)
        return err;
    }
    // Hessians whose turn has not come yet wait in memory.
    for (const auto &[name, bytes] : available)
      pending[name] = bytes.vec();
    return llvm::Error::success();
  };
  if (llvm::Error err = qwha::runCalibrationInGroups(*module, *samples,
                                                     options, *plan,
                                                     writeGroup))
    return fail(llvm::toString(std::move(err)));
  if (llvm::Error err = writer.finish())
    return fail(llvm::toString(std::move(err)));

  if (!quiet) {
    llvm::sort(rows, [](const Row &a, const Row &b) { return a.name < b.name; });
    llvm::errs() << llvm::format("%-40s %9s %9s %14s\n", "layer", "features",
                                 "rows", "mean diag H");
    for (const Row &row : rows)
      llvm::errs() << llvm::format("%-40s %9lld %9lld %14.6g\n",
                                   row.name.c_str(), (long long)row.features,
                                   (long long)row.samples, row.meanDiagonal);
    llvm::errs() << "wrote " << rows.size() << " layers to '" << outputFile
                 << "'";
    if (plan->groups.size() > 1)
      llvm::errs() << " in " << plan->groups.size()
                   << " groups of at most " << maxStatisticsMiB
                   << " MiB of statistics";
    llvm::errs() << "\n";
  }
  return 0;
}
