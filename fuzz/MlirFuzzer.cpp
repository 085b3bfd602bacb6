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
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SourceMgr.h"

#include <functional>

using namespace mlir;

static DialectRegistry *registry;

//===----------------------------------------------------------------------===//
// Known crashes in upstream MLIR
//===----------------------------------------------------------------------===//
//
// Debian's libMLIR.so is built without assertions, and some upstream parsers
// rely on them. These are not QWHA's to fix; inputs that would reach them are
// skipped so that the fuzzer keeps looking for QWHA's bugs. Each entry says
// where the upstream bug is; drop it once the LLVM in use has the fix.

/// Whether `text` at `pos` starts `[` integers separated by commas `]`.
static bool startsIntegerList(llvm::StringRef text, size_t pos) {
  text = text.drop_front(pos).ltrim();
  if (!text.consume_front("["))
    return false;
  text = text.ltrim();
  if (text.consume_front("]"))
    return true;
  while (true) {
    text.consume_front("-");
    size_t digits = text.find_first_not_of("0123456789");
    if (digits == 0 || digits == llvm::StringRef::npos)
      return false;
    text = text.drop_front(digits).ltrim();
    if (text.consume_front("]"))
      return true;
    if (!text.consume_front(","))
      return false;
    text = text.ltrim();
  }
}

/// MLIR 22, mlir/lib/Dialect/Linalg/IR/LinalgOps.cpp,
/// parseDenseI64ArrayAttr: the `permutation` of linalg.transpose and the
/// `dimensions` of linalg.broadcast and linalg.reduce are stored even when
/// DenseI64ArrayAttr::parse failed and returned null, and
/// NamedAttrList::set dereferences it (`permutation = [1, 0x`). Inputs
/// where such a keyword follows a `)`, as in the custom form after
/// `outs(...)`, and `=` is not followed by a plain integer list are
/// skipped; the generic form's attribute dictionary is parsed safely.
static bool reachesLinalgArrayParserCrash(llvm::StringRef text) {
  for (llvm::StringRef keyword : {"permutation", "dimensions"}) {
    for (size_t pos = text.find(keyword); pos != llvm::StringRef::npos;
         pos = text.find(keyword, pos + 1)) {
      if (!text.take_front(pos).rtrim().ends_with(")"))
        continue;
      llvm::StringRef rest = text.drop_front(pos + keyword.size()).ltrim();
      if (!rest.consume_front("="))
        continue;
      if (!startsIntegerList(rest, 0))
        return true;
    }
  }
  return false;
}

/// MLIR 22, LinalgOps.cpp (parseCommonStructuredOpParts,
/// addOperandSegmentSizesAttr) and the transform dialect's structured ops:
/// `op<...>` properties are cast to DictionaryAttr unchecked, so
/// `linalg.fill<f32>` reads a type as a dictionary. Custom-form linalg and
/// transform ops followed by `<` and anything but `{` are skipped.
static bool reachesPropertiesCastCrash(llvm::StringRef text) {
  for (llvm::StringRef prefix : {"linalg.", "transform."}) {
    for (size_t pos = text.find(prefix); pos != llvm::StringRef::npos;
         pos = text.find(prefix, pos + 1)) {
      llvm::StringRef rest = text.drop_front(pos + prefix.size());
      rest = rest.drop_while(
          [](char c) { return llvm::isAlnum(c) || c == '_' || c == '.'; });
      rest = rest.ltrim();
      if (rest.consume_front("<") && !rest.ltrim().starts_with("{"))
        return true;
    }
  }
  return false;
}

static bool reachesKnownUpstreamCrash(llvm::StringRef text) {
  return reachesLinalgArrayParserCrash(text) ||
         reachesPropertiesCastCrash(text);
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  registry = new DialectRegistry();
  registerAllDialects(*registry);
  registerAllExtensions(*registry);
  qwha::registerAllDialects(*registry);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  if (reachesKnownUpstreamCrash(text))
    return 0;

  // A context per input: types and attributes are uniqued for the context's
  // lifetime, so a shared one would grow without bound and let one input
  // influence the next. No threads: fuzzing wants determinism.
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });

  // The MLIR lexer needs a NUL after the buffer, hence the copy.
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.mlir"), llvm::SMLoc());
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
