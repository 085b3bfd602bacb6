//===- HuggingFace.cpp - Import Hugging Face checkpoints ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Import/HuggingFace.h"

#include "ModelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;
using namespace qwha;
using namespace qwha::import;

namespace {

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(d);
  return text + "]";
}

} // namespace

const TensorView *WeightLoader::lookup(StringRef name,
                                       ArrayRef<int64_t> shape) {
  if (!error.empty())
    return nullptr;
  llvm::Expected<const TensorView &> tensor = checkpoint->get(name);
  if (!tensor) {
    fail(llvm::toString(tensor.takeError()));
    return nullptr;
  }
  StringRef file = checkpoint->getFile(*tensor);
  if (ArrayRef<int64_t>(tensor->shape) != shape) {
    fail("tensor '" + name + "' in '" + file + "' has shape " +
         formatShape(tensor->shape) + ", but config.json implies " +
         formatShape(shape));
    return nullptr;
  }
  if (!isFloatDType(tensor->dtype)) {
    fail("tensor '" + name + "' in '" + file + "' has dtype " +
         getDTypeName(tensor->dtype) + ", expected F32, F16, BF16 or F64");
    return nullptr;
  }
  return &*tensor;
}

/// Index of the first non-finite value, if any.
static std::optional<size_t> findNonFinite(ArrayRef<float> values) {
  for (auto [i, value] : llvm::enumerate(values))
    if (!std::isfinite(value))
      return i;
  return std::nullopt;
}

std::vector<float> WeightLoader::read(StringRef name, ArrayRef<int64_t> shape) {
  const TensorView *tensor = lookup(name, shape);
  if (!tensor)
    return {};
  llvm::Expected<std::vector<float>> values = readFloat32(*tensor);
  if (!values) {
    fail(llvm::toString(values.takeError()));
    return {};
  }
  if (std::optional<size_t> bad = findNonFinite(*values)) {
    fail("tensor '" + name + "' in '" + checkpoint->getFile(*tensor) +
         "' has a non-finite value (" + std::to_string((*values)[*bad]) +
         ") at element " + std::to_string(*bad));
    return {};
  }
  return std::move(*values);
}

Value WeightLoader::constant(StringRef name, ArrayRef<int64_t> shape) {
  if (const TensorView *tensor = lookup(name, shape);
      tensor && tensor->dtype == DType::F32 &&
      llvm::endianness::native == llvm::endianness::little &&
      reinterpret_cast<uintptr_t>(tensor->data.data()) % alignof(float) == 0) {
    ArrayRef<float> values(reinterpret_cast<const float *>(tensor->data.data()),
                           tensor->data.size() / sizeof(float));
    if (std::optional<size_t> bad = findNonFinite(values)) {
      fail("tensor '" + name + "' in '" + checkpoint->getFile(*tensor) +
           "' has a non-finite value (" + std::to_string(values[*bad]) +
           ") at element " + std::to_string(*bad));
    } else {
      return graph.constantView(name, shape, tensor->data, checkpoint);
    }
  }
  std::vector<float> values = read(name, shape);
  // A placeholder of the right type keeps the builder going (the module is
  // discarded because error is set); tensor.empty holds no data, so a
  // config with huge sizes costs nothing before its first error is reported.
  if (values.empty())
    return graph.empty(shape);
  return graph.constant(name, shape, values);
}

llvm::Expected<OwningOpRef<ModuleOp>>
qwha::importHuggingFaceModel(MLIRContext &context, StringRef directory,
                             const ImportOptions &options) {
  context.loadDialect<arith::ArithDialect, cf::ControlFlowDialect,
                      func::FuncDialect, linalg::LinalgDialect,
                      math::MathDialect, tensor::TensorDialect>();
  if (options.batch <= 0 || options.seqLen <= 0)
    return llvm::createStringError("batch and sequence length must be "
                                   "positive");
  llvm::SmallString<256> configPath(directory);
  llvm::sys::path::append(configPath, "config.json");
  llvm::Expected<TransformerConfig> config =
      TransformerConfig::load(configPath);
  if (!config)
    return config.takeError();
  if (config->maxPositions && options.seqLen > config->maxPositions)
    return llvm::createStringError(
        "sequence length " + std::to_string(options.seqLen) +
        " exceeds max_position_embeddings (" +
        std::to_string(config->maxPositions) + ") of '" + configPath.str() +
        "'");
  if (config->slidingWindow && options.seqLen > config->slidingWindow)
    return llvm::createStringError(
        "sequence length " + std::to_string(options.seqLen) +
        " exceeds the sliding window (" +
        std::to_string(config->slidingWindow) + ") of '" + configPath.str() +
        "', which the importer does not implement");
  llvm::Expected<CheckpointTensors> opened = CheckpointTensors::open(directory);
  if (!opened)
    return opened.takeError();
  // Shared with the constants that point into the mapped files.
  auto checkpoint =
      std::make_shared<const CheckpointTensors>(std::move(*opened));

  Location loc = FileLineColLoc::get(&context, configPath, 1, 1);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder builder(&context);
  builder.setInsertionPointToEnd(module->getBody());

  const int64_t batch = options.batch, seq = options.seqLen;
  Type ids = RankedTensorType::get({batch, seq}, builder.getI64Type());
  const bool bert = config->family == ModelFamily::Bert;
  SmallVector<Type> inputs = {ids};
  SmallVector<StringRef> names = {"input_ids"};
  if (bert) {
    inputs.push_back(ids);
    names.push_back("attention_mask");
  }
  Type result = RankedTensorType::get(
      {batch, seq, bert ? config->hiddenSize : config->vocabSize},
      builder.getF32Type());
  auto function = func::FuncOp::create(
      builder, loc, options.function,
      builder.getFunctionType(inputs, TypeRange{result}));
  for (auto [i, name] : llvm::enumerate(names))
    function.setArgAttr(i, "qwha.name", builder.getStringAttr(name));
  builder.setInsertionPointToEnd(function.addEntryBlock());

  GraphBuilder graph(builder, loc);
  WeightLoader weights(checkpoint, graph);
  if (bert)
    buildBert(graph, weights, *config, options, function);
  else
    buildLlama(graph, weights, *config, options, function);
  if (!weights.getError().empty())
    return llvm::createStringError(weights.getError());
  if (failed(verify(*module)))
    return llvm::createStringError("the imported module does not verify "
                                   "(an importer bug)");
  return std::move(module);
}
