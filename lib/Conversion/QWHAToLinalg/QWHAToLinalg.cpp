//===- QWHAToLinalg.cpp - Lower qwha ops to linalg ------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The generic lowering, on tensors. Composite ops (qlinear, qlinear_wha)
// rewrite into simpler qwha ops, which the conversion driver legalizes in
// turn, so every formula is written once.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToLinalg/QWHAToLinalg.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/Hadamard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>

#define DEBUG_TYPE "convert-qwha-to-linalg"

namespace qwha {
#define GEN_PASS_DEF_CONVERTQWHATOLINALG
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// Sizes of `type`'s dimensions: static ones from the type, dynamic ones
/// read from `source` at the same position, except `axis` (when set), whose
/// dynamic size is `axisSize`.
SmallVector<OpFoldResult> getMixedSizes(OpBuilder &b, Location loc,
                                        RankedTensorType type, Value source,
                                        int64_t axis = -1,
                                        OpFoldResult axisSize = {}) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (!type.isDynamicDim(i))
      sizes.push_back(b.getIndexAttr(type.getDimSize(i)));
    else if (i == axis)
      sizes.push_back(axisSize);
    else
      sizes.push_back(tensor::DimOp::create(b, loc, source, i).getResult());
  }
  return sizes;
}

Value createZeros(OpBuilder &b, Location loc, RankedTensorType type,
                  ArrayRef<OpFoldResult> sizes) {
  Value empty =
      tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  Value zero = arith::ConstantOp::create(
      b, loc, b.getZeroAttr(type.getElementType()));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// Converts a float scalar to `type` by extension or truncation.
Value castFloat(OpBuilder &b, Location loc, Value value, FloatType type) {
  auto from = cast<FloatType>(value.getType());
  if (from == type)
    return value;
  if (from.getWidth() < type.getWidth())
    return arith::ExtFOp::create(b, loc, type, value);
  // Same width, other format (f16 <-> bf16): go through f32.
  if (from.getWidth() == type.getWidth())
    value = arith::ExtFOp::create(b, loc, b.getF32Type(), value);
  return arith::TruncFOp::create(b, loc, type, value);
}

/// An unsigned integer code (or integer zero point) as a float of `type`.
Value codeToFloat(OpBuilder &b, Location loc, Value code, FloatType type) {
  Value wide = arith::ExtUIOp::create(b, loc, b.getI32Type(), code);
  return arith::UIToFPOp::create(b, loc, type, wide);
}

/// (code - zero) * scale, in the result's float type.
Value dequantizeScalar(OpBuilder &b, Location loc, Value code, Value scale,
                       Value zero, FloatType type) {
  Value codeF = codeToFloat(b, loc, code, type);
  Value zeroF = isa<IntegerType>(zero.getType())
                    ? codeToFloat(b, loc, zero, type)
                    : castFloat(b, loc, zero, type);
  Value diff = arith::SubFOp::create(b, loc, codeF, zeroF);
  return arith::MulFOp::create(b, loc, diff, castFloat(b, loc, scale, type));
}

/// A linalg.generic contraction `out[lhs..., n] += x[lhs..., k] * w[n, k]`
/// shared by qwha.linear and the fwht stages.
Value buildContraction(OpBuilder &b, Location loc, Value input, Value matrix,
                       RankedTensorType resultType, int64_t axis) {
  // Loops: the result's dimensions, then the reduction j. The contracted
  // axis of `input` is j; the matrix is indexed (result[axis], j).
  MLIRContext *ctx = b.getContext();
  const int64_t rank = resultType.getRank();
  SmallVector<AffineExpr> inputExprs, outputExprs;
  for (int64_t i = 0; i < rank; ++i) {
    outputExprs.push_back(getAffineDimExpr(i, ctx));
    inputExprs.push_back(getAffineDimExpr(i == axis ? rank : i, ctx));
  }
  AffineExpr row = getAffineDimExpr(axis, ctx), col = getAffineDimExpr(rank, ctx);
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank + 1, 0, inputExprs, ctx),
      AffineMap::get(rank + 1, 0, {row, col}, ctx),
      AffineMap::get(rank + 1, 0, outputExprs, ctx)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  Value init = createZeros(
      b, loc, resultType,
      getMixedSizes(b, loc, resultType, input, axis,
                    tensor::getMixedSize(b, loc, matrix, 0)));
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, ValueRange{input, matrix}, ValueRange{init}, maps,
      iterators, [](OpBuilder &nb, Location nl, ValueRange args) {
        Value product = arith::MulFOp::create(nb, nl, args[0], args[1]);
        Value sum = arith::AddFOp::create(nb, nl, args[2], product);
        linalg::YieldOp::create(nb, nl, sum);
      });
  return generic.getResult(0);
}

//===----------------------------------------------------------------------===//
// qwha.linear
//===----------------------------------------------------------------------===//

struct LinearOpLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    RankedTensorType resultType = op.getResult().getType();
    rewriter.replaceOp(op, buildContraction(rewriter, op.getLoc(),
                                            adaptor.getInput(),
                                            adaptor.getWeight(), resultType,
                                            resultType.getRank() - 1));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// qwha.dequantize
//===----------------------------------------------------------------------===//

struct DequantizeOpLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value result = adaptor.getGIdx() ? lowerGathered(op, adaptor, rewriter)
                                     : lowerGrouped(op, adaptor, rewriter);
    rewriter.replaceOp(op, result);
    return success();
  }

private:
  /// Contiguous groups: view codes as [N, G, group] so that scales and
  /// zeros are read through projections, in the form dispatch-region
  /// formation recognises as a dequantization.
  Value lowerGrouped(DequantizeOp op, OpAdaptor adaptor,
                     ConversionPatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RankedTensorType resultType = op.getResult().getType();
    auto floatType = cast<FloatType>(resultType.getElementType());
    const int64_t n = resultType.getDimSize(0);
    const int64_t groups = op.getNumGroups();
    const int64_t groupSize = op.getEffectiveGroupSize();
    auto codesType = op.getCodes().getType();

    SmallVector<ReassociationIndices> reassociation = {{0}, {1, 2}};
    auto groupedCodesType = RankedTensorType::get(
        {n, groups, groupSize}, codesType.getElementType());
    Value groupedCodes = tensor::ExpandShapeOp::create(
        rewriter, loc, groupedCodesType, adaptor.getCodes(), reassociation);
    auto groupedType =
        RankedTensorType::get({n, groups, groupSize}, floatType);
    Value init = tensor::EmptyOp::create(rewriter, loc, groupedType.getShape(),
                                         floatType);

    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    AffineMap full = AffineMap::get(3, 0, {d0, d1, d2}, ctx);
    AffineMap perGroup = AffineMap::get(3, 0, {d0, d1}, ctx);
    SmallVector<utils::IteratorType> iterators(3,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, groupedType,
        ValueRange{groupedCodes, adaptor.getScales(), adaptor.getZeros()},
        ValueRange{init}, ArrayRef<AffineMap>{full, perGroup, perGroup, full},
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(
              b, l, dequantizeScalar(b, l, args[0], args[1], args[2], floatType));
        });
    return tensor::CollapseShapeOp::create(rewriter, loc, resultType,
                                           generic.getResult(0), reassociation);
  }

  /// Act-order: each column's group comes from g_idx, so scale and zero are
  /// gathered per element.
  Value lowerGathered(DequantizeOp op, OpAdaptor adaptor,
                      ConversionPatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RankedTensorType resultType = op.getResult().getType();
    auto floatType = cast<FloatType>(resultType.getElementType());
    Value scales = adaptor.getScales(), zeros = adaptor.getZeros();
    Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                         floatType);
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
    AffineMap full = AffineMap::get(2, 0, {d0, d1}, ctx);
    AffineMap perColumn = AffineMap::get(2, 0, {d1}, ctx);
    SmallVector<utils::IteratorType> iterators(2,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType,
        ValueRange{adaptor.getCodes(), adaptor.getGIdx()}, ValueRange{init},
        ArrayRef<AffineMap>{full, perColumn, full}, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = linalg::IndexOp::create(b, l, 0);
          Value group = arith::IndexCastOp::create(b, l, b.getIndexType(),
                                                   args[1]);
          Value scale =
              tensor::ExtractOp::create(b, l, scales, ValueRange{row, group});
          Value zero =
              tensor::ExtractOp::create(b, l, zeros, ValueRange{row, group});
          linalg::YieldOp::create(
              b, l, dequantizeScalar(b, l, args[0], scale, zero, floatType));
        });
    return generic.getResult(0);
  }
};

//===----------------------------------------------------------------------===//
// qwha.qlinear and qwha.qlinear_wha: rewrite into simpler qwha ops
//===----------------------------------------------------------------------===//

struct QLinearOpLowering : OpConversionPattern<QLinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QLinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto weightType =
        RankedTensorType::get(op.getCodes().getType().getShape(),
                              op.getInput().getType().getElementType());
    Value weight = DequantizeOp::create(
        rewriter, loc, weightType, adaptor.getCodes(), adaptor.getScales(),
        adaptor.getZeros(), adaptor.getGIdx(), op.getGroupSizeAttr());
    rewriter.replaceOpWithNewOp<LinearOp>(op, op.getResult().getType(),
                                          op.getNameAttr(), adaptor.getInput(),
                                          weight);
    return success();
  }
};

struct QLinearWHAOpLowering : OpConversionPattern<QLinearWHAOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QLinearWHAOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, decomposeQLinearWHA(rewriter, op));
    return success();
  }
};

} // namespace

Value qwha::decomposeQLinearWHA(OpBuilder &b, QLinearWHAOp op) {
  Location loc = op.getLoc();
  RankedTensorType resultType = op.getResult().getType();
  Value base = QLinearOp::create(b, loc, resultType, op.getNameAttr(),
                                 op.getInput(), op.getCodes(), op.getScales(),
                                 op.getZeros(), op.getGIdx(),
                                 op.getGroupSizeAttr());
  Value transformed = FWHTOp::create(b, loc, op.getInput(),
                                     /*normalized=*/true);
  Value adapter =
      SparseLinearOp::create(b, loc, resultType, transformed,
                             op.getRowOffsets(), op.getCols(), op.getValues());
  Value init =
      tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, base),
                              resultType.getElementType());
  return linalg::AddOp::create(b, loc, ValueRange{base, adapter},
                               ValueRange{init})
      .getResult(0);
}

namespace {

//===----------------------------------------------------------------------===//
// qwha.fwht
//===----------------------------------------------------------------------===//

struct FWHTOpLowering : OpConversionPattern<FWHTOp> {
  using OpConversionPattern::OpConversionPattern;

  /// Sylvester factors are applied 16 at a time: a 16x16 contraction per
  /// axis trades a few redundant flops for four times fewer passes over the
  /// data than 2x2 butterflies.
  static constexpr int64_t kMaxSylvesterFactor = 16;

  LogicalResult
  matchAndRewrite(FWHTOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    auto floatType = cast<FloatType>(type.getElementType());
    const int64_t rank = type.getRank();
    const int64_t d = type.getShape().back();
    std::optional<quant::HadamardSize> factored = quant::factorHadamardSize(d);
    if (!factored)
      return rewriter.notifyMatchFailure(op, "no Hadamard matrix of this order");
    quant::HadamardSize size = *factored;
    // Reported by the pass before the conversion starts.
    if (size.baseOrder > quant::kMaxLoweredBaseOrder)
      return rewriter.notifyMatchFailure(op, "base Hadamard matrix too large");

    // Factors of H_d along new trailing axes, outermost first.
    SmallVector<int64_t> factors;
    for (int64_t rest = size.powerOfTwo; rest > 1;) {
      int64_t f = std::min(rest, kMaxSylvesterFactor);
      factors.push_back(f);
      rest /= f;
    }
    if (size.baseOrder > 1 || factors.empty())
      factors.push_back(size.baseOrder);

    SmallVector<int64_t> expandedShape(type.getShape().drop_back());
    expandedShape.append(factors.begin(), factors.end());
    auto expandedType = RankedTensorType::get(expandedShape, floatType);
    SmallVector<ReassociationIndices> reassociation;
    for (int64_t i = 0; i + 1 < rank; ++i)
      reassociation.push_back({i});
    ReassociationIndices last;
    for (size_t i = 0; i < factors.size(); ++i)
      last.push_back(rank - 1 + i);
    reassociation.push_back(last);

    Value x = adaptor.getInput();
    if (factors.size() > 1)
      x = tensor::ExpandShapeOp::create(rewriter, loc, expandedType, x,
                                        reassociation);
    else
      expandedType = type;

    const double scale = op.getNormalized() ? 1.0 / std::sqrt(double(d)) : 1.0;
    for (auto [i, f] : llvm::enumerate(factors)) {
      bool isBase = size.baseOrder > 1 && i + 1 == factors.size();
      // The normalization rides on the first factor.
      Value matrix = buildFactor(rewriter, loc, f, isBase, floatType,
                                 i == 0 ? scale : 1.0);
      x = buildContraction(rewriter, loc, x, matrix, expandedType,
                           rank - 1 + i);
    }
    if (factors.size() > 1)
      x = tensor::CollapseShapeOp::create(rewriter, loc, type, x,
                                          reassociation);
    rewriter.replaceOp(op, x);
    return success();
  }

private:
  static Value buildFactor(OpBuilder &b, Location loc, int64_t order,
                           bool isBase, FloatType floatType, double scale) {
    std::vector<int8_t> signs;
    if (isBase) {
      signs = quant::buildBaseHadamardMatrix(order);
    } else {
      signs.resize(order * order);
      for (int64_t i = 0; i < order; ++i)
        for (int64_t j = 0; j < order; ++j)
          signs[i * order + j] =
              llvm::popcount(static_cast<uint64_t>(i & j)) % 2 ? -1 : 1;
    }
    SmallVector<APFloat> values;
    values.reserve(signs.size());
    for (int8_t s : signs) {
      APFloat v(scale * s);
      bool losesInfo;
      v.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &losesInfo);
      values.push_back(v);
    }
    auto matrixType = RankedTensorType::get({order, order}, floatType);
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(matrixType, values));
  }
};

//===----------------------------------------------------------------------===//
// qwha.sparse_linear
//===----------------------------------------------------------------------===//

struct SparseLinearOpLowering : OpConversionPattern<SparseLinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SparseLinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RankedTensorType resultType = op.getResult().getType();
    const int64_t rank = resultType.getRank();
    Value input = adaptor.getInput();
    Value cols = adaptor.getCols(), values = adaptor.getValues();

    // Row n's entries are [row_offsets[n], row_offsets[n + 1]): read both
    // ends through two shifted slices.
    Value offsets = adaptor.getRowOffsets();
    auto offsetsType = cast<RankedTensorType>(offsets.getType());
    OpFoldResult rowCount =
        offsetsType.isDynamicDim(0)
            ? OpFoldResult(arith::SubIOp::create(
                  rewriter, loc,
                  tensor::DimOp::create(rewriter, loc, offsets, 0),
                  arith::ConstantIndexOp::create(rewriter, loc, 1)))
            : OpFoldResult(rewriter.getIndexAttr(offsetsType.getDimSize(0) - 1));
    auto slice = [&](int64_t offset) -> Value {
      return tensor::ExtractSliceOp::create(
          rewriter, loc, offsets,
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{rowCount}, ArrayRef<OpFoldResult>{
                                                rewriter.getIndexAttr(1)});
    };
    Value begins = slice(0), ends = slice(1);

    SmallVector<AffineExpr> outputExprs;
    for (int64_t i = 0; i < rank; ++i)
      outputExprs.push_back(getAffineDimExpr(i, ctx));
    AffineMap full = AffineMap::get(rank, 0, outputExprs, ctx);
    AffineMap perRow =
        AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    // Leading dimensions follow the input; the last one is the row count.
    Value init = tensor::EmptyOp::create(
        rewriter, loc,
        getMixedSizes(rewriter, loc, resultType, input, rank - 1, rowCount),
        resultType.getElementType());

    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType, ValueRange{begins, ends}, ValueRange{init},
        ArrayRef<AffineMap>{perRow, perRow, full}, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> position;
          for (int64_t i = 0; i + 1 < rank; ++i)
            position.push_back(linalg::IndexOp::create(b, l, i));
          Value begin =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
          Value end =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[1]);
          Value one = arith::ConstantIndexOp::create(b, l, 1);
          Value zero = arith::ConstantOp::create(
              b, l, b.getZeroAttr(resultType.getElementType()));
          auto loop = scf::ForOp::create(
              b, l, begin, end, one, ValueRange{zero},
              [&](OpBuilder &lb, Location ll, Value p, ValueRange iterArgs) {
                Value col = tensor::ExtractOp::create(lb, ll, cols, p);
                Value value = tensor::ExtractOp::create(lb, ll, values, p);
                SmallVector<Value> at(position);
                at.push_back(arith::IndexCastOp::create(
                    lb, ll, lb.getIndexType(), col));
                Value x = tensor::ExtractOp::create(lb, ll, input, at);
                Value product = arith::MulFOp::create(lb, ll, value, x);
                Value sum = arith::AddFOp::create(lb, ll, iterArgs[0], product);
                scf::YieldOp::create(lb, ll, sum);
              });
          linalg::YieldOp::create(b, l, loop.getResult(0));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct ConvertQWHAToLinalgPass
    : public qwha::impl::ConvertQWHAToLinalgBase<ConvertQWHAToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    WalkResult observed = root->walk([](ObserveOp op) {
      op.emitOpError("has no lowering to linalg: calibration taps are "
                     "executed by the calibration runtime, not compiled; "
                     "remove them before lowering");
      return WalkResult::interrupt();
    });
    if (observed.wasInterrupted())
      return signalPassFailure();
    // Valid transform sizes whose base matrix H_m, which the lowering builds
    // as an m x m constant, would take minutes and gigabytes.
    WalkResult tooLarge = root->walk([](Operation *op) {
      int64_t d;
      if (auto fwht = dyn_cast<FWHTOp>(op))
        d = fwht.getType().getShape().back();
      else if (isa<QLinearWHAOp>(op))
        d = cast<LayerOpInterface>(op).getInFeatures();
      else
        return WalkResult::advance();
      std::optional<quant::HadamardSize> size = quant::factorHadamardSize(d);
      if (!size || size->baseOrder <= quant::kMaxLoweredBaseOrder)
        return WalkResult::advance();
      op->emitOpError() << "has a Walsh-Hadamard transform of size " << d
                        << " = " << size->powerOfTwo << " x "
                        << size->baseOrder << ", whose " << size->baseOrder
                        << "x" << size->baseOrder
                        << " base matrix is too large to build (the "
                           "lowering builds them up to order "
                        << quant::kMaxLoweredBaseOrder << ")";
      return WalkResult::interrupt();
    });
    if (tooLarge.wasInterrupted())
      return signalPassFailure();

    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           scf::SCFDialect, tensor::TensorDialect>();
    target.addIllegalDialect<QWHADialect>();
    RewritePatternSet patterns(context);
    populateQWHAToLinalgConversionPatterns(patterns);
    if (failed(applyPartialConversion(root, target, std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void qwha::populateQWHAToLinalgConversionPatterns(RewritePatternSet &patterns) {
  patterns.add<LinearOpLowering, DequantizeOpLowering, QLinearOpLowering,
               QLinearWHAOpLowering, FWHTOpLowering, SparseLinearOpLowering>(
      patterns.getContext());
}
