//===- BufferViews.h - Following a buffer through its views -----*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GPU placement passes ask where a host buffer ends up: returned to the
// caller, passed to a call. A subview or reshape of it goes there as well.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_QWHATOGPU_BUFFERVIEWS_H
#define QWHA_LIB_CONVERSION_QWHATOGPU_BUFFERVIEWS_H

#include "mlir/IR/Value.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/STLExtras.h"

namespace qwha::cuda {

/// Whether an op using `buffer`, or a view of it, satisfies `isSought`.
inline bool isUsedThroughViews(mlir::Value buffer,
                               llvm::function_ref<bool(mlir::Operation *)>
                                   isSought) {
  llvm::SmallVector<mlir::Value> worklist = {buffer};
  while (!worklist.empty()) {
    mlir::Value value = worklist.pop_back_val();
    for (mlir::Operation *user : value.getUsers()) {
      if (isSought(user))
        return true;
      if (auto view = llvm::dyn_cast<mlir::ViewLikeOpInterface>(user))
        if (view.getViewSource() == value)
          llvm::append_range(worklist, user->getResults());
    }
  }
  return false;
}

} // namespace qwha::cuda

#endif // QWHA_LIB_CONVERSION_QWHATOGPU_BUFFERVIEWS_H
