//===- SharedLibrary.cpp - Link an object into a shared library -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "SharedLibrary.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace qwha::compile;

namespace {

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// A temporary file beside `output`, or an error naming `output`.
Expected<sys::fs::TempFile> createTemporary(StringRef output,
                                            StringRef suffix) {
  Expected<sys::fs::TempFile> temp =
      sys::fs::TempFile::create(output + ".tmp-%%%%%%%%" + suffix);
  if (!temp)
    return makeError("cannot write '" + output +
                     "': " + toString(temp.takeError()));
  return temp;
}

/// Names of the undefined symbols of an object file.
Expected<StringSet<>> getUndefinedSymbols(ArrayRef<char> bytes) {
  MemoryBufferRef buffer(StringRef(bytes.data(), bytes.size()), "object");
  Expected<std::unique_ptr<object::ObjectFile>> file =
      object::ObjectFile::createObjectFile(buffer);
  if (!file)
    return file.takeError();
  StringSet<> names;
  for (const object::SymbolRef &symbol : (*file)->symbols()) {
    Expected<uint32_t> flags = symbol.getFlags();
    if (!flags)
      return flags.takeError();
    if (!(*flags & object::SymbolRef::SF_Undefined))
      continue;
    Expected<StringRef> name = symbol.getName();
    if (!name)
      return name.takeError();
    if (!name->empty())
      names.insert(*name);
  }
  return names;
}

/// Whether the shared library at `path` exports one of `names`.
Expected<bool> definesAny(StringRef path, const StringSet<> &names) {
  Expected<object::OwningBinary<object::ObjectFile>> binary =
      object::ObjectFile::createObjectFile(path);
  if (!binary)
    return binary.takeError();
  auto *elf = dyn_cast<object::ELFObjectFileBase>(binary->getBinary());
  if (!elf)
    return makeError("'" + path + "' is not an ELF shared library");
  for (const object::ELFSymbolRef &symbol : elf->getDynamicSymbolIterators()) {
    Expected<uint32_t> flags = symbol.getFlags();
    Expected<StringRef> name = symbol.getName();
    if (!flags || !name) {
      consumeError(flags.takeError());
      consumeError(name.takeError());
      continue;
    }
    if (!(*flags & object::SymbolRef::SF_Undefined) && names.contains(*name))
      return true;
  }
  return false;
}

/// Writes `bytes` to a fresh temporary file beside `output`.
Expected<sys::fs::TempFile> writeObject(ArrayRef<char> bytes,
                                        StringRef output) {
  Expected<sys::fs::TempFile> temp = createTemporary(output, ".o");
  if (!temp)
    return temp.takeError();
  raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
  os.write(bytes.data(), bytes.size());
  os.flush();
  if (os.has_error()) {
    std::error_code ec = os.error();
    os.clear_error();
    Error err = createStringError(ec, "cannot write '%s': %s",
                                  temp->TmpName.c_str(), ec.message().c_str());
    return joinErrors(std::move(err), temp->discard());
  }
  return std::move(*temp);
}

} // namespace

Expected<std::vector<std::string>>
qwha::compile::findRuntimeLibraries(ArrayRef<char> object,
                                    StringRef runtimeLibraryDir) {
  Expected<StringSet<>> undefined = getUndefinedSymbols(object);
  if (!undefined)
    return undefined.takeError();
  std::vector<std::string> libraries;
  if (undefined->empty())
    return libraries;
  // mlir_c_runner_utils pulls in libMLIR.so at load time: link a runtime
  // library only when the code calls into it. The OpenMP runtime serves
  // kernels compiled with threads > 1.
  for (StringRef name : {"mlir_runner_utils", "mlir_c_runner_utils", "omp"}) {
    SmallString<256> path(runtimeLibraryDir);
    sys::path::append(path, "lib" + name + ".so");
    if (!sys::fs::exists(path))
      continue;
    Expected<bool> needed = definesAny(path, *undefined);
    if (!needed)
      return needed.takeError();
    if (*needed)
      libraries.push_back(name.str());
  }
  return libraries;
}

Expected<sys::fs::TempFile>
qwha::compile::linkSharedLibrary(ArrayRef<char> object, StringRef output,
                                 const LinkOptions &options) {
  ErrorOr<std::string> linker = sys::findProgramByName(options.linker);
  if (!linker)
    return makeError("cannot find the linker '" + options.linker +
                     "': " + linker.getError().message() +
                     "; name another with --linker=<program>");

  Expected<std::vector<std::string>> runtimeLibraries =
      findRuntimeLibraries(object, options.runtimeLibraryDir);
  if (!runtimeLibraries)
    return runtimeLibraries.takeError();

  // Both temporaries sit beside the output, so the final rename stays on one
  // file system, and TempFile removes them if the process dies meanwhile.
  Expected<sys::fs::TempFile> objectFile = writeObject(object, output);
  if (!objectFile)
    return objectFile.takeError();
  scope_exit removeObject([&] {
    if (Error err = objectFile->discard())
      consumeError(std::move(err));
  });
  Expected<sys::fs::TempFile> library = createTemporary(output, "");
  if (!library)
    return library.takeError();

  SmallString<128> logPath;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("qwha-compile-link", "log", logPath))
    return joinErrors(createStringError(ec,
                                        "cannot create a file for the "
                                        "linker's output: %s",
                                        ec.message().c_str()),
                      library->discard());
  FileRemover removeLog(logPath);

  std::vector<std::string> args = {options.linker, "-shared", "-o",
                                   library->TmpName, objectFile->TmpName};
  // Unresolved symbols would otherwise only show when the library is loaded.
  args.push_back("-Wl,-z,defs");
  // Programs linked against the library then find it by name, not by the
  // path they were linked with.
  args.push_back("-Wl,-soname," + sys::path::filename(output).str());
  for (const std::string &name : *runtimeLibraries) {
    args.push_back("-L" + options.runtimeLibraryDir);
    args.push_back("-l" + name);
    args.push_back("-Wl,-rpath," + options.runtimeLibraryDir);
  }
  for (const std::string &path : options.extraLibraries) {
    args.push_back(path);
    args.push_back("-Wl,-rpath,$ORIGIN:" +
                   sys::path::parent_path(path).str());
  }
  args.push_back("-lm");
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::optional<StringRef> redirects[] = {StringRef(""), StringRef(logPath),
                                          StringRef(logPath)};
  std::string message;
  int status = sys::ExecuteAndWait(*linker, argRefs, /*Env=*/std::nullopt,
                                   redirects, /*SecondsToWait=*/0,
                                   /*MemoryLimit=*/0, &message);
  if (status == 0)
    return std::move(*library);

  std::string log;
  if (ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
          MemoryBuffer::getFile(logPath))
    log = (*buffer)->getBuffer().rtrim().str();
  std::string error;
  raw_string_ostream os(error);
  os << "linking '" << output << "' failed: '" << join(args, " ") << "' ";
  if (status < 0)
    os << "did not run (" << message << ")";
  else
    os << "exited with status " << status;
  if (!log.empty())
    os << ":\n" << log;
  return joinErrors(makeError(error), library->discard());
}
