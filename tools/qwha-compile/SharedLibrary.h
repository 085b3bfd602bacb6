//===- SharedLibrary.h - Link an object into a shared library ---*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The last step of qwha-compile: the system C compiler driver links the
// object, libc, libm and, when the code calls them, MLIR's runner utilities
// (memrefCopy and friends) into a shared library.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TOOLS_QWHA_COMPILE_SHAREDLIBRARY_H
#define QWHA_TOOLS_QWHA_COMPILE_SHAREDLIBRARY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"

#include <string>
#include <vector>

namespace qwha::compile {

struct LinkOptions {
  /// The driver: a program name looked up in PATH, or a path.
  std::string linker = "cc";
  /// Where libmlir_runner_utils, libmlir_c_runner_utils and libomp live.
  std::string runtimeLibraryDir;
  /// Shared libraries (paths) always linked, found at run time next to the
  /// library first ($ORIGIN), then where they are now.
  std::vector<std::string> extraLibraries;
};

/// The runtime libraries (names without `lib` and `.so`) under
/// `runtimeLibraryDir` that define a symbol `object` leaves undefined.
llvm::Expected<std::vector<std::string>>
findRuntimeLibraries(llvm::ArrayRef<char> object,
                     llvm::StringRef runtimeLibraryDir);

/// Links `object` (the bytes of a relocatable object file) into a shared
/// library in a temporary file next to `output`, which the caller keeps
/// (renames to `output`) or discards. Undefined symbols are link errors. On
/// failure nothing is left behind and the error quotes the linker's output.
llvm::Expected<llvm::sys::fs::TempFile>
linkSharedLibrary(llvm::ArrayRef<char> object, llvm::StringRef output,
                  const LinkOptions &options);

} // namespace qwha::compile

#endif // QWHA_TOOLS_QWHA_COMPILE_SHAREDLIBRARY_H
