//===- FuzzCheck.h - Invariants the fuzzers assert --------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A reader that returns success must hand out consistent data; the fuzzers
// check that and abort when it does not, so libFuzzer saves the input like a
// crash. Assertions are compiled out of the release build, hence a check of
// our own.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_FUZZ_FUZZCHECK_H
#define QWHA_FUZZ_FUZZCHECK_H

#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#define QWHA_FUZZ_CHECK(condition, message)                                    \
  do {                                                                         \
    if (!(condition)) {                                                        \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s (%s)\n",          \
                   __FILE__, __LINE__, message, #condition);                   \
      std::abort();                                                            \
    }                                                                          \
  } while (false)

namespace qwha::fuzz {

/// The input as a buffer without a copy, so that AddressSanitizer sees any
/// read past its last byte (libFuzzer allocates exactly `size` bytes).
inline std::unique_ptr<llvm::MemoryBuffer> wrap(const uint8_t *data,
                                                size_t size, const char *name) {
  return llvm::MemoryBuffer::getMemBuffer(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), name,
      /*RequiresNullTerminator=*/false);
}

} // namespace qwha::fuzz

#endif // QWHA_FUZZ_FUZZCHECK_H
