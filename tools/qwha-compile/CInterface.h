//===- CInterface.h - Entry points of a compiled library --------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What a C caller of an ahead-of-time compiled module sees: each public
// func.func becomes `_mlir_ciface_<name>` (llvm-request-c-wrappers), whose
// parameters are memref descriptors and scalars. The types are read from the
// module before lowering, because the LLVM dialect no longer knows a
// descriptor's element type; the lowered wrappers are then checked against
// them, so the header never declares what the library does not define.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TOOLS_QWHA_COMPILE_CINTERFACE_H
#define QWHA_TOOLS_QWHA_COMPILE_CINTERFACE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace qwha::compile {

/// One argument or result as it crosses the C interface.
struct CValue {
  /// A ranked memref (a tensor is bufferized into one) goes through a
  /// descriptor; a scalar is passed or returned by value.
  bool isMemRef = false;
  /// C spelling of the scalar or of the memref's element, e.g. `float`.
  std::string cType;
  /// Short element name used in typedef names, e.g. `f32`.
  std::string elementName;
  int64_t rank = 0;
  /// Whether the caller's buffer may be written (memrefs only).
  bool writable = false;
  /// The MLIR type, for the header's comments and the check of the lowered
  /// wrapper.
  mlir::Type type;

  /// `qwha_memref_<element>_<rank>d`, the descriptor typedef.
  std::string getDescriptorName() const;
};

/// A public function and its C signature.
struct EntryPoint {
  std::string name;
  mlir::Location loc;
  llvm::SmallVector<CValue> arguments;
  llvm::SmallVector<CValue> results;

  /// Whether the wrapper's first parameter points to the result(s).
  bool returnsThroughPointer() const {
    return results.size() > 1 || (results.size() == 1 && results[0].isMemRef);
  }
  /// `qwha_<name>_results`, the struct of several results.
  std::string getResultsStructName() const;
};

/// Describes every public func.func of `module`. Fails, with an error at the
/// function's location, when a signature cannot be written in C. Tensor
/// arguments that do not say otherwise are marked `bufferization.writable =
/// false`, so that the library never writes into its caller's input buffers.
mlir::FailureOr<std::vector<EntryPoint>>
describeEntryPoints(mlir::ModuleOp module);

/// Checks that the lowered (LLVM dialect) module defines
/// `_mlir_ciface_<name>` for every entry point with exactly the parameters
/// and result the header declares.
mlir::LogicalResult
verifyLoweredEntryPoints(mlir::ModuleOp lowered,
                         llvm::ArrayRef<EntryPoint> entries);

/// Writes the C header declaring `entries`. `guard` is the include guard
/// macro; `library` and `source` name the files in the header's comment.
/// Where the library's buffers live.
enum class HeaderTarget { CPU, CUDA };

void writeCHeader(llvm::raw_ostream &os, llvm::ArrayRef<EntryPoint> entries,
                  llvm::StringRef guard, HeaderTarget target,
                  llvm::StringRef library,
                  llvm::StringRef source);

/// The include guard for a header at `path`: `QWHA_<FILE NAME>_`, with every
/// character that cannot appear in a macro name replaced by `_`.
std::string getIncludeGuard(llvm::StringRef path);

} // namespace qwha::compile

#endif // QWHA_TOOLS_QWHA_COMPILE_CINTERFACE_H
