//===- FoldDequantize.cpp - Fold qwha.dequantize of constants -------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/QuantizedWeight.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#define DEBUG_TYPE "qwha-fold-dequantize"

namespace qwha {
#define GEN_PASS_DEF_FOLDDEQUANTIZE
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

std::vector<float> toFloats(DenseElementsAttr attr) {
  std::vector<float> values;
  values.reserve(attr.getNumElements());
  if (isa<FloatType>(attr.getElementType())) {
    for (APFloat v : attr.getValues<APFloat>()) {
      bool losesInfo;
      v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                &losesInfo);
      values.push_back(v.convertToFloat());
    }
  } else {
    for (const APInt &v : attr.getValues<APInt>())
      values.push_back(float(v.getZExtValue()));
  }
  return values;
}

/// The folded float weight of `op`, or null when it does not fold. Emits a
/// warning when the operands are constants whose data is invalid.
DenseElementsAttr foldToConstant(DequantizeOp op, int64_t maxElements) {
  RankedTensorType resultType = op.getResult().getType();
  if (resultType.getNumElements() > maxElements)
    return {};
  DenseElementsAttr codes, scales, zeros, gIdx;
  if (!matchPattern(op.getCodes(), m_Constant(&codes)) ||
      !matchPattern(op.getScales(), m_Constant(&scales)) ||
      !matchPattern(op.getZeros(), m_Constant(&zeros)) ||
      (op.getGIdx() && !matchPattern(op.getGIdx(), m_Constant(&gIdx))))
    return {};

  std::vector<uint8_t> codeValues;
  codeValues.reserve(codes.getNumElements());
  for (const APInt &v : codes.getValues<APInt>())
    codeValues.push_back(uint8_t(v.getZExtValue()));
  std::vector<int32_t> gIdxValues;
  if (gIdx)
    for (const APInt &v : gIdx.getValues<APInt>())
      gIdxValues.push_back(int32_t(v.getSExtValue()));
  std::vector<float> scaleValues = toFloats(scales);
  std::vector<float> zeroValues = toFloats(zeros);

  quant::QuantizedWeightView weight;
  weight.rows = resultType.getDimSize(0);
  weight.cols = resultType.getDimSize(1);
  weight.groupSize = op.getEffectiveGroupSize();
  weight.bits = op.getBits();
  weight.codes = codeValues;
  weight.scales = scaleValues;
  weight.zeros = zeroValues;
  weight.gIdx = gIdxValues;
  std::vector<float> out(weight.rows * weight.cols);
  if (llvm::Error err = quant::dequantize(weight, out)) {
    // Invalid constant data is the producer's bug; keep the op for the
    // lowering and say why it was not folded.
    op.emitWarning("not folded: ") << llvm::toString(std::move(err));
    return {};
  }

  auto floatType = cast<FloatType>(resultType.getElementType());
  SmallVector<APFloat> converted;
  converted.reserve(out.size());
  for (float v : out) {
    APFloat value(v);
    bool losesInfo;
    value.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &losesInfo);
    converted.push_back(value);
  }
  return DenseElementsAttr::get(resultType, converted);
}

struct FoldDequantizePass
    : public qwha::impl::FoldDequantizeBase<FoldDequantizePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<DequantizeOp> candidates;
    getOperation()->walk([&](DequantizeOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (DequantizeOp op : candidates) {
      DenseElementsAttr folded = foldToConstant(op, maxElements);
      if (!folded)
        continue;
      rewriter.setInsertionPoint(op);
      rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, folded);
    }
  }
};

} // namespace
