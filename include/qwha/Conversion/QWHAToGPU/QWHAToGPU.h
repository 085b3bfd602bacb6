//===- QWHAToGPU.h - Lowering of qwha ops to GPU kernels --------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_QWHATOGPU_QWHATOGPU_H
#define QWHA_CONVERSION_QWHATOGPU_QWHATOGPU_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace qwha {

#define GEN_PASS_DECL_CONVERTQWHATOGPU
#define GEN_PASS_DECL_LAUNCHLOOPSONGPU
#define GEN_PASS_DECL_PLACEBUFFERSONGPU
#define GEN_PASS_DECL_UPLOADKERNELCONSTANTS
#include "qwha/Conversion/Passes.h.inc"

/// The gpu.module every kernel of a model goes to (convert-qwha-to-gpu's
/// and qwha-launch-loops-on-gpu's), so that it is compiled in one go.
inline constexpr llvm::StringLiteral kGpuKernelModuleName = "qwha_kernels";

} // namespace qwha

#endif // QWHA_CONVERSION_QWHATOGPU_QWHATOGPU_H
