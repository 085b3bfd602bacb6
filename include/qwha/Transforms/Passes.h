//===- Passes.h - QWHA transformation passes --------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_PASSES_H
#define QWHA_TRANSFORMS_PASSES_H

#include "qwha/Dialect/QWHA/QWHADialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace qwha {

#define GEN_PASS_DECL
#include "qwha/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qwha/Transforms/Passes.h.inc"

} // namespace qwha

#endif // QWHA_TRANSFORMS_PASSES_H
