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
#include "../ConversionUtils.h"
#include "AdapterKernels.h"
#include "QLinearKernel.h"
#include "qwha/Conversion/QWHAToLinalg/QWHAToLinalg.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/CpuPacking.h"
#include "qwha/Quant/Hadamard.h"
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
#include "mlir/IR/Dominance.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/CSE.h"

namespace qwha {
#define GEN_PASS_DEF_CONVERTQWHATOCPU
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// Why a layer cannot take the kernel path, or an empty string if it can:
/// its input must be f32 and each operand in `mustBeConstant` that is
/// present a constant. Each operand comes with its name and verb ("codes
/// are", "weight is").
std::string
getFallbackReason(Value input,
                  ArrayRef<std::pair<Value, StringRef>> mustBeConstant) {
  if (!getElementTypeOrSelf(input).isF32())
    return "the input is not f32";
  for (auto [value, what] : mustBeConstant)
    if (value && !matchPattern(value, m_Constant()))
      return ("its " + what + " not constant").str();
  return "";
}

template <typename OpTy> std::string getQuantizedFallbackReason(OpTy op) {
  return getFallbackReason(op.getInput(), {{op.getCodes(), "codes are"},
                                           {op.getScales(), "scales are"},
                                           {op.getZeros(), "zeros are"},
                                           {op.getGIdx(), "g_idx are"}});
}

/// Lowers every `OpTy` of `module` whose `reasonOf` is empty with `lower`;
/// the others stay for the generic lowering, with a remark saying why when
/// `explain` is set. Ops are collected first: lowering erases them.
template <typename OpTy>
LogicalResult lowerEach(ModuleOp module, bool explain,
                        function_ref<std::string(OpTy)> reasonOf,
                        function_ref<LogicalResult(OpTy)> lower) {
  SmallVector<OpTy> ops;
  module.walk([&](OpTy op) { ops.push_back(op); });
  for (OpTy op : ops) {
    std::string reason = reasonOf(op);
    if (!reason.empty()) {
      if (explain)
        op->emitRemark("kept on the generic lowering: ") << reason;
      continue;
    }
    if (failed(lower(op)))
      return failure();
  }
  return success();
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

/// Calls a kernel `(rows, weights..., [workspace,] out)` on the rows of
/// `input` and returns its output shaped as `resultType`. The input reaches
/// the kernel through bufferization.to_buffer with the layout the kernel's
/// first argument asks for; the output is a fresh allocation returned by a
/// restrict to_tensor, so bufferization and deallocation treat it like any
/// other buffer.
Value callRowKernel(OpBuilder &b, Location loc, func::FuncOp kernel,
                    Value input, ArrayRef<Value> weights, int64_t workspaceSize,
                    RankedTensorType resultType) {
  const int64_t dynamic = ShapedType::kDynamic;
  Type element = resultType.getElementType();
  auto alignment = b.getI64IntegerAttr(64);
  Value rows = foldRows(b, loc, input);
  Value rowCount = tensor::DimOp::create(b, loc, rows, 0);
  auto inputBufferType = cast<MemRefType>(kernel.getFunctionType().getInput(0));
  SmallVector<Value> args = {bufferization::ToBufferOp::create(
      b, loc, inputBufferType, rows, /*readOnly=*/true)};
  args.append(weights.begin(), weights.end());
  if (workspaceSize > 0) {
    Value work = memref::AllocOp::create(
        b, loc, MemRefType::get({workspaceSize}, element), ValueRange{},
        alignment);
    args.push_back(memref::CastOp::create(
        b, loc, MemRefType::get({dynamic}, element), work));
  }
  const int64_t n = resultType.getShape().back();
  Value output =
      memref::AllocOp::create(b, loc, MemRefType::get({dynamic, n}, element),
                              ValueRange{rowCount}, alignment);
  args.push_back(output);
  func::CallOp::create(b, loc, kernel, args);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({dynamic, n}, element), output,
      /*restrict=*/true, /*writable=*/true);
  return restoreRows(b, loc, result, input, resultType);
}


struct ConvertQWHAToCPUPass
    : public qwha::impl::ConvertQWHAToCPUBase<ConvertQWHAToCPUPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  LogicalResult checkOptions();
  LogicalResult lowerQLinear(QLinearOp op, SymbolTable &symbols);
  LogicalResult lowerLinear(LinearOp op, SymbolTable &symbols);
  /// The globals of `packed` and the call of its kernel in place of `op`.
  void replaceWithKernelCall(Operation *op, StringRef name, Value input,
                             const quant::CpuPackedWeight &packed,
                             SymbolTable &symbols);
  void lowerFWHT(FWHTOp op, SymbolTable &symbols);
  LogicalResult lowerSparseLinear(SparseLinearOp op, SymbolTable &symbols);
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
  quant::QuantizedWeightView view = matrix->view();
  llvm::Expected<quant::CpuPackedWeight> packed =
      quant::packForCpu(view, quant::CpuKernelLayout{view.bits, vectorWidth});
  if (!packed)
    return op.emitOpError("cannot pack the weight of layer '")
           << op.getName()
           << "' for the CPU: " << llvm::toString(packed.takeError());

  replaceWithKernelCall(op, op.getName(), op.getInput(), *packed, symbols);
  return success();
}

LogicalResult ConvertQWHAToCPUPass::lowerLinear(LinearOp op,
                                                SymbolTable &symbols) {
  RankedTensorType type = op.getWeight().getType();
  FailureOr<std::vector<float>> weight =
      readConstantFloats(op.getWeight(), op, "weight");
  if (failed(weight))
    return failure();
  llvm::Expected<quant::CpuPackedWeight> packed = quant::packFloatForCpu(
      type.getDimSize(0), type.getDimSize(1), *weight, vectorWidth);
  if (!packed)
    return op.emitOpError("cannot pack the weight of layer '")
           << op.getName()
           << "' for the CPU: " << llvm::toString(packed.takeError());
  replaceWithKernelCall(op, op.getName(), op.getInput(), *packed, symbols);
  return success();
}

void ConvertQWHAToCPUPass::replaceWithKernelCall(
    Operation *op, StringRef name, Value input,
    const quant::CpuPackedWeight &packed, SymbolTable &symbols) {
  QLinearKernelSpec spec = QLinearKernelSpec::get(
      packed, gemmRows, gemmBlocks, gemvBlocks, prefetchDistance, threads);
  func::FuncOp kernel = getOrCreateQLinearKernel(getOperation(), spec);

  OpBuilder b(op);
  Location loc = op->getLoc();
  std::string prefix = ("__qwha_cpu_" + name).str();
  SmallVector<Value> weights = {
      createGlobal(b, loc, symbols, prefix + "_codes", b.getI32Type(),
                   asBytes(packed.codes)),
      createGlobal(b, loc, symbols, prefix + "_scales", b.getF32Type(),
                   asBytes(packed.scales)),
      createGlobal(b, loc, symbols, prefix + "_offsets", b.getF32Type(),
                   asBytes(packed.offsets))};
  if (spec.gathersColumns)
    weights.push_back(createGlobal(b, loc, symbols, prefix + "_columns",
                                   b.getI32Type(), asBytes(packed.columnOf)));
  Value result = callRowKernel(b, loc, kernel, input, weights,
                               spec.getWorkspaceSize(),
                               cast<RankedTensorType>(op->getResult(0).getType()));
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

void ConvertQWHAToCPUPass::lowerFWHT(FWHTOp op, SymbolTable &symbols) {
  const int64_t d = op.getType().getShape().back();
  // The verifier guarantees a construction exists.
  quant::HadamardSize size = *quant::factorHadamardSize(d);
  FWHTKernelSpec spec = FWHTKernelSpec::get(size.powerOfTwo, size.baseOrder,
                                            op.getNormalized(), vectorWidth);
  func::FuncOp kernel = getOrCreateFWHTKernel(getOperation(), spec);

  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<Value> tables;
  if (spec.baseOrder > 1) {
    // H_m^T with rows padded to whole vectors, the normalization folded in.
    const int64_t m = spec.baseOrder, padded = spec.getPaddedBaseOrder();
    const float scale =
        spec.normalized ? float(1.0 / std::sqrt(double(d))) : 1.0f;
    std::vector<int8_t> signs = quant::buildBaseHadamardMatrix(m);
    std::vector<float> transposed(m * padded, 0.0f);
    for (int64_t row = 0; row < m; ++row)
      for (int64_t col = 0; col < m; ++col)
        transposed[col * padded + row] = scale * signs[row * m + col];
    tables.push_back(createGlobal(
        b, loc, symbols,
        ("__qwha_cpu_hadamard_" + std::to_string(m) + "_t" +
         (spec.normalized ? "_d" + std::to_string(d) : std::string()))
            .c_str(),
        b.getF32Type(), asBytes(transposed)));
  }
  Value result = callRowKernel(b, loc, kernel, op.getInput(), tables,
                               spec.getWorkspaceSize(), op.getType());
  op.replaceAllUsesWith(result);
  op.erase();
}

LogicalResult ConvertQWHAToCPUPass::lowerSparseLinear(SparseLinearOp op,
                                                      SymbolTable &symbols) {
  FailureOr<std::vector<int64_t>> rowOffsets =
      readConstantIntegers(op.getRowOffsets(), op, "row_offsets");
  FailureOr<std::vector<int64_t>> cols =
      readConstantIntegers(op.getCols(), op, "cols");
  FailureOr<std::vector<float>> values =
      readConstantFloats(op.getValues(), op, "values");
  if (failed(rowOffsets) || failed(cols) || failed(values))
    return failure();
  const int64_t inputs = op.getInput().getType().getShape().back();
  if (failed(verifyCsrMatrix(op, *rowOffsets, *cols, values->size(), inputs)))
    return failure();
  RankedTensorType resultType = op.getResult().getType();
  SparseKernelSpec spec{inputs, resultType.getShape().back(), vectorWidth};
  func::FuncOp kernel = getOrCreateSparseKernel(getOperation(), spec);
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto asInt32 = [](const std::vector<int64_t> &wide) {
    return std::vector<int32_t>(wide.begin(), wide.end());
  };
  std::string prefix = "__qwha_cpu_adapter";
  if (auto layer =
          op->getAttrOfType<StringAttr>(QWHADialect::getLayerNameAttrName()))
    prefix += "_" + layer.str();
  SmallVector<Value> matrix = {
      createGlobal(b, loc, symbols, prefix + "_row_offsets", b.getI32Type(),
                   asBytes(asInt32(*rowOffsets))),
      createGlobal(b, loc, symbols, prefix + "_cols", b.getI32Type(),
                   asBytes(asInt32(*cols))),
      createGlobal(b, loc, symbols, prefix + "_values", b.getF32Type(),
                   asBytes(*values))};
  Value result = callRowKernel(b, loc, kernel, op.getInput(), matrix,
                               spec.getWorkspaceSize(), resultType);
  op.replaceAllUsesWith(result);
  op.erase();
  return success();
}

void ConvertQWHAToCPUPass::runOnOperation() {
  if (failed(checkOptions()))
    return signalPassFailure();
  ModuleOp module = getOperation();

  // An adapter layer splits into its quantized layer, which takes the
  // kernel path below, and the transform and sparse adapter.
  bool splitAdapters = false;
  (void)lowerEach<QLinearWHAOp>(
      module, explainFallbacks, getQuantizedFallbackReason<QLinearWHAOp>,
      [&](QLinearWHAOp op) {
        OpBuilder b(op);
        Value decomposed = decomposeQLinearWHA(b, op);
        op.replaceAllUsesWith(decomposed);
        op.erase();
        splitAdapters = true;
        return success();
      });
  // Layers that read the same input (q, k and v projections) now transform
  // it the same way: keep one transform.
  if (splitAdapters) {
    IRRewriter rewriter(module.getContext());
    DominanceInfo dominance(module);
    eliminateCommonSubExpressions(rewriter, dominance, module);
  }

  SymbolTable symbols(module);
  if (failed(lowerEach<QLinearOp>(
          module, explainFallbacks, getQuantizedFallbackReason<QLinearOp>,
          [&](QLinearOp op) { return lowerQLinear(op, symbols); })))
    return signalPassFailure();

  if (failed(lowerEach<LinearOp>(
          module, explainFallbacks,
          [](LinearOp op) -> std::string {
            if (getElementTypeOrSelf(op.getInput()).isF32() &&
                !op.getWeight().getType().getElementType().isF32())
              return "the weight is not f32";
            return getFallbackReason(op.getInput(),
                                     {{op.getWeight(), "weight is"}});
          },
          [&](LinearOp op) { return lowerLinear(op, symbols); })))
    return signalPassFailure();

  (void)lowerEach<FWHTOp>(
      module, explainFallbacks,
      [](FWHTOp op) -> std::string {
        if (!op.getType().getElementType().isF32())
          return "the input is not f32";
        // The generic lowering reports it as an error.
        if (quant::factorHadamardSize(op.getType().getShape().back())
                ->baseOrder > quant::kMaxLoweredBaseOrder)
          return "its base Hadamard matrix is too large";
        return "";
      },
      [&](FWHTOp op) {
        lowerFWHT(op, symbols);
        return success();
      });

  if (failed(lowerEach<SparseLinearOp>(
          module, explainFallbacks,
          [](SparseLinearOp op) {
            return getFallbackReason(op.getInput(),
                                     {{op.getRowOffsets(), "row_offsets are"},
                                      {op.getCols(), "cols are"},
                                      {op.getValues(), "values are"}});
          },
          [&](SparseLinearOp op) { return lowerSparseLinear(op, symbols); })))
    return signalPassFailure();
}
