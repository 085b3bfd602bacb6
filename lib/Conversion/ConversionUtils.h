//===- ConversionUtils.h - Helpers shared by the kernel lowerings -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What convert-qwha-to-cpu and convert-qwha-to-gpu do alike: fold a layer's
// leading dimensions into rows for a kernel and back, check a constant CSR
// adapter once before a kernel trusts its indices, view vectors as bytes for
// globals.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_CONVERSIONUTILS_H
#define QWHA_LIB_CONVERSION_CONVERSIONUTILS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <vector>

namespace qwha {

/// `input` ([..., K]) as a 2-D tensor<?xK>: leading dimensions folded into
/// rows, or one row for a rank-1 input.
mlir::Value foldRows(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input);

/// The inverse of foldRows for a result with the input's leading
/// dimensions: `rows` (tensor<?xN>) shaped as `resultType`.
mlir::Value restoreRows(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value rows, mlir::Value input,
                        mlir::RankedTensorType resultType);

/// Checks a CSR matrix with `inputs` columns: offsets from 0, not
/// decreasing, ending at the entry count, which `cols` and `valueCount`
/// agree on; every column in range. Errors are emitted on `op`.
mlir::LogicalResult verifyCsrMatrix(mlir::Operation *op,
                                    llvm::ArrayRef<int64_t> rowOffsets,
                                    llvm::ArrayRef<int64_t> cols,
                                    size_t valueCount, int64_t inputs);

template <typename T>
llvm::ArrayRef<char> asBytes(const std::vector<T> &values) {
  return llvm::ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                              values.size() * sizeof(T));
}

} // namespace qwha

#endif // QWHA_LIB_CONVERSION_CONVERSIONUTILS_H
