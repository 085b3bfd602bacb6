//===- QWHAToLLVMIRTranslation.h - qwha attributes in LLVM IR ---*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// `qwha.*` discardable attributes (layer and argument names) survive lowering
// on functions and their arguments. They mean nothing to LLVM; registering
// this interface tells the LLVM IR translation so, instead of a warning per
// attribute.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TARGET_LLVMIR_QWHATOLLVMIRTRANSLATION_H
#define QWHA_TARGET_LLVMIR_QWHATOLLVMIRTRANSLATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace qwha {

void registerQWHADialectTranslation(mlir::DialectRegistry &registry);

} // namespace qwha

#endif // QWHA_TARGET_LLVMIR_QWHATOLLVMIRTRANSLATION_H
