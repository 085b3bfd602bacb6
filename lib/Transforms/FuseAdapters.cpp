//===- FuseAdapters.cpp - Fuse quantized layers with their adapters -------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "qwha-fuse-adapters"

namespace qwha {
#define GEN_PASS_DEF_FUSEADAPTERS
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// Builds the fused layer when {lhs, rhs} are a quantized layer and the
/// adapter product on the same input.
FailureOr<Value> fuse(PatternRewriter &rewriter, Operation *sum, Value lhs,
                      Value rhs) {
  for (auto [a, b] : {std::pair{lhs, rhs}, std::pair{rhs, lhs}}) {
    auto layer = a.getDefiningOp<QLinearOp>();
    auto product = b.getDefiningOp<SparseLinearOp>();
    if (!layer || !product || !layer->hasOneUse() || !product->hasOneUse())
      continue;
    auto transform = product.getInput().getDefiningOp<FWHTOp>();
    if (!transform || !transform.getNormalized() ||
        transform.getInput() != layer.getInput() ||
        product.getType() != layer.getType())
      continue;
    auto fused = QLinearWHAOp::create(
        rewriter, sum->getLoc(), layer.getType(), layer.getNameAttr(),
        layer.getInput(), layer.getCodes(), layer.getScales(), layer.getZeros(),
        layer.getGIdx(), product.getRowOffsets(), product.getCols(),
        product.getValues(), layer.getGroupSizeAttr());
    return fused.getResult();
  }
  return rewriter.notifyMatchFailure(sum, "not a quantized layer plus its "
                                          "adapter on the same input");
}

struct FuseLinalgAdd : OpRewritePattern<linalg::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::AddOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics())
      return failure();
    FailureOr<Value> fused =
        fuse(rewriter, op, op.getInputs()[0], op.getInputs()[1]);
    if (failed(fused) || fused->getType() != op.getResultTypes()[0])
      return failure();
    rewriter.replaceOp(op, *fused);
    return success();
  }
};

struct FuseArithAdd : OpRewritePattern<arith::AddFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::AddFOp op,
                                PatternRewriter &rewriter) const override {
    if (!isa<RankedTensorType>(op.getType()))
      return failure();
    FailureOr<Value> fused = fuse(rewriter, op, op.getLhs(), op.getRhs());
    if (failed(fused) || fused->getType() != op.getType())
      return failure();
    rewriter.replaceOp(op, *fused);
    return success();
  }
};

struct FuseAdaptersPass
    : public qwha::impl::FuseAdaptersBase<FuseAdaptersPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseLinalgAdd, FuseArithAdd>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
