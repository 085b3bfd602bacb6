//===- QWHADialect.h - QWHA dialect -----------------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_DIALECT_QWHA_QWHADIALECT_H
#define QWHA_DIALECT_QWHA_QWHADIALECT_H

#include "mlir/IR/Dialect.h"

#include "qwha/Dialect/QWHA/QWHAOpsDialect.h.inc"

#endif // QWHA_DIALECT_QWHA_QWHADIALECT_H
