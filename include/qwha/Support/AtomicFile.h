//===- AtomicFile.h - All-or-nothing file replacement -----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Outputs such as quantized checkpoints are large and slow to write; a crash
// or an error halfway must not leave a truncated file that a later run would
// take for a good one, nor destroy the previous version.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_ATOMICFILE_H
#define QWHA_SUPPORT_ATOMICFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace qwha {

/// Writes `path` so that readers never see a partial file: the content goes to
/// a unique temporary file in the same directory, which is renamed over `path`
/// only when `write` succeeded and the stream had no error; otherwise the
/// temporary is removed and `path` is untouched. Errors name the path; an
/// error returned by `write` keeps its error code and gets the path prepended
/// to its message.
///
/// The new file gets the default permissions (0666 minus the umask), not
/// those of the file it replaces. There is no fsync: the rename protects
/// concurrent readers, not the content against a power loss.
llvm::Error
writeFileAtomically(llvm::StringRef path,
                    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write);

} // namespace qwha

#endif // QWHA_SUPPORT_ATOMICFILE_H
