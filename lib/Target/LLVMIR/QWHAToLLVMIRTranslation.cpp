//===- QWHAToLLVMIRTranslation.cpp - qwha attributes in LLVM IR -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Target/LLVMIR/QWHAToLLVMIRTranslation.h"
#include "qwha/Dialect/QWHA/QWHADialect.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/LLVMTranslationInterface.h"

using namespace mlir;

namespace {

/// Accepts qwha attributes on operations and parameters and emits nothing
/// for them: they name things for the compiler and its users only.
class QWHATranslationInterface : public LLVMTranslationDialectInterface {
public:
  using LLVMTranslationDialectInterface::LLVMTranslationDialectInterface;

  LogicalResult
  amendOperation(Operation *, ArrayRef<llvm::Instruction *>, NamedAttribute,
                 LLVM::ModuleTranslation &) const override {
    return success();
  }

  LogicalResult
  convertParameterAttr(LLVM::LLVMFuncOp, int, NamedAttribute,
                       LLVM::ModuleTranslation &) const override {
    return success();
  }
};

} // namespace

void qwha::registerQWHADialectTranslation(DialectRegistry &registry) {
  registry.insert<QWHADialect>();
  registry.addExtension(+[](MLIRContext *, QWHADialect *dialect) {
    dialect->addInterfaces<QWHATranslationInterface>();
  });
}
