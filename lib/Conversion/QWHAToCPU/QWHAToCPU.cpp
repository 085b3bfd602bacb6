//===- QWHAToCPU.cpp - Lower quantized layers to CPU kernels --------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Packs each eligible layer's weight into memref.globals and replaces the
// layer by a call of a generated kernel (QLinearKernel.h). The call site
// stays on tensors: the input is handed over with bufferization.to_buffer
// and the freshly allocated output comes back with a restrict to_tensor, so
// one-shot bufferization and buffer deallocation treat it like any other
// allocation.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToCPU/QWHAToCPU.h"
#include "QLinearKernel.h"
#include "qwha/Conversion/QWHAToLinalg/QWHAToLinalg.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/CpuPacking.h"
#include "qwha/Transforms/LayerWeights.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

namespace qwha {
#define GEN_PASS_DEF_CONVERTQWHATOCPU
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// Why `op`'s quantized weight cannot take the kernel path, or an empty
/// string if it can.
std::string getFallbackReason(Operation *op, Value input, Value codes,
                              Value scales, Value zeros, Value gIdx) {
  if (!getElementTypeOrSelf(input).isF32())
    return "the input is not f32";
  for (auto [value, what] : {std::pair{codes, "codes"},
                             {scales, "scales"},
                             {zeros, "zeros"},
                             {gIdx, "g_idx"}})
    if (value && !matchPattern(value, m_Constant()))
      return std::string("its ") + what + " are not constant";
  return "";
}

template <typename OpTy> std::string getFallbackReason(OpTy op) {
  return getFallbackReason(op, op.getInput(), op.getCodes(), op.getScales(),
                           op.getZeros(), op.getGIdx());
}

/// A private constant global holding `bytes` as a 1-D memref of
/// `elementType`, aligned for vector loads; returns a memref<?x...> of it.
Value createGlobal(OpBuilder &b, Location loc, SymbolTable &symbols,
                   StringRef name, Type elementType, ArrayRef<char> bytes) {
  const int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
  const int64_t count = int64_t(bytes.size()) / elementBytes;
  auto type = MemRefType::get({count}, elementType);
  auto tensorType = RankedTensorType::get({count}, elementType);
  OpBuilder top(symbols.getOp()->getContext());
  top.setInsertionPointToStart(&symbols.getOp()->getRegion(0).front());
  auto global = memref::GlobalOp::create(
      top, loc, name, top.getStringAttr("private"), type,
      DenseElementsAttr::getFromRawBuffer(tensorType, bytes),
      /*constant=*/true, top.getI64IntegerAttr(64));
  symbols.insert(global);
  Value ref = memref::GetGlobalOp::create(b, loc, type, global.getSymName());
  return memref::CastOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, elementType), ref);
}

template <typename T> ArrayRef<char> asBytes(const std::vector<T> &values) {
  return ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                        values.size() * sizeof(T));
}

struct ConvertQWHAToCPUPass
    : public qwha::impl::ConvertQWHAToCPUBase<ConvertQWHAToCPUPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  LogicalResult checkOptions();
  LogicalResult lowerQLinear(QLinearOp op, SymbolTable &symbols);
};

} // namespace

LogicalResult ConvertQWHAToCPUPass::checkOptions() {
  ModuleOp module = getOperation();
  if (vectorWidth != 4 && vectorWidth != 8 && vectorWidth != 16 &&
      vectorWidth != 32)
    return module.emitError("convert-qwha-to-cpu: vector-width must be 4, "
                            "8, 16 or 32, got ")
           << int64_t(vectorWidth);
  for (auto [value, name] : {std::pair{int64_t(gemmRows), "gemm-rows"},
                             {int64_t(gemmBlocks), "gemm-blocks"},
                             {int64_t(gemvBlocks), "gemv-blocks"}})
    if (value < 1 || value > 64)
      return module.emitError("convert-qwha-to-cpu: ")
             << name << " must be in [1, 64], got " << value;
  if (threads < 1 || threads > 1024)
    return module.emitError("convert-qwha-to-cpu: threads must be in "
                            "[1, 1024], got ")
           << int64_t(threads);
  if (prefetchDistance < 0 || prefetchDistance % 64)
    return module.emitError("convert-qwha-to-cpu: prefetch-distance must "
                            "be a non-negative multiple of 64 bytes, got ")
           << int64_t(prefetchDistance);
  return success();
}

LogicalResult ConvertQWHAToCPUPass::lowerQLinear(QLinearOp op,
                                                 SymbolTable &symbols) {
  FailureOr<quant::QuantizedMatrix> matrix = readQuantizedWeight(op);
  if (failed(matrix))
    return failure();
  quant::QuantizedWeightView view;
  view.rows = matrix->rows;
  view.cols = matrix->cols;
  view.groupSize = matrix->groupSize;
  view.bits = matrix->bits;
  view.codes = matrix->codes;
  view.scales = matrix->scales;
  view.zeros = matrix->zeros;
  view.gIdx = matrix->gIdx;
  llvm::Expected<quant::CpuPackedWeight> packed =
      quant::packForCpu(view, quant::CpuKernelLayout{view.bits, vectorWidth});
  if (!packed)
    return op.emitOpError("cannot pack the weight of layer '")
           << op.getName()
           << "' for the CPU: " << llvm::toString(packed.takeError());

  QLinearKernelSpec spec = QLinearKernelSpec::get(
      *packed, gemmRows, gemmBlocks, gemvBlocks, prefetchDistance, threads);
  ModuleOp module = getOperation();
  func::FuncOp kernel = getOrCreateQLinearKernel(module, spec);

  OpBuilder b(op);
  Location loc = op.getLoc();
  const int64_t n = spec.rows, k = spec.cols;
  const int64_t dynamic = ShapedType::kDynamic;
  Type f32 = b.getF32Type();
  std::string prefix = ("__qwha_cpu_" + op.getName()).str();
  SmallVector<Value> args;

  // The input as rows of K: fold leading dimensions, or add one.
  Value input = op.getInput();
  RankedTensorType inputType = op.getInput().getType();
  const int64_t rank = inputType.getRank();
  Value rows2d = input;
  if (rank == 1) {
    rows2d = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({1, k}, f32), input,
        SmallVector<ReassociationIndices>{{0, 1}});
  } else if (rank > 2) {
    ReassociationIndices leading;
    for (int64_t i = 0; i + 1 < rank; ++i)
      leading.push_back(i);
    rows2d = tensor::CollapseShapeOp::create(
        b, loc, input, SmallVector<ReassociationIndices>{leading, {rank - 1}});
  }
  Value dynamicRows = tensor::CastOp::create(
      b, loc, RankedTensorType::get({dynamic, k}, f32), rows2d);
  auto inputBufferType = MemRefType::get(
      {dynamic, k}, f32,
      StridedLayoutAttr::get(b.getContext(), dynamic, {dynamic, dynamic}));
  Value rowCount = tensor::DimOp::create(b, loc, dynamicRows, 0);
  args.push_back(bufferization::ToBufferOp::create(
      b, loc, inputBufferType, dynamicRows, /*readOnly=*/true));

  args.push_back(createGlobal(b, loc, symbols, prefix + "_codes",
                              b.getI32Type(), asBytes(packed->codes)));
  args.push_back(createGlobal(b, loc, symbols, prefix + "_scales", f32,
                              asBytes(packed->scales)));
  args.push_back(createGlobal(b, loc, symbols, prefix + "_offsets", f32,
                              asBytes(packed->offsets)));
  if (spec.gathersColumns)
    args.push_back(createGlobal(b, loc, symbols, prefix + "_columns",
                                b.getI32Type(), asBytes(packed->columnOf)));

  auto alignment = b.getI64IntegerAttr(64);
  Value work = memref::AllocOp::create(
      b, loc, MemRefType::get({spec.getWorkspaceSize()}, f32), ValueRange{},
      alignment);
  args.push_back(
      memref::CastOp::create(b, loc, MemRefType::get({dynamic}, f32), work));
  auto outputType = MemRefType::get({dynamic, n}, f32);
  Value output = memref::AllocOp::create(b, loc, outputType,
                                         ValueRange{rowCount}, alignment);
  args.push_back(output);
  func::CallOp::create(b, loc, kernel, args);

  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({dynamic, n}, f32), output,
      /*restrict=*/true, /*writable=*/true);
  RankedTensorType resultType = op.getResult().getType();
  if (rank == 1) {
    result = tensor::CastOp::create(b, loc, RankedTensorType::get({1, n}, f32),
                                    result);
    result = tensor::CollapseShapeOp::create(
        b, loc, resultType, result, SmallVector<ReassociationIndices>{{0, 1}});
  } else {
    SmallVector<int64_t> flatShape = {dynamic, n};
    int64_t m = 1;
    for (int64_t i = 0; i + 1 < rank; ++i)
      m = inputType.isDynamicDim(i) || m == dynamic
              ? dynamic
              : m * inputType.getDimSize(i);
    result = tensor::CastOp::create(b, loc, RankedTensorType::get({m, n}, f32),
                                    result);
    if (rank > 2) {
      SmallVector<OpFoldResult> outputShape =
          tensor::getMixedSizes(b, loc, input);
      outputShape.back() = b.getIndexAttr(n);
      ReassociationIndices leading;
      for (int64_t i = 0; i + 1 < rank; ++i)
        leading.push_back(i);
      result = tensor::ExpandShapeOp::create(
          b, loc, resultType, result,
          SmallVector<ReassociationIndices>{leading, {rank - 1}}, outputShape);
    }
  }
  op.replaceAllUsesWith(result);
  op.erase();
  return success();
}

void ConvertQWHAToCPUPass::runOnOperation() {
  if (failed(checkOptions()))
    return signalPassFailure();
  ModuleOp module = getOperation();

  auto explain = [&](Operation *op, StringRef reason) {
    if (explainFallbacks)
      op->emitRemark("kept on the generic lowering: ") << reason;
  };

  // An adapter layer splits into its quantized layer, which takes the
  // kernel path below, and the transform and sparse adapter.
  SmallVector<QLinearWHAOp> adapterLayers;
  module.walk([&](QLinearWHAOp op) { adapterLayers.push_back(op); });
  for (QLinearWHAOp op : adapterLayers) {
    std::string reason = getFallbackReason(op);
    if (!reason.empty()) {
      explain(op, reason);
      continue;
    }
    OpBuilder b(op);
    Value decomposed = decomposeQLinearWHA(b, op);
    op.replaceAllUsesWith(decomposed);
    op.erase();
  }

  SymbolTable symbols(module);
  SmallVector<QLinearOp> layers;
  module.walk([&](QLinearOp op) { layers.push_back(op); });
  for (QLinearOp op : layers) {
    std::string reason = getFallbackReason(op);
    if (!reason.empty()) {
      explain(op, reason);
      continue;
    }
    if (failed(lowerQLinear(op, symbols)))
      return signalPassFailure();
  }
}
