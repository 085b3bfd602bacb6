//===- QWHAToGPU.cpp - Lower qwha layers to GPU kernel launches -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Packs each layer's constants into globals of one gpu.module, builds the
// layer's kernel there (GpuKernels.h) and replaces the layer by a
// gpu.launch_func. The launch site stays on tensors, as convert-qwha-to-cpu's
// calls do: the input reaches the kernel through a read-only
// bufferization.to_buffer and the output is a fresh memref.alloc returned by
// a restrict to_tensor, so one-shot bufferization and buffer deallocation
// treat it like any other allocation (qwha-place-buffers-on-gpu then puts
// it on the device).
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToGPU/QWHAToGPU.h"
#include "qwha/Conversion/QWHAToGPU/TensorCoreFragments.h"
#include "../ConversionUtils.h"
#include "GpuKernels.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Quant/GpuPacking.h"
#include "qwha/Quant/Hadamard.h"
#include "qwha/Transforms/LayerWeights.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/TypeSwitch.h"

namespace qwha {
#define GEN_PASS_DEF_CONVERTQWHATOGPU
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// A symbol-safe spelling of a layer name ("model.layers.0.q_proj").
std::string sanitize(StringRef name) {
  std::string result;
  for (char c : name)
    result += llvm::isAlnum(c) ? c : '_';
  return result.empty() ? "layer" : result;
}

struct ConvertQWHAToGPUPass
    : public qwha::impl::ConvertQWHAToGPUBase<ConvertQWHAToGPUPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  gpu::GPUModuleOp kernels;
  std::shared_ptr<SymbolTable> kernelSymbols; // copyable, as passes are
  /// Transforms already computed, per input value: layers reading the same
  /// input (q, k and v projections) share one.
  DenseMap<Value, Value> transforms;

  LogicalResult checkOptions();
  void createKernelModule();
  /// A constant global of `values` in the kernel module, shaped `shape`.
  memref::GlobalOp createGlobal(Location loc, StringRef name, Type element,
                                ArrayRef<int64_t> shape, ArrayRef<char> bytes);
  /// The globals of `packed` under `prefix`.
  cuda::RowKernelWeight createWeightGlobals(Location loc, StringRef prefix,
                                           const quant::GpuPackedWeight &packed);
  FailureOr<cuda::RowKernelAdapter>
  createAdapterGlobals(Operation *op, StringRef prefix, Value rowOffsets,
                       Value cols, Value values, int64_t inputs);
  /// Sets the tiling and paths of `spec` for a kernel reading `input`.
  void configureRowKernel(cuda::RowKernelSpec &spec, Value input) const;

  /// Launches `kernel` on the rows of `input` (and of `transform`, when the
  /// kernel takes one) and returns its output shaped as `resultType`.
  Value launchRowKernel(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel,
                        const cuda::RowKernelSpec &spec, Value input,
                        Value transform, RankedTensorType resultType);
  /// The normalized (or plain) transform of `input`, launched at `b`.
  FailureOr<Value> transform(OpBuilder &b, Operation *op, Value input,
                             bool normalized);

  LogicalResult lowerQuantized(Operation *op, StringRef name, Value input,
                               const quant::GpuPackedWeight &packed,
                               std::optional<cuda::RowKernelAdapter> adapter);
  LogicalResult lowerQLinear(QLinearOp op);
  LogicalResult lowerQLinearWHA(QLinearWHAOp op);
  LogicalResult lowerLinear(LinearOp op);
  LogicalResult lowerFWHT(FWHTOp op);
  LogicalResult lowerSparseLinear(SparseLinearOp op);
};

} // namespace

LogicalResult ConvertQWHAToGPUPass::checkOptions() {
  for (auto [value, name, low, high] :
       {std::tuple{int64_t(warps), "warps", 1, 32},
        {int64_t(rowsPerWarp), "rows-per-warp", 1, 8},
        {int64_t(batchTile), "batch-tile", 1, 16},
        {int64_t(mmaMinBatch), "mma-min-batch", 0, INT32_MAX},
        {int64_t(mmaBatchTile), "mma-batch-tile", 8, 64}})
    if (value < low || value > high)
      return getOperation().emitError("convert-qwha-to-gpu: ")
             << name << " must be in [" << low << ", " << high << "], got "
             << value;
  if (mmaBatchTile % cuda::kMmaN != 0)
    return getOperation().emitError("convert-qwha-to-gpu: mma-batch-tile "
                                    "must be a multiple of ")
           << cuda::kMmaN << ", got " << int64_t(mmaBatchTile);
  return success();
}

void ConvertQWHAToGPUPass::createKernelModule() {
  ModuleOp module = getOperation();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(module.getContext()));
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  kernels = gpu::GPUModuleOp::create(b, module.getLoc(), kGpuKernelModuleName);
  SymbolTable(module).insert(kernels);
  kernelSymbols = std::make_shared<SymbolTable>(kernels);
}

memref::GlobalOp ConvertQWHAToGPUPass::createGlobal(Location loc,
                                                    StringRef name,
                                                    Type element,
                                                    ArrayRef<int64_t> shape,
                                                    ArrayRef<char> bytes) {
  MLIRContext *context = element.getContext();
  auto space = gpu::AddressSpaceAttr::get(
      context, gpu::AddressSpace::Global);
  auto type = MemRefType::get(shape, element, MemRefLayoutAttrInterface(),
                              space);
  OpBuilder b = OpBuilder::atBlockBegin(kernels.getBody());
  auto global = memref::GlobalOp::create(
      b, loc, name, b.getStringAttr("private"), type,
      DenseElementsAttr::getFromRawBuffer(
          RankedTensorType::get(shape, element), bytes),
      /*constant=*/true, b.getI64IntegerAttr(16));
  kernelSymbols->insert(global); // renames on a clash
  return global;
}

cuda::RowKernelWeight ConvertQWHAToGPUPass::createWeightGlobals(
    Location loc, StringRef prefix, const quant::GpuPackedWeight &packed) {
  Builder b(&getContext());
  cuda::RowKernelWeight weight;
  weight.bits = packed.bits;
  weight.numSteps = packed.getNumSteps();
  weight.packedCols = packed.packedCols;
  weight.groupStride = packed.groupStride;
  for (unsigned p = 0; p < packed.getNumPlanes(); ++p)
    weight.planes.push_back(createGlobal(
        loc, (prefix + "_plane" + Twine(p)).str(), b.getI32Type(),
        {packed.rows, packed.getPlaneWords(p)}, asBytes(packed.planes[p])));
  if (!packed.isFloat()) {
    weight.scales =
        createGlobal(loc, (prefix + "_scales").str(), b.getF32Type(),
                     {packed.rows, packed.numGroups}, asBytes(packed.scales));
    weight.offsets =
        createGlobal(loc, (prefix + "_offsets").str(), b.getF32Type(),
                     {packed.rows, packed.numGroups}, asBytes(packed.offsets));
  }
  if (!packed.columnOf.empty())
    weight.columnOf = createGlobal(loc, (prefix + "_columns").str(),
                                   b.getI32Type(), {packed.packedCols},
                                   asBytes(packed.columnOf));
  return weight;
}

FailureOr<cuda::RowKernelAdapter> ConvertQWHAToGPUPass::createAdapterGlobals(
    Operation *op, StringRef prefix, Value rowOffsetsValue, Value colsValue,
    Value valuesValue, int64_t inputs) {
  FailureOr<std::vector<int64_t>> rowOffsets =
      readConstantIntegers(rowOffsetsValue, op, "row_offsets");
  FailureOr<std::vector<int64_t>> cols =
      readConstantIntegers(colsValue, op, "cols");
  FailureOr<std::vector<float>> values =
      readConstantFloats(valuesValue, op, "values");
  if (failed(rowOffsets) || failed(cols) || failed(values) ||
      failed(verifyCsrMatrix(op, *rowOffsets, *cols, values->size(), inputs)))
    return failure();
  for (float value : *values)
    if (!std::isfinite(value))
      return op->emitOpError("has a non-finite adapter value (")
             << value << ")";
  // The tensor-core path walks each row's entries in column order.
  for (size_t row = 0; row + 1 < rowOffsets->size(); ++row) {
    std::vector<std::pair<int64_t, float>> entries;
    for (int64_t p = (*rowOffsets)[row]; p < (*rowOffsets)[row + 1]; ++p)
      entries.emplace_back((*cols)[p], (*values)[p]);
    llvm::sort(entries);
    for (auto [i, entry] : llvm::enumerate(entries)) {
      (*cols)[(*rowOffsets)[row] + i] = entry.first;
      (*values)[(*rowOffsets)[row] + i] = entry.second;
    }
  }
  Builder b(&getContext());
  auto asInt32 = [](const std::vector<int64_t> &wide) {
    return std::vector<int32_t>(wide.begin(), wide.end());
  };
  cuda::RowKernelAdapter adapter;
  const int64_t entries = int64_t(cols->size());
  adapter.rowOffsets = createGlobal(
      op->getLoc(), (prefix + "_row_offsets").str(), b.getI32Type(),
      {int64_t(rowOffsets->size())}, asBytes(asInt32(*rowOffsets)));
  // An empty adapter still needs a global to name: one unused entry.
  std::vector<int32_t> colsWords = asInt32(*cols);
  std::vector<float> valueWords = *values;
  if (entries == 0) {
    colsWords.push_back(0);
    valueWords.push_back(0.0f);
  }
  adapter.cols = createGlobal(op->getLoc(), (prefix + "_cols").str(),
                              b.getI32Type(), {int64_t(colsWords.size())},
                              asBytes(colsWords));
  adapter.values = createGlobal(op->getLoc(), (prefix + "_values").str(),
                                b.getF32Type(), {int64_t(valueWords.size())},
                                asBytes(valueWords));
  return adapter;
}

void ConvertQWHAToGPUPass::configureRowKernel(cuda::RowKernelSpec &spec,
                                              Value input) const {
  spec.warps = warps;
  spec.rowsPerWarp = rowsPerWarp;
  spec.mmaMinBatch = mmaMinBatch;
  spec.mmaBatchTile = mmaBatchTile;
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i) {
    if (type.isDynamicDim(i)) {
      spec.batchTile = std::min<int64_t>(batchTile, 4);
      return;
    }
    rows *= type.getDimSize(i);
  }
  spec.staticBatch = rows;
  spec.batchTile = std::clamp<int64_t>(rows, 1, batchTile);
}

Value ConvertQWHAToGPUPass::launchRowKernel(OpBuilder &b, Location loc,
                                            gpu::GPUFuncOp kernel,
                                            const cuda::RowKernelSpec &spec,
                                            Value input, Value transform,
                                            RankedTensorType resultType) {
  const int64_t dynamic = ShapedType::kDynamic;
  Type f32 = b.getF32Type();
  Value rows = foldRows(b, loc, input);
  Value count = tensor::DimOp::create(b, loc, rows, 0);
  auto inputType = MemRefType::get({dynamic, spec.inputs}, f32);
  SmallVector<Value> args = {bufferization::ToBufferOp::create(
      b, loc, inputType, rows, /*readOnly=*/true)};
  if (spec.takesTransform())
    args.push_back(bufferization::ToBufferOp::create(
        b, loc, inputType, foldRows(b, loc, transform), /*readOnly=*/true));
  Value output = memref::AllocOp::create(
      b, loc, MemRefType::get({dynamic, spec.outputs}, f32),
      ValueRange{count}, b.getI64IntegerAttr(64));
  args.push_back(output);

  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  // The launch of the path the kernel takes for `count` rows (GpuKernels.h).
  Value tensorCores;
  if (spec.hasRowPath() && spec.hasTensorCorePath())
    tensorCores = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                        count, constant(spec.mmaMinBatch));
  auto pick = [&](int64_t rowPath, int64_t tensorCorePath) -> Value {
    if (!spec.hasTensorCorePath())
      return constant(rowPath);
    if (!spec.hasRowPath())
      return constant(tensorCorePath);
    return arith::SelectOp::create(b, loc, tensorCores,
                                   constant(tensorCorePath),
                                   constant(rowPath));
  };
  Value one = constant(1);
  Value gridX = pick(
      llvm::divideCeil(spec.outputs, spec.getRowsPerBlock()),
      llvm::divideCeil(spec.outputs, spec.getTensorCoreRowsPerBlock()));
  Value gridY = arith::MaxUIOp::create(
      b, loc,
      arith::CeilDivUIOp::create(b, loc, count,
                                 pick(spec.batchTile, spec.mmaBatchTile)),
      one);
  Value sharedBytes;
  if (spec.hasTensorCorePath())
    sharedBytes = arith::IndexCastOp::create(
        b, loc, b.getI32Type(),
        pick(0, spec.getTensorCoreSharedMemoryBytes()));
  gpu::LaunchFuncOp::create(b, loc, kernel, {gridX, gridY, one},
                            {constant(spec.getBlockSize()), one, one},
                            sharedBytes, args);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({dynamic, spec.outputs}, f32), output,
      /*restrict=*/true, /*writable=*/true);
  return restoreRows(b, loc, result, input, resultType);
}

FailureOr<Value> ConvertQWHAToGPUPass::transform(OpBuilder &b, Operation *op,
                                                 Value input,
                                                 bool normalized) {
  auto type = cast<RankedTensorType>(input.getType());
  const int64_t d = type.getShape().back();
  // The verifiers of qwha.fwht and qwha.qlinear_wha accept only sizes that
  // factor.
  std::optional<quant::HadamardSize> size = quant::factorHadamardSize(d);
  assert(size && "verified Hadamard size");
  if (d > cuda::kMaxGpuFWHTSize)
    return op->emitOpError("transforms rows of ")
           << d << " values; the GPU kernel keeps a row in shared memory and "
           << "takes at most " << cuda::kMaxGpuFWHTSize;
  if (size->baseOrder > quant::kMaxLoweredBaseOrder)
    return op->emitOpError("needs a base Hadamard matrix of order ")
           << size->baseOrder << ", larger than the lowerings build ("
           << quant::kMaxLoweredBaseOrder << ")";

  std::string name = "fwht_" + std::to_string(d) + (normalized ? "_n" : "");
  auto kernel = kernelSymbols->lookup<gpu::GPUFuncOp>(name);
  cuda::FWHTKernelSpec spec;
  spec.powerOfTwo = size->powerOfTwo;
  spec.baseOrder = size->baseOrder;
  spec.normalized = normalized;
  if (!kernel) {
    if (spec.baseOrder > 1) {
      const int64_t m = spec.baseOrder;
      std::vector<int8_t> signs = quant::buildBaseHadamardMatrix(m);
      std::vector<float> table(signs.begin(), signs.end());
      std::string tableName = "hadamard_" + std::to_string(m);
      spec.baseMatrix = kernelSymbols->lookup<memref::GlobalOp>(tableName);
      if (!spec.baseMatrix)
        spec.baseMatrix = createGlobal(op->getLoc(), tableName, b.getF32Type(),
                                       {m * m}, asBytes(table));
    }
    kernel = cuda::buildFWHTKernel(kernels, op->getLoc(), name, spec);
    kernelSymbols->insert(kernel);
  }

  Location loc = op->getLoc();
  Type f32 = b.getF32Type();
  Value rows = foldRows(b, loc, input);
  Value count = tensor::DimOp::create(b, loc, rows, 0);
  auto rowsType = MemRefType::get({ShapedType::kDynamic, d}, f32);
  Value source =
      bufferization::ToBufferOp::create(b, loc, rowsType, rows, true);
  Value output = memref::AllocOp::create(b, loc, rowsType, ValueRange{count},
                                         b.getI64IntegerAttr(64));
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value grid = arith::MaxUIOp::create(b, loc, count, one);
  Value threads = arith::ConstantIndexOp::create(b, loc, spec.getBlockSize());
  Value shared = arith::ConstantIntOp::create(b, loc, b.getI32Type(),
                                              spec.getSharedMemoryBytes());
  gpu::LaunchFuncOp::create(b, loc, kernel, {grid, one, one},
                            {threads, one, one}, shared,
                            ValueRange{source, output});
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic, d}, f32), output,
      /*restrict=*/true, /*writable=*/true);
  return restoreRows(b, loc, result, input, type);
}

LogicalResult ConvertQWHAToGPUPass::lowerQuantized(
    Operation *op, StringRef name, Value input,
    const quant::GpuPackedWeight &packed,
    std::optional<cuda::RowKernelAdapter> adapter) {
  std::string symbol = sanitize(name);
  cuda::RowKernelSpec spec;
  spec.outputs = packed.rows;
  spec.inputs = packed.cols;
  spec.weight = createWeightGlobals(op->getLoc(), symbol, packed);
  spec.adapter = adapter;
  configureRowKernel(spec, input);

  OpBuilder b(op);
  Value transformed;
  if (spec.takesTransform()) {
    auto cached = transforms.find(input);
    if (cached != transforms.end() &&
        cached->second.getParentBlock() == op->getBlock()) {
      transformed = cached->second;
    } else {
      FailureOr<Value> computed = transform(b, op, input, /*normalized=*/true);
      if (failed(computed))
        return failure();
      transformed = transforms[input] = *computed;
    }
  }
  gpu::GPUFuncOp kernel =
      cuda::buildRowKernel(kernels, op->getLoc(), "qlinear_" + symbol, spec);
  kernelSymbols->insert(kernel);
  Value result =
      launchRowKernel(b, op->getLoc(), kernel, spec, input, transformed,
                      cast<RankedTensorType>(op->getResult(0).getType()));
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
  return success();
}

/// The constants of a quantized layer packed for the GPU, or an error
/// naming the layer.
template <typename OpTy>
static FailureOr<quant::GpuPackedWeight> packLayerForGpu(OpTy op) {
  FailureOr<quant::QuantizedMatrix> matrix = readQuantizedWeight(op);
  if (failed(matrix))
    return failure();
  llvm::Expected<quant::GpuPackedWeight> packed =
      quant::packForGpu(matrix->view());
  if (!packed)
    return op.emitOpError("cannot pack the weight of layer '")
           << op.getName()
           << "' for the GPU: " << llvm::toString(packed.takeError());
  return std::move(*packed);
}

LogicalResult ConvertQWHAToGPUPass::lowerQLinear(QLinearOp op) {
  FailureOr<quant::GpuPackedWeight> packed = packLayerForGpu(op);
  if (failed(packed))
    return failure();
  return lowerQuantized(op, op.getName(), op.getInput(), *packed,
                        std::nullopt);
}

LogicalResult ConvertQWHAToGPUPass::lowerQLinearWHA(QLinearWHAOp op) {
  FailureOr<quant::GpuPackedWeight> packed = packLayerForGpu(op);
  if (failed(packed))
    return failure();
  FailureOr<cuda::RowKernelAdapter> adapter = createAdapterGlobals(
      op, sanitize(op.getName()) + "_adapter", op.getRowOffsets(),
      op.getCols(), op.getValues(), packed->cols);
  if (failed(adapter))
    return failure();
  return lowerQuantized(op, op.getName(), op.getInput(), *packed, *adapter);
}

LogicalResult ConvertQWHAToGPUPass::lowerLinear(LinearOp op) {
  RankedTensorType type = op.getWeight().getType();
  if (!type.getElementType().isF32())
    return op.emitOpError("has a ")
           << type.getElementType()
           << " weight; the GPU kernels take f32 float weights";
  FailureOr<std::vector<float>> weight =
      readConstantFloats(op.getWeight(), op, "weight");
  if (failed(weight))
    return failure();
  llvm::Expected<quant::GpuPackedWeight> packed = quant::packFloatForGpu(
      type.getDimSize(0), type.getDimSize(1), *weight);
  if (!packed)
    return op.emitOpError("cannot pack the weight of layer '")
           << op.getName()
           << "' for the GPU: " << llvm::toString(packed.takeError());
  return lowerQuantized(op, op.getName(), op.getInput(), *packed,
                        std::nullopt);
}

LogicalResult ConvertQWHAToGPUPass::lowerFWHT(FWHTOp op) {
  OpBuilder b(op);
  FailureOr<Value> result =
      transform(b, op, op.getInput(), op.getNormalized());
  if (failed(result))
    return failure();
  op.replaceAllUsesWith(*result);
  op.erase();
  return success();
}

LogicalResult ConvertQWHAToGPUPass::lowerSparseLinear(SparseLinearOp op) {
  const int64_t inputs = op.getInput().getType().getShape().back();
  std::string prefix = "adapter";
  if (auto layer =
          op->getAttrOfType<StringAttr>(QWHADialect::getLayerNameAttrName()))
    prefix += "_" + sanitize(layer.getValue());
  FailureOr<cuda::RowKernelAdapter> adapter =
      createAdapterGlobals(op, prefix, op.getRowOffsets(), op.getCols(),
                           op.getValues(), inputs);
  if (failed(adapter))
    return failure();
  adapter->readsInput = true;
  cuda::RowKernelSpec spec;
  spec.outputs = op.getResult().getType().getShape().back();
  spec.inputs = inputs;
  spec.adapter = *adapter;
  configureRowKernel(spec, op.getInput());
  gpu::GPUFuncOp kernel =
      cuda::buildRowKernel(kernels, op.getLoc(), "sparse_" + prefix, spec);
  kernelSymbols->insert(kernel);
  OpBuilder b(op);
  Value result = launchRowKernel(b, op.getLoc(), kernel, spec, op.getInput(),
                                 Value(), op.getResult().getType());
  op.replaceAllUsesWith(result);
  op.erase();
  return success();
}

void ConvertQWHAToGPUPass::runOnOperation() {
  if (failed(checkOptions()))
    return signalPassFailure();
  ModuleOp module = getOperation();

  // Every qwha op must be lowered here: there is no generic GPU path.
  SmallVector<Operation *> ops;
  bool unsupported = false;
  module.walk([&](Operation *op) {
    if (!isa<QWHADialect>(op->getDialect()))
      return;
    if (!isa<QLinearOp, QLinearWHAOp, LinearOp, FWHTOp, SparseLinearOp>(op)) {
      op->emitOpError("has no GPU lowering")
          << (isa<DequantizeOp>(op)
                  ? ": a dequantize that does not feed a qwha.linear is not "
                    "folded into a layer"
                  : "");
      unsupported = true;
      return;
    }
    // The activation is operand 0 of every lowered op.
    Type element = getElementTypeOrSelf(op->getOperand(0));
    if (!element.isF32()) {
      op->emitOpError("has a ")
          << element << " input; the GPU kernels take f32 activations";
      unsupported = true;
      return;
    }
    ops.push_back(op);
  });
  if (unsupported)
    return signalPassFailure();
  if (ops.empty())
    return;

  createKernelModule();
  for (Operation *op : ops) {
    LogicalResult lowered =
        TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](QLinearOp op) { return lowerQLinear(op); })
            .Case([&](QLinearWHAOp op) { return lowerQLinearWHA(op); })
            .Case([&](LinearOp op) { return lowerLinear(op); })
            .Case([&](FWHTOp op) { return lowerFWHT(op); })
            .Case([&](SparseLinearOp op) { return lowerSparseLinear(op); });
    if (failed(lowered))
      return signalPassFailure();
  }
}
