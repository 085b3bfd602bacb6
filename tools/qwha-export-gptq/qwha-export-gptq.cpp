//===- qwha-export-gptq.cpp - Write a GPTQ checkpoint ---------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-export-gptq quantized.mlir -o checkpoint/ [--format=v1|v2]
//
// Writes the qwha.qlinear layers of a module as a GPTQ checkpoint
// (model.safetensors + quantize_config.json) that AutoGPTQ, GPTQModel and
// qwha-load-gptq read.
//
//===----------------------------------------------------------------------===//

#include "qwha/InitAllDialects.h"
#include "qwha/Transforms/GptqCheckpoint.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("qwha-export-gptq options");
static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<quantized.mlir>"),
                                      cl::cat(category));
static cl::opt<std::string> outputDir("o", cl::Required,
                                      cl::desc("Checkpoint directory"),
                                      cl::value_desc("directory"),
                                      cl::cat(category));
static cl::opt<qwha::quant::GptqFormat> format(
    "format", cl::desc("Zero-point encoding"),
    cl::init(qwha::quant::GptqFormat::V1),
    cl::values(clEnumValN(qwha::quant::GptqFormat::V1, "v1",
                          "AutoGPTQ 'gptq': stores zero - 1 (default)"),
               clEnumValN(qwha::quant::GptqFormat::V2, "v2",
                          "GPTQModel 'gptq_v2': stores zero")),
    cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Write quantized layers as a GPTQ checkpoint\n");
  DialectRegistry registry;
  registerAllDialects(registry);
  qwha::registerAllDialects(registry);
  MLIRContext context(registry);
  // Shared, so that the parser may reference resources (the weights) in
  // the mapped input instead of copying them into the context.
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(inputFile, sourceMgr, &context);
  if (!module)
    return 1;
  if (llvm::Error err = qwha::exportGptqCheckpoint(*module, outputDir, format,
                                                   &llvm::errs())) {
    llvm::WithColor::error(llvm::errs(), "qwha-export-gptq")
        << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}
