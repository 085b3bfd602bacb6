//===- QWHAToCPU.h - Lower quantized layers to CPU kernels ------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_QWHATOCPU_QWHATOCPU_H
#define QWHA_CONVERSION_QWHATOCPU_QWHATOCPU_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace qwha {

#define GEN_PASS_DECL_CONVERTQWHATOCPU
#include "qwha/Conversion/Passes.h.inc"

} // namespace qwha

#endif // QWHA_CONVERSION_QWHATOCPU_QWHATOCPU_H
