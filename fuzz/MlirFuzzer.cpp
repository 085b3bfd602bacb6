//===- MlirFuzzer.cpp - Fuzz MLIR parsing, verification and qwha passes ---===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: MLIR source. It is parsed with every upstream dialect and the qwha
// dialect registered (as qwha-opt does) and verified; a valid module then
// goes through canonicalize, qwha-raise-linear and convert-qwha-to-linalg,
// one pass at a time. Diagnostics are collected, not printed: errors are
// fine, crashes and sanitizer reports are not, and neither is a pass that
// succeeds but leaves IR that no longer verifies.
//
// Only QWHA's code carries coverage instrumentation (Debian's libMLIR.so
// does not), so libFuzzer steers toward the qwha dialect's parsers,
// verifiers, folders and passes.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Conversion/Passes.h"
#include "qwha/InitAllDialects.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/SourceMgr.h"

#include <functional>

using namespace mlir;

static DialectRegistry *registry;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  registry = new DialectRegistry();
  registerAllDialects(*registry);
  registerAllExtensions(*registry);
  qwha::registerAllDialects(*registry);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A context per input: types and attributes are uniqued for the context's
  // lifetime, so a shared one would grow without bound and let one input
  // influence the next. No threads: fuzzing wants determinism.
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });

  // The MLIR lexer needs a NUL after the buffer, hence the copy.
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.mlir"),
      llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
  if (!module || failed(verify(*module)))
    return 0;

  std::function<std::unique_ptr<Pass>()> passes[] = {
      [] { return createCanonicalizerPass(); },
      [] { return qwha::createRaiseLinear(); },
      [] { return qwha::createConvertQWHAToLinalg(); },
  };
  for (auto &createPass : passes) {
    PassManager pm(&context);
    // Verified here instead, to tell a pass that failed cleanly from one
    // that broke the IR.
    pm.enableVerifier(false);
    pm.addPass(createPass());
    if (failed(pm.run(*module)))
      return 0;
    QWHA_FUZZ_CHECK(succeeded(verify(*module)),
                    "a pass succeeded but left IR that does not verify");
  }
  return 0;
}
