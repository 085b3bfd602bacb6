//===- QWHAOps.cpp - QWHA operations --------------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/Hadamard.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace qwha;

bool qwha::isSupportedCodeWidth(unsigned bits) {
  return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

//===----------------------------------------------------------------------===//
// Shared verification
//===----------------------------------------------------------------------===//

namespace {
/// Prints a shape as [2, ?, 4].
struct ShapePrinter {
  ArrayRef<int64_t> shape;
};
Diagnostic &operator<<(Diagnostic &diag, ShapePrinter s) {
  diag << "[";
  llvm::interleaveComma(s.shape, diag, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      diag << "?";
    else
      diag << d;
  });
  return diag << "]";
}
} // namespace

static LogicalResult verifyLayerName(Operation *op, StringRef name) {
  if (name.empty())
    return op->emitOpError("layer name must not be empty");
  return success();
}

/// Checks that `result` keeps the leading dimensions and element type of
/// `input`, as every op mapping the last dimension K to N does.
static LogicalResult verifyRowwiseMap(Operation *op, RankedTensorType input,
                                      RankedTensorType result) {
  if (input.getRank() < 1)
    return op->emitOpError("input must have rank >= 1, got a rank-0 tensor");
  if (result.getRank() != input.getRank())
    return op->emitOpError("result rank ")
           << result.getRank() << " must equal the input rank "
           << input.getRank();
  if (result.getElementType() != input.getElementType())
    return op->emitOpError("result element type ")
           << result.getElementType() << " must match the input element type "
           << input.getElementType();
  for (int64_t i = 0, e = input.getRank() - 1; i < e; ++i)
    if (result.getDimSize(i) != input.getDimSize(i))
      return op->emitOpError("result dimension #")
             << i << " must equal input dimension #" << i << " (shapes "
             << ShapePrinter{result.getShape()} << " and "
             << ShapePrinter{input.getShape()} << ")";
  return success();
}

/// Checks that the weight-side features agree with the activation sides.
static LogicalResult verifyFeatures(Operation *op, StringRef what,
                                    int64_t outFeatures, int64_t inFeatures,
                                    RankedTensorType input,
                                    RankedTensorType result) {
  int64_t inputK = input.getShape().back();
  if (!ShapedType::isDynamic(inputK) && !ShapedType::isDynamic(inFeatures) &&
      inputK != inFeatures)
    return op->emitOpError()
           << what << " has " << inFeatures
           << " input features but the input's last dimension is " << inputK;
  int64_t resultN = result.getShape().back();
  if (!ShapedType::isDynamic(resultN) && !ShapedType::isDynamic(outFeatures) &&
      resultN != outFeatures)
    return op->emitOpError()
           << what << " has " << outFeatures
           << " output features but the result's last dimension is "
           << resultN;
  return success();
}

LogicalResult qwha::detail::verifyLayerOp(Operation *op) {
  auto layer = cast<LayerOpInterface>(op);
  if (failed(verifyLayerName(op, layer.getLayerName())))
    return failure();
  return verifyRowwiseMap(
      op, layer.getInput().getType(),
      cast<RankedTensorType>(op->getResult(0).getType()));
}

LogicalResult qwha::detail::verifyQuantizedWeightOp(Operation *op) {
  auto weight = cast<QuantizedWeightOpInterface>(op);
  RankedTensorType codes = weight.getCodes().getType();
  if (codes.getRank() != 2)
    return op->emitOpError("codes must be a 2-D tensor [out, in], got rank ")
           << codes.getRank();
  if (!codes.hasStaticShape())
    return op->emitOpError("codes must have a static shape, got ")
           << ShapePrinter{codes.getShape()};
  auto codeType = cast<IntegerType>(codes.getElementType());
  if (!isSupportedCodeWidth(codeType.getWidth()))
    return op->emitOpError("codes must have element type i2, i3, i4 or i8, got ")
           << codeType;

  const int64_t n = codes.getDimSize(0), k = codes.getDimSize(1);
  const int64_t groupSize = weight.getGroupSize();
  if (groupSize != -1 && (groupSize <= 0 || k % groupSize != 0))
    return op->emitOpError("group_size must be -1 (per-channel) or a positive "
                           "divisor of the ")
           << k << " input features, got " << groupSize;
  const int64_t groups = groupSize == -1 ? 1 : k / groupSize;
  SmallVector<int64_t> gridShape = {n, groups};

  RankedTensorType scales = weight.getScales().getType();
  if (scales.getShape() != ArrayRef<int64_t>(gridShape))
    return op->emitOpError("scales must have shape [N, G] = ")
           << ShapePrinter{gridShape} << ", got "
           << ShapePrinter{scales.getShape()};

  RankedTensorType zeros = weight.getZeros().getType();
  if (zeros.getShape() != ArrayRef<int64_t>(gridShape))
    return op->emitOpError("zeros must have shape [N, G] = ")
           << ShapePrinter{gridShape} << ", got "
           << ShapePrinter{zeros.getShape()};
  Type zeroType = zeros.getElementType();
  if (zeroType != codeType && zeroType != scales.getElementType())
    return op->emitOpError("zeros must have the codes' element type ")
           << codeType << " or the scales' element type "
           << scales.getElementType() << ", got " << zeroType;

  if (auto gIdx = weight.getGIdx()) {
    RankedTensorType gIdxType = gIdx.getType();
    if (gIdxType.getRank() != 1 || gIdxType.getDimSize(0) != k)
      return op->emitOpError("g_idx must have shape [K] = [")
             << k << "], got " << ShapePrinter{gIdxType.getShape()};
    if (!gIdxType.getElementType().isInteger(32))
      return op->emitOpError("g_idx must have element type i32, got ")
             << gIdxType.getElementType();
  }
  return success();
}

/// Checks a CSR matrix with `rows` rows applied to `input`.
static LogicalResult verifyCSR(Operation *op, RankedTensorType input,
                               RankedTensorType rowOffsets,
                               RankedTensorType cols, RankedTensorType values,
                               int64_t rows) {
  if (rowOffsets.getRank() != 1 || !rowOffsets.getElementType().isInteger(32))
    return op->emitOpError("row_offsets must be a 1-D tensor of i32, got ")
           << rowOffsets;
  if (!ShapedType::isDynamic(rows) && rowOffsets.getDimSize(0) != rows + 1)
    return op->emitOpError("row_offsets must have N + 1 = ")
           << rows + 1 << " entries, got "
           << ShapePrinter{rowOffsets.getShape()};
  if (cols.getRank() != 1 || !cols.getElementType().isInteger(32))
    return op->emitOpError("cols must be a 1-D tensor of i32, got ") << cols;
  if (values.getRank() != 1)
    return op->emitOpError("values must be a 1-D tensor, got ") << values;
  if (!ShapedType::isDynamic(cols.getDimSize(0)) &&
      !ShapedType::isDynamic(values.getDimSize(0)) &&
      cols.getDimSize(0) != values.getDimSize(0))
    return op->emitOpError("cols and values must have the same number of "
                           "entries, got ")
           << cols.getDimSize(0) << " and " << values.getDimSize(0);
  if (values.getElementType() != input.getElementType())
    return op->emitOpError("values element type ")
           << values.getElementType() << " must match the input element type "
           << input.getElementType();
  return success();
}

//===----------------------------------------------------------------------===//
// Shared folds and patterns for ops reading a quantized weight
//===----------------------------------------------------------------------===//

/// A per-channel grid has one canonical spelling: group_size = -1.
template <typename OpTy>
static OpFoldResult foldPerChannelGroupSize(OpTy op) {
  int64_t k = op.getCodes().getType().getDimSize(1);
  if (op.getGroupSize() == k) {
    op.setGroupSize(-1);
    return op.getResult();
  }
  return {};
}

namespace {
/// Drops a constant g_idx that assigns every column k to group k / g: it says
/// nothing the group size does not already say, and it blocks the fast
/// contiguous-group lowerings.
template <typename OpTy>
struct DropIdentityGroupIndex : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value gIdx = op.getGIdx();
    if (!gIdx)
      return rewriter.notifyMatchFailure(op, "no g_idx");
    DenseIntElementsAttr values;
    if (!matchPattern(gIdx, m_Constant(&values)))
      return rewriter.notifyMatchFailure(op, "g_idx is not a constant");
    int64_t groupSize =
        cast<QuantizedWeightOpInterface>(op.getOperation())
            .getEffectiveGroupSize();
    int64_t k = 0;
    for (const APInt &group : values.getValues<APInt>()) {
      if (group.getSExtValue() != k / groupSize)
        return rewriter.notifyMatchFailure(op, "g_idx is not k / group_size");
      ++k;
    }
    rewriter.modifyOpInPlace(op, [&] { op.getGIdxMutable().clear(); });
    return success();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType weight = getWeight().getType();
  if (weight.getRank() != 2)
    return emitOpError("weight must be a 2-D tensor [out, in], got rank ")
           << weight.getRank();
  if (weight.getElementType() != getInput().getType().getElementType())
    return emitOpError("weight element type ")
           << weight.getElementType() << " must match the input element type "
           << getInput().getType().getElementType();
  return verifyFeatures(*this, "weight", weight.getDimSize(0),
                        weight.getDimSize(1), getInput().getType(),
                        getResult().getType());
}

namespace {
/// linear(x, dequantize(codes, ...)) is qlinear(x, codes, ...): keeping the
/// weight quantized lets the lowering pick a fused kernel.
struct LinearOfDequantize : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    auto dequant = op.getWeight().getDefiningOp<DequantizeOp>();
    if (!dequant)
      return rewriter.notifyMatchFailure(op, "weight is not dequantized");
    rewriter.replaceOpWithNewOp<QLinearOp>(
        op, op.getResult().getType(), op.getNameAttr(), op.getInput(),
        dequant.getCodes(), dequant.getScales(), dequant.getZeros(),
        dequant.getGIdx(), dequant.getGroupSizeAttr());
    return success();
  }
};
} // namespace

void LinearOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<LinearOfDequantize>(context);
}

//===----------------------------------------------------------------------===//
// QLinearOp
//===----------------------------------------------------------------------===//

LogicalResult QLinearOp::verify() {
  RankedTensorType codes = getCodes().getType();
  return verifyFeatures(*this, "codes", codes.getDimSize(0),
                        codes.getDimSize(1), getInput().getType(),
                        getResult().getType());
}

OpFoldResult QLinearOp::fold(FoldAdaptor) {
  return foldPerChannelGroupSize(*this);
}

void QLinearOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<DropIdentityGroupIndex<QLinearOp>>(context);
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  RankedTensorType codes = getCodes().getType();
  RankedTensorType result = getResult().getType();
  if (result.getShape() != codes.getShape())
    return emitOpError("result must have the codes' shape ")
           << ShapePrinter{codes.getShape()} << ", got "
           << ShapePrinter{result.getShape()};
  return success();
}

OpFoldResult DequantizeOp::fold(FoldAdaptor) {
  return foldPerChannelGroupSize(*this);
}

void DequantizeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                               MLIRContext *context) {
  results.add<DropIdentityGroupIndex<DequantizeOp>>(context);
}

//===----------------------------------------------------------------------===//
// FWHTOp
//===----------------------------------------------------------------------===//

LogicalResult FWHTOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() < 1)
    return emitOpError("input must have rank >= 1, got a rank-0 tensor");
  int64_t d = type.getShape().back();
  if (ShapedType::isDynamic(d))
    return emitOpError("the transformed (last) dimension must be static");
  if (!quant::factorHadamardSize(d))
    return emitOpError("has no Hadamard matrix of order ")
           << d
           << ": the size must be 2^n * m with m = 1 or a Paley order (q + 1 "
              "for a prime power q = 3 mod 4, 2(q + 1) for q = 1 mod 4)";
  return success();
}

OpFoldResult FWHTOp::fold(FoldAdaptor) {
  // H H = I for a symmetric orthonormal H.
  auto inner = getInput().getDefiningOp<FWHTOp>();
  if (!inner || !getNormalized() || !inner.getNormalized())
    return {};
  if (!quant::isSymmetricHadamardSize(getType().getShape().back()))
    return {};
  return inner.getInput();
}

//===----------------------------------------------------------------------===//
// SparseLinearOp
//===----------------------------------------------------------------------===//

LogicalResult SparseLinearOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  if (failed(verifyRowwiseMap(*this, input, result)))
    return failure();
  RankedTensorType rowOffsets = getRowOffsets().getType();
  int64_t rows = ShapedType::kDynamic;
  if (rowOffsets.getRank() == 1 && !rowOffsets.isDynamicDim(0)) {
    if (rowOffsets.getDimSize(0) < 1)
      return emitOpError("row_offsets must have at least one entry");
    rows = rowOffsets.getDimSize(0) - 1;
  }
  if (failed(verifyCSR(*this, input, rowOffsets, getCols().getType(),
                       getValues().getType(), ShapedType::kDynamic)))
    return failure();
  int64_t resultN = result.getShape().back();
  if (!ShapedType::isDynamic(rows) && !ShapedType::isDynamic(resultN) &&
      rows != resultN)
    return emitOpError("result's last dimension ")
           << resultN << " must equal the number of rows of the matrix ("
           << rows << ", from row_offsets)";
  return success();
}

//===----------------------------------------------------------------------===//
// QLinearWHAOp
//===----------------------------------------------------------------------===//

LogicalResult QLinearWHAOp::verify() {
  RankedTensorType codes = getCodes().getType();
  if (failed(verifyFeatures(*this, "codes", codes.getDimSize(0),
                            codes.getDimSize(1), getInput().getType(),
                            getResult().getType())))
    return failure();
  if (failed(verifyCSR(*this, getInput().getType(), getRowOffsets().getType(),
                       getCols().getType(), getValues().getType(),
                       codes.getDimSize(0))))
    return failure();
  int64_t k = codes.getDimSize(1);
  if (!quant::factorHadamardSize(k))
    return emitOpError("has no Hadamard matrix of order ")
           << k << " for the adapter's input transform";
  return success();
}

OpFoldResult QLinearWHAOp::fold(FoldAdaptor) {
  return foldPerChannelGroupSize(*this);
}

namespace {
/// An adapter without entries adds nothing.
struct DropEmptyAdapter : OpRewritePattern<QLinearWHAOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QLinearWHAOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getCols().getType().getDimSize(0) != 0)
      return rewriter.notifyMatchFailure(op, "adapter has entries");
    rewriter.replaceOpWithNewOp<QLinearOp>(
        op, op.getResult().getType(), op.getNameAttr(), op.getInput(),
        op.getCodes(), op.getScales(), op.getZeros(), op.getGIdx(),
        op.getGroupSizeAttr());
    return success();
  }
};
} // namespace

void QLinearWHAOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                               MLIRContext *context) {
  results.add<DropIdentityGroupIndex<QLinearWHAOp>, DropEmptyAdapter>(context);
}

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  if (failed(verifyLayerName(*this, getName())))
    return failure();
  if (getInput().getType().getRank() < 1)
    return emitOpError("input must have rank >= 1, got a rank-0 tensor");
  return success();
}

#include "qwha/Dialect/QWHA/QWHAInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "qwha/Dialect/QWHA/QWHAOps.cpp.inc"
