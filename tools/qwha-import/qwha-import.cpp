//===- qwha-import.cpp - Hugging Face checkpoints to MLIR -----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-import model-dir -o model.mlir [--batch=1] [--seq-len=128]
//               [--function=forward] [--emit-bytecode]
//
// Writes the forward pass of a Hugging Face model directory (config.json and
// model.safetensors, or a sharded index) as an MLIR module on tensors, ready
// for qwha-opt, qwha-calibrate and qwha-compile.
//
//===----------------------------------------------------------------------===//

#include "qwha/Import/HuggingFace.h"
#include "qwha/Support/AtomicFile.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("qwha-import options");
static cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                     cl::desc("<model directory>"),
                                     cl::cat(category));
static cl::opt<std::string>
    outputFile("o", cl::Required,
               cl::desc("Output module ('-' for standard output)"),
               cl::value_desc("model.mlir"), cl::cat(category));
static cl::opt<int64_t> batch("batch", cl::init(1),
                              cl::desc("Sequences per call (static)"),
                              cl::cat(category));
static cl::opt<int64_t> seqLen("seq-len", cl::init(128),
                               cl::desc("Tokens per sequence (static)"),
                               cl::cat(category));
static cl::opt<std::string> function("function", cl::init("forward"),
                                     cl::desc("Name of the entry function"),
                                     cl::cat(category));
static cl::opt<bool>
    emitBytecode("emit-bytecode",
                 cl::desc("Write MLIR bytecode (weights stored raw, not as "
                          "hex text: about half the size, faster to read)"),
                 cl::cat(category));
static cl::opt<bool> quiet("quiet", cl::desc("No summary on standard error"),
                           cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "Import a Hugging Face model (BERT or Llama family)\n");
  auto fail = [](const llvm::Twine &message) {
    llvm::WithColor::error(llvm::errs(), "qwha-import") << message << "\n";
    return 1;
  };

  MLIRContext context;
  qwha::ImportOptions options;
  options.batch = batch;
  options.seqLen = seqLen;
  options.function = function;
  llvm::Expected<OwningOpRef<ModuleOp>> module =
      qwha::importHuggingFaceModel(context, modelDir, options);
  if (!module)
    return fail(llvm::toString(module.takeError()));

  auto write = [&](llvm::raw_ostream &os) -> llvm::Error {
    if (emitBytecode) {
      if (failed(writeBytecodeToFile(**module, os)))
        return llvm::createStringError("cannot write bytecode");
    } else {
      (*module)->print(os, OpPrintingFlags().enableDebugInfo(false));
    }
    return llvm::Error::success();
  };
  if (outputFile == "-") {
    if (llvm::Error err = write(llvm::outs()))
      return fail(llvm::toString(std::move(err)));
  } else if (llvm::Error err =
                 qwha::writeFileAtomically(outputFile, write)) {
    return fail(llvm::toString(std::move(err)));
  }

  if (!quiet) {
    int64_t layers = 0;
    (*module)->walk([&](Operation *op) {
      if (op->hasAttr("qwha.name"))
        ++layers;
    });
    llvm::errs() << "qwha-import: " << modelDir << " -> " << outputFile << ": "
                 << layers << " linear layers, batch " << batch
                 << ", sequence length " << seqLen << "\n";
  }
  return 0;
}
