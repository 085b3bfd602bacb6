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

#include <memory>
#include <string>

namespace qwha::import {

/// Checkpoint tensors as f32 constants, checked against the shapes the
/// config implies. The first problem is remembered and later requests get
/// zero placeholders, so builders read straight-line; the importer throws
/// the module away when error() is set.
class WeightLoader {
public:
  WeightLoader(std::shared_ptr<const CheckpointTensors> checkpoint,
               GraphBuilder &graph)
      : checkpoint(std::move(checkpoint)), graph(graph) {}

  bool has(llvm::StringRef name) const {
    return checkpoint->find(name) != nullptr;
  }
  /// The tensor's values (floating-point dtypes, all finite, shape exactly
  /// `shape`).
  std::vector<float> read(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);
  /// read() as a constant. F32 tensors suitably aligned are not copied:
  /// the constant's blob points into the mapped checkpoint file, so importing
  /// needs little more memory than the largest converted tensor.
  mlir::Value constant(llvm::StringRef name, llvm::ArrayRef<int64_t> shape);

  void fail(const llvm::Twine &message) {
    if (error.empty())
      error = message.str();
  }
  const std::string &getError() const { return error; }

private:
  /// The tensor if it exists with exactly `shape`, else nullptr with the
  /// error recorded.
  const TensorView *lookup(llvm::StringRef name,
                           llvm::ArrayRef<int64_t> shape);

  std::shared_ptr<const CheckpointTensors> checkpoint;
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
