//===- ConversionUtils.cpp - Helpers shared by the kernel lowerings -------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "ConversionUtils.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"

using namespace mlir;

/// `input` ([..., K]) as a 2-D tensor<?xK>: leading dimensions folded into
/// rows, or one row for a rank-1 input.
Value qwha::foldRows(OpBuilder &b, Location loc, Value input) {
  auto type = cast<RankedTensorType>(input.getType());
  const int64_t rank = type.getRank(), k = type.getShape().back();
  Type element = type.getElementType();
  Value rows = input;
  if (rank == 1) {
    rows = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({1, k}, element), input,
        SmallVector<ReassociationIndices>{{0, 1}});
  } else if (rank > 2) {
    ReassociationIndices leading;
    for (int64_t i = 0; i + 1 < rank; ++i)
      leading.push_back(i);
    rows = tensor::CollapseShapeOp::create(
        b, loc, input, SmallVector<ReassociationIndices>{leading, {rank - 1}});
  }
  return tensor::CastOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic, k}, element), rows);
}

/// The inverse of foldRows for a result with the input's leading
/// dimensions: `rows` (tensor<?xN>) shaped as `resultType`.
Value qwha::restoreRows(OpBuilder &b, Location loc, Value rows, Value input,
                  RankedTensorType resultType) {
  auto inputType = cast<RankedTensorType>(input.getType());
  const int64_t rank = resultType.getRank(), n = resultType.getShape().back();
  Type element = resultType.getElementType();
  if (rank == 1) {
    Value one = tensor::CastOp::create(
        b, loc, RankedTensorType::get({1, n}, element), rows);
    return tensor::CollapseShapeOp::create(
        b, loc, resultType, one, SmallVector<ReassociationIndices>{{0, 1}});
  }
  int64_t m = 1;
  for (int64_t i = 0; i + 1 < rank; ++i)
    m = inputType.isDynamicDim(i) || m == ShapedType::kDynamic
            ? ShapedType::kDynamic
            : m * inputType.getDimSize(i);
  Value flat = tensor::CastOp::create(
      b, loc, RankedTensorType::get({m, n}, element), rows);
  if (rank == 2)
    return flat;
  SmallVector<OpFoldResult> outputShape = tensor::getMixedSizes(b, loc, input);
  outputShape.back() = b.getIndexAttr(n);
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < rank; ++i)
    leading.push_back(i);
  return tensor::ExpandShapeOp::create(
      b, loc, resultType, flat,
      SmallVector<ReassociationIndices>{leading, {rank - 1}}, outputShape);
}

LogicalResult qwha::verifyCsrMatrix(Operation *op, ArrayRef<int64_t> rowOffsets,
                                    ArrayRef<int64_t> cols, size_t valueCount,
                                    int64_t inputs) {
  // The kernels read where the indices say: check them here, once.
  const int64_t entries = int64_t(cols.size());
  if (int64_t(valueCount) != entries)
    return op->emitOpError("has ")
           << entries << " column indices but " << valueCount << " values";
  if (rowOffsets.front() != 0)
    return op->emitOpError("row_offsets[0] must be 0, got ")
           << rowOffsets.front();
  for (size_t n = 0; n + 1 < rowOffsets.size(); ++n)
    if (rowOffsets[n + 1] < rowOffsets[n])
      return op->emitOpError("row_offsets must not decrease: row_offsets[")
             << n << "] = " << rowOffsets[n] << " > row_offsets[" << n + 1
             << "] = " << rowOffsets[n + 1];
  if (rowOffsets.back() != entries)
    return op->emitOpError("row_offsets ends at ")
           << rowOffsets.back() << " but there are " << entries << " entries";
  for (int64_t p = 0; p < entries; ++p)
    if (cols[p] < 0 || cols[p] >= inputs)
      return op->emitOpError("cols[")
             << p << "] = " << cols[p] << " is not an input column in [0, "
             << inputs << ")";
  return success();
}
