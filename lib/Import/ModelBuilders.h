//===- ModelBuilders.h - Forward passes of supported families ---*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_IMPORT_MODELBUILDERS_H
#define QWHA_LIB_IMPORT_MODELBUILDERS_H

#include "GraphBuilder.h"

#include "qwha/Import/HuggingFace.h"
#include "qwha/Support/Checkpoint.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace qwha::import {

/// Checkpoint tensors as f32 constants, checked against the shapes the
/// config implies. The first problem is remembered and later requests get
/// zero placeholders, so builders read straight-line; the importer throws
/// the module away when error() is set.
class WeightLoader {
public:
  WeightLoader(const CheckpointTensors &checkpoint, GraphBuilder &graph)
      : checkpoint(checkpoint), graph(graph) {}

  bool has(llvm::StringRef name) const {
    return checkpoint.find(name) != nullptr;
  }
  /// The tensor's values (floating-point dtypes, all finite, shape exactly
  /// `shape`).
  std::vector<float> read(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);
  /// read() as a constant.
  mlir::Value constant(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);

  void fail(const llvm::Twine &message) {
    if (error.empty())
      error = message.str();
  }
  const std::string &getError() const { return error; }

private:
  const CheckpointTensors &checkpoint;
  GraphBuilder &graph;
  std::string error;
};

/// Fills `function` (arguments created by the caller) for a BERT encoder.
void buildBert(GraphBuilder &graph, WeightLoader &weights,
               const TransformerConfig &config, const ImportOptions &options,
               mlir::func::FuncOp function);
/// The same for a Llama-style decoder with its LM head.
void buildLlama(GraphBuilder &graph, WeightLoader &weights,
                const TransformerConfig &config, const ImportOptions &options,
                mlir::func::FuncOp function);

} // namespace qwha::import

#endif // QWHA_LIB_IMPORT_MODELBUILDERS_H
