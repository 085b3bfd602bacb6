//===- KernelEmitter.h - Helpers for writing CPU kernels --------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The CPU kernels are written directly as scf loops over vector ops on
// memrefs; these helpers keep that code close to the loops it describes:
// index arithmetic that folds the trivial cases, loops whose body returns
// the next carried values, and kernel functions created once per spec.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_QWHATOCPU_KERNELEMITTER_H
#define QWHA_LIB_CONVERSION_QWHATOCPU_KERNELEMITTER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace qwha::cpu {

/// Index, loop and vector-constant helpers shared by the kernel builders.
class KernelEmitter {
public:
  /// `lanes` f32 (and i32) elements per vector.
  KernelEmitter(mlir::MLIRContext *context, int64_t lanes)
      : lanes(lanes), f32(mlir::Float32Type::get(context)),
        floatVector(mlir::VectorType::get({lanes}, f32)),
        wordVector(mlir::VectorType::get({lanes},
                                         mlir::IntegerType::get(context, 32))),
        maskVector(mlir::VectorType::get({lanes},
                                         mlir::IntegerType::get(context, 1))) {}

protected:
  const int64_t lanes;
  mlir::Type f32;
  mlir::VectorType floatVector, wordVector, maskVector;

  static mlir::Value index(mlir::ImplicitLocOpBuilder &b, int64_t value) {
    return mlir::arith::ConstantIndexOp::create(b, value);
  }
  static mlir::Value add(mlir::ImplicitLocOpBuilder &b, mlir::Value lhs,
                         mlir::Value rhs) {
    return mlir::arith::AddIOp::create(b, lhs, rhs);
  }
  static mlir::Value add(mlir::ImplicitLocOpBuilder &b, mlir::Value lhs,
                         int64_t rhs) {
    return rhs == 0 ? lhs : add(b, lhs, index(b, rhs));
  }
  static mlir::Value sub(mlir::ImplicitLocOpBuilder &b, mlir::Value lhs,
                         mlir::Value rhs) {
    return mlir::arith::SubIOp::create(b, lhs, rhs);
  }
  static mlir::Value mul(mlir::ImplicitLocOpBuilder &b, mlir::Value lhs,
                         int64_t rhs) {
    return rhs == 1 ? lhs : mlir::arith::MulIOp::create(b, lhs, index(b, rhs));
  }
  mlir::Value floatSplat(mlir::ImplicitLocOpBuilder &b, float value) const {
    return mlir::arith::ConstantOp::create(
        b, floatVector, mlir::DenseElementsAttr::get(floatVector, value));
  }
  mlir::Value zeroVector(mlir::ImplicitLocOpBuilder &b) const {
    return floatSplat(b, 0.0f);
  }
  mlir::Value wordSplat(mlir::ImplicitLocOpBuilder &b, uint32_t value) const {
    return mlir::arith::ConstantOp::create(
        b, wordVector,
        mlir::DenseElementsAttr::get(wordVector, llvm::APInt(32, value)));
  }
  /// The first `count` lanes (all when count >= lanes, none when <= 0).
  mlir::Value prefixMask(mlir::ImplicitLocOpBuilder &b,
                         mlir::Value count) const {
    return mlir::vector::CreateMaskOp::create(b, maskVector,
                                              mlir::ValueRange{count});
  }

  /// A loop from `lower` to `upper` carrying `init`; `body` returns the
  /// next values of the carried ones.
  using LoopBody = llvm::function_ref<llvm::SmallVector<mlir::Value>(
      mlir::ImplicitLocOpBuilder &, mlir::Value, mlir::ValueRange)>;
  static llvm::SmallVector<mlir::Value>
  loop(mlir::ImplicitLocOpBuilder &b, mlir::Value lower, mlir::Value upper,
       int64_t step, mlir::ValueRange init, LoopBody body) {
    auto forOp = mlir::scf::ForOp::create(
        b, lower, upper, index(b, step), init,
        [&](mlir::OpBuilder &nested, mlir::Location loc, mlir::Value iv,
            mlir::ValueRange carried) {
          mlir::ImplicitLocOpBuilder nb(loc, nested);
          mlir::scf::YieldOp::create(nb, body(nb, iv, carried));
        });
    return llvm::SmallVector<mlir::Value>(forOp.getResults());
  }
  /// A loop without carried values.
  static void
  forEach(mlir::ImplicitLocOpBuilder &b, mlir::Value lower, mlir::Value upper,
          int64_t step,
          llvm::function_ref<void(mlir::ImplicitLocOpBuilder &, mlir::Value)>
              body) {
    loop(b, lower, upper, step, {},
         [&](mlir::ImplicitLocOpBuilder &nb, mlir::Value iv, mlir::ValueRange) {
           body(nb, iv);
           return llvm::SmallVector<mlir::Value>();
         });
  }
};

/// The private function `name` of `module`, created at the end of the
/// module with `type` and internal linkage (never exported from compiled
/// libraries) and its body written by `build` the first time.
inline mlir::func::FuncOp getOrCreateKernel(
    mlir::ModuleOp module, llvm::StringRef name, mlir::FunctionType type,
    llvm::function_ref<void(mlir::ImplicitLocOpBuilder &, mlir::Block *)>
        build) {
  if (auto existing = module.lookupSymbol<mlir::func::FuncOp>(name))
    return existing;
  mlir::MLIRContext *context = module.getContext();
  mlir::ImplicitLocOpBuilder b(
      mlir::NameLoc::get(mlir::StringAttr::get(context, name)), context);
  b.setInsertionPointToEnd(module.getBody());
  auto func = mlir::func::FuncOp::create(b, name, type);
  func.setPrivate();
  func->setAttr("llvm.linkage", mlir::LLVM::LinkageAttr::get(
                                    context, mlir::LLVM::Linkage::Internal));
  mlir::Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  build(b, entry);
  return func;
}

} // namespace qwha::cpu

#endif // QWHA_LIB_CONVERSION_QWHATOCPU_KERNELEMITTER_H
