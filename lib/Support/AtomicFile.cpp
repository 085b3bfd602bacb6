//===- AtomicFile.cpp - All-or-nothing file replacement -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/AtomicFile.h"

#include "llvm/Support/FileSystem.h"

#include <string>

using namespace llvm;

/// Prepends "cannot write 'path': " to every message of `err`. The first
/// payload's error code survives so that callers can still tell, say, a full
/// disk from a permission problem.
static Error withPath(StringRef path, Error err) {
  std::string message;
  std::error_code code;
  handleAllErrors(std::move(err), [&](const ErrorInfoBase &info) {
    if (!code)
      code = info.convertToErrorCode();
    if (!message.empty())
      message += "; ";
    message += info.message();
  });
  return createStringError(code, "cannot write '%s': %s", path.str().c_str(),
                           message.c_str());
}

Error qwha::writeFileAtomically(StringRef path,
                                function_ref<Error(raw_ostream &)> write) {
  // Same directory as `path`, so that the final rename never crosses file
  // systems (where it would degrade into a non-atomic copy). TempFile also
  // removes the file if the process dies from a signal meanwhile.
  Expected<sys::fs::TempFile> temp =
      sys::fs::TempFile::create(path + ".tmp-%%%%%%%%");
  if (!temp)
    return withPath(path, temp.takeError());

  Error writeError = Error::success();
  {
    // The stream must be flushed and gone before keep() closes the
    // descriptor; it does not own the descriptor.
    raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    writeError = write(os);
    os.flush();
    if (os.has_error()) {
      // Clearing is required: a stream destroyed with a pending error
      // aborts the process.
      std::error_code ec = os.error();
      os.clear_error();
      writeError = joinErrors(std::move(writeError), errorCodeToError(ec));
    }
  }

  if (writeError) {
    if (Error discardError = temp->discard())
      writeError = joinErrors(std::move(writeError), std::move(discardError));
    return withPath(path, std::move(writeError));
  }
  // keep() removes the temporary itself when the rename fails.
  if (Error keepError = temp->keep(path))
    return withPath(path, std::move(keepError));
  return Error::success();
}
