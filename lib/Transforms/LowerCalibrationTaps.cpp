//===- LowerCalibrationTaps.cpp - qwha.observe to runtime calls -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"

#define DEBUG_TYPE "qwha-lower-calibration-taps"

namespace qwha {
#define GEN_PASS_DEF_LOWERCALIBRATIONTAPS
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// `value` as an f32 tensor: a conversion generic for other float types.
Value convertToF32(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType().isF32())
    return value;
  auto f32Type = type.clone(b.getF32Type());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value);
  Value init = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  unsigned width = type.getElementType().getIntOrFloatBitWidth();
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, f32Type, ValueRange{value}, ValueRange{init},
      ArrayRef<AffineMap>{identity, identity}, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value converted =
            width < 32
                ? Value(arith::ExtFOp::create(nb, nl, nb.getF32Type(), args[0]))
                : Value(arith::TruncFOp::create(nb, nl, nb.getF32Type(),
                                                args[0]));
        linalg::YieldOp::create(nb, nl, converted);
      });
  return generic.getResult(0);
}

struct LowerCalibrationTapsPass
    : public qwha::impl::LowerCalibrationTapsBase<LowerCalibrationTapsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    SmallVector<ObserveOp> taps;
    module.walk([&](ObserveOp tap) { taps.push_back(tap); });

    // Ids number distinct layer names in order of appearance.
    llvm::MapVector<StringRef, int64_t> ids;
    for (ObserveOp tap : taps)
      ids.try_emplace(tap.getName(), int64_t(ids.size()));

    auto unranked = UnrankedTensorType::get(Float32Type::get(context));
    auto calleeType = FunctionType::get(
        context, {IntegerType::get(context, 64), unranked}, {});
    if (!taps.empty() && !module.lookupSymbol(kObserveFunctionName)) {
      OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
      auto callee = func::FuncOp::create(builder, module.getLoc(),
                                         kObserveFunctionName, calleeType);
      callee.setPrivate();
      callee->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
      // The runtime only reads the tapped value; without this, bufferization
      // must assume the call writes it and copy every tapped tensor.
      callee.setArgAttr(1, "bufferization.access", builder.getStringAttr("read"));
    }
    if (auto existing = module.lookupSymbol<func::FuncOp>(kObserveFunctionName);
        existing && existing.getFunctionType() != calleeType) {
      existing.emitError("'") << kObserveFunctionName
                              << "' is declared with the wrong type "
                              << existing.getFunctionType() << ", expected "
                              << calleeType;
      return signalPassFailure();
    }

    for (ObserveOp tap : taps) {
      OpBuilder builder(tap);
      Location loc = tap.getLoc();
      Value x = convertToF32(builder, loc, tap.getInput());
      Value erased = tensor::CastOp::create(builder, loc, unranked, x);
      Value id = arith::ConstantIntOp::create(builder, loc, ids[tap.getName()],
                                              64);
      func::CallOp::create(builder, loc, kObserveFunctionName, TypeRange{},
                           ValueRange{id, erased});
      tap.getResult().replaceAllUsesWith(tap.getInput());
      tap.erase();
    }

    SmallVector<Attribute> names;
    for (auto &entry : ids)
      names.push_back(StringAttr::get(context, entry.first));
    module->setAttr(kCalibrationLayersAttrName, ArrayAttr::get(context, names));
  }
};

} // namespace
