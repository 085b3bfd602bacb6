//===- InitAllDialects.h - Register the QWHA dialects -----------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// For tools and downstream compilers: adds every QWHA dialect to a registry.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_INITALLDIALECTS_H
#define QWHA_INITALLDIALECTS_H

#include "qwha/Dialect/QWHA/QWHADialect.h"

#include "mlir/IR/DialectRegistry.h"

namespace qwha {

inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<QWHADialect>();
}

} // namespace qwha

#endif // QWHA_INITALLDIALECTS_H
