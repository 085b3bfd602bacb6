//===- UploadKernelConstants.cpp - Large kernel constants in host memory --===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A constant global of a gpu.module is part of the kernel image:
// gpu-module-to-binary prints it into the PTX as text and ptxas assembles
// it. For a model that is every packed weight and every embedding table:
// most of the compile time, the library's size twice over (PTX and cubin),
// and no way to reach billions of weights. Large constants therefore stay
// in the host library's read-only data, and the runtime copies each into
// device memory the first time a host function launches a kernel that
// reads it; kernels take them as arguments.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToGPU/QWHAToGPU.h"

#include "mlir/Conversion/LLVMCommon/MemRefBuilder.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"

namespace qwha {
#define GEN_PASS_DEF_UPLOADKERNELCONSTANTS
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;

namespace {

/// The runtime functions of include/qwha/Runtime/CudaRuntime.h the host
/// code calls.
constexpr llvm::StringLiteral kDeviceConstantFn = "qwhaCudaDeviceConstant";
constexpr llvm::StringLiteral kReleaseDeviceConstantFn =
    "qwhaCudaReleaseDeviceConstant";

/// A kernel-module constant that moves to the host library.
struct MovedConstant {
  memref::GlobalOp kernelGlobal;
  /// The global's type in the default memory space: the host global's, and
  /// the kernels' view of the pointer they get.
  MemRefType hostType;
  int64_t bytes = 0;
  memref::GlobalOp hostGlobal;
  /// The host global holding the device copy's address, null until the
  /// first upload.
  LLVM::GlobalOp slot;
};

/// The bytes of `type`'s data as the host lays it out (sub-byte integers
/// take a byte each, as in an LLVM array), or nullopt for a memref this pass
/// leaves in the kernel image.
std::optional<int64_t> getHostBytes(MemRefType type) {
  if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
      !type.getElementType().isIntOrFloat())
    return std::nullopt;
  int64_t elementBytes =
      llvm::divideCeil(type.getElementType().getIntOrFloatBitWidth(), 8);
  return type.getNumElements() * elementBytes;
}

/// Whether every use of `global` in `kernels` is a memref.get_global in a
/// kernel: only a kernel has arguments a launch can fill.
bool isReadByKernelsOnly(memref::GlobalOp global, gpu::GPUModuleOp kernels) {
  std::optional<SymbolTable::UseRange> uses =
      SymbolTable::getSymbolUses(global, kernels);
  if (!uses)
    return false;
  return llvm::all_of(*uses, [](SymbolTable::SymbolUse use) {
    auto read = dyn_cast<memref::GetGlobalOp>(use.getUser());
    if (!read)
      return false;
    // The kernel's entry arguments are visible in every region nested in it
    // that is not isolated from above.
    auto kernel = dyn_cast<gpu::GPUFuncOp>(
        read->getParentWithTrait<OpTrait::IsIsolatedFromAbove>());
    return kernel && kernel.isKernel();
  });
}

struct UploadKernelConstantsPass
    : public qwha::impl::UploadKernelConstantsBase<UploadKernelConstantsPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The constants of `kernels` to move, in the module's order.
  SmallVector<MovedConstant> findMovableConstants(gpu::GPUModuleOp kernels);
  /// Creates the host global and the slot of `constant`.
  void createHostGlobals(MovedConstant &constant, SymbolTable &hostSymbols);
  /// The device copy of `constant`, got once at the entry of `function`.
  Value getDeviceConstant(func::FuncOp function, MovedConstant &constant);
  /// Declares the runtime functions, once.
  void declareRuntime(ModuleOp module);
  /// Adds the library destructor that frees the device copies.
  LogicalResult addReleaseDestructor(ModuleOp module,
                                     ArrayRef<MovedConstant *> constants);

  /// Builds the kernels' memref descriptors; set for the duration of a run.
  const LLVMTypeConverter *typeConverter = nullptr;
  LLVM::LLVMFuncOp deviceConstantFn;
  LLVM::LLVMFuncOp releaseFn;
  DenseMap<std::pair<Operation *, MovedConstant *>, Value> deviceValues;
};

} // namespace

SmallVector<MovedConstant>
UploadKernelConstantsPass::findMovableConstants(gpu::GPUModuleOp kernels) {
  SmallVector<MovedConstant> moved;
  for (auto global : kernels.getOps<memref::GlobalOp>()) {
    if (!global.getConstant() || !global.getInitialValue() ||
        global.isUninitialized())
      continue;
    MemRefType type = global.getType();
    std::optional<int64_t> bytes = getHostBytes(type);
    if (!bytes || *bytes <= maxEmbeddedBytes)
      continue;
    if (!isReadByKernelsOnly(global, kernels))
      continue;
    MovedConstant constant;
    constant.kernelGlobal = global;
    constant.hostType = MemRefType::get(type.getShape(), type.getElementType());
    constant.bytes = *bytes;
    moved.push_back(constant);
  }
  return moved;
}

void UploadKernelConstantsPass::createHostGlobals(MovedConstant &constant,
                                                  SymbolTable &hostSymbols) {
  ModuleOp module = getOperation();
  memref::GlobalOp kernelGlobal = constant.kernelGlobal;
  Location loc = kernelGlobal.getLoc();
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto moduleName =
      kernelGlobal->getParentOfType<gpu::GPUModuleOp>().getSymName();
  std::string name = (moduleName + "_" + kernelGlobal.getSymName()).str();
  constant.hostGlobal = memref::GlobalOp::create(
      b, loc, name, b.getStringAttr("private"), constant.hostType,
      kernelGlobal.getInitialValueAttr(), /*constant=*/true,
      kernelGlobal.getAlignmentAttr());
  hostSymbols.insert(constant.hostGlobal); // renames on a clash

  auto pointer = LLVM::LLVMPointerType::get(&getContext());
  constant.slot = LLVM::GlobalOp::create(
      b, loc, pointer, /*isConstant=*/false, LLVM::Linkage::Internal,
      (constant.hostGlobal.getSymName() + "_device").str(), Attribute());
  Block *init = b.createBlock(&constant.slot.getInitializerRegion());
  b.setInsertionPointToStart(init);
  LLVM::ReturnOp::create(b, loc,
                         LLVM::ZeroOp::create(b, loc, pointer).getResult());
  hostSymbols.insert(constant.slot);
}

void UploadKernelConstantsPass::declareRuntime(ModuleOp module) {
  if (deviceConstantFn)
    return;
  MLIRContext *context = &getContext();
  auto pointer = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto declare = [&](StringRef name, Type result, ArrayRef<Type> params) {
    if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
      return existing;
    return LLVM::LLVMFuncOp::create(
        b, module.getLoc(), name, LLVM::LLVMFunctionType::get(result, params));
  };
  deviceConstantFn =
      declare(kDeviceConstantFn, pointer, {pointer, pointer, i64});
  releaseFn = declare(kReleaseDeviceConstantFn,
                      LLVM::LLVMVoidType::get(context), {pointer});
}

Value UploadKernelConstantsPass::getDeviceConstant(func::FuncOp function,
                                                   MovedConstant &constant) {
  Value &value = deviceValues[{function.getOperation(), &constant}];
  if (value)
    return value;
  Location loc = constant.kernelGlobal.getLoc();
  OpBuilder b = OpBuilder::atBlockBegin(&function.getBody().front());
  auto pointer = LLVM::LLVMPointerType::get(&getContext());
  Value slot = LLVM::AddressOfOp::create(b, loc, constant.slot);
  Value host = memref::GetGlobalOp::create(b, loc, constant.hostType,
                                           constant.hostGlobal.getSymName());
  Value hostAddress =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, host);
  Value hostInteger =
      arith::IndexCastOp::create(b, loc, b.getI64Type(), hostAddress);
  Value hostPointer = LLVM::IntToPtrOp::create(b, loc, pointer, hostInteger);
  Value bytes = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                         b.getI64IntegerAttr(constant.bytes));
  value = LLVM::CallOp::create(b, loc, deviceConstantFn,
                               ValueRange{slot, hostPointer, bytes})
              .getResult();
  return value;
}

LogicalResult UploadKernelConstantsPass::addReleaseDestructor(
    ModuleOp module, ArrayRef<MovedConstant *> constants) {
  if (auto existing = module.getOps<LLVM::GlobalDtorsOp>(); !existing.empty())
    return (*existing.begin())
        ->emitOpError(
            "is already in the module; qwha-upload-kernel-constants adds the "
            "library destructor that frees the device copies of the constants");
  Location loc = module.getLoc();
  MLIRContext *context = &getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto release = LLVM::LLVMFuncOp::create(
      b, loc, "__qwha_release_device_constants",
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context), {}),
      LLVM::Linkage::Internal);
  SymbolTable(module).insert(release);
  b.setInsertionPointToStart(release.addEntryBlock(b));
  for (MovedConstant *constant : constants)
    LLVM::CallOp::create(
        b, loc, releaseFn,
        ValueRange{LLVM::AddressOfOp::create(b, loc, constant->slot)});
  LLVM::ReturnOp::create(b, loc, ValueRange());
  b.setInsertionPointAfter(release);
  LLVM::GlobalDtorsOp::create(
      b, loc, b.getArrayAttr(FlatSymbolRefAttr::get(release)),
      // Before upstream's module unload (priority 123), though the order
      // does not matter: the copies are separate allocations.
      b.getArrayAttr(b.getI32IntegerAttr(124)),
      b.getArrayAttr(LLVM::ZeroAttr::get(context)));
  return success();
}

void UploadKernelConstantsPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (maxEmbeddedBytes < 0) {
    module.emitError("qwha-upload-kernel-constants: max-embedded-bytes must "
                     "not be negative, not ")
        << int64_t(maxEmbeddedBytes);
    return signalPassFailure();
  }
  deviceConstantFn = {};
  releaseFn = {};
  deviceValues.clear();
  // Filled first, then only pointed into.
  SmallVector<SmallVector<MovedConstant>> movedPerModule;
  for (auto kernels : module.getOps<gpu::GPUModuleOp>())
    movedPerModule.push_back(findMovableConstants(kernels));
  DenseMap<Operation *, MovedConstant *> movedByGlobal;
  SmallVector<MovedConstant *> allMoved;
  for (SmallVector<MovedConstant> &moved : movedPerModule)
    for (MovedConstant &constant : moved) {
      movedByGlobal[constant.kernelGlobal] = &constant;
      allMoved.push_back(&constant);
    }
  if (allMoved.empty())
    return;

  // Index types are 64 bits wide on the host (gpu-to-llvm) and in kernels
  // (convert-gpu-to-nvvm's default), as the pipelines lower them.
  LLVMTypeConverter converter(&getContext());
  typeConverter = &converter;
  SymbolTable hostSymbols(module);
  for (MovedConstant *constant : allMoved)
    createHostGlobals(*constant, hostSymbols);
  declareRuntime(module);

  // Each kernel's new arguments, in the order they were added.
  DenseMap<Operation *, SmallVector<MovedConstant *>> kernelArguments;
  MLIRContext *context = &getContext();
  auto pointer = LLVM::LLVMPointerType::get(context);
  for (auto kernels : module.getOps<gpu::GPUModuleOp>()) {
    SymbolTable kernelSymbols(kernels);
    for (auto kernel : kernels.getOps<gpu::GPUFuncOp>()) {
      // The distinct moved globals the kernel reads, in reading order.
      llvm::MapVector<MovedConstant *, SmallVector<memref::GetGlobalOp>> reads;
      kernel.walk([&](memref::GetGlobalOp read) {
        auto global = kernelSymbols.lookup<memref::GlobalOp>(read.getName());
        if (MovedConstant *constant = movedByGlobal.lookup(global))
          reads[constant].push_back(read);
      });
      if (reads.empty())
        continue;
      Block &entry = kernel.getBody().front();
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      SmallVector<MovedConstant *> &arguments = kernelArguments[kernel];
      for (auto &[constant, constantReads] : reads) {
        // A bare pointer rather than a memref: the GPU lowering keeps
        // llvm.noalias only there. Nothing writes a constant, so with
        // llvm.readonly its loads may take the non-coherent cache
        // (ld.global.nc). The runtime's allocations are aligned to 256
        // bytes; 16 is what 128-bit loads need.
        NamedAttrList attributes;
        attributes.append(LLVM::LLVMDialect::getNoAliasAttrName(),
                          UnitAttr::get(context));
        attributes.append(LLVM::LLVMDialect::getReadonlyAttrName(),
                          UnitAttr::get(context));
        attributes.append(LLVM::LLVMDialect::getAlignAttrName(),
                          b.getI64IntegerAttr(16));
        Location loc = constant->kernelGlobal.getLoc();
        unsigned index = kernel.getNumArguments();
        if (failed(kernel.insertArgument(
                index, pointer, attributes.getDictionary(context), loc)))
          return signalPassFailure();
        // The kernel's view of it, as the global was: a static descriptor
        // that the NVVM lowering folds away.
        Value descriptor = MemRefDescriptor::fromStaticShape(
            b, loc, *typeConverter, constant->hostType,
            kernel.getArgument(index));
        Value view = UnrealizedConversionCastOp::create(
                         b, loc, constant->hostType, descriptor)
                         .getResult(0);
        MemRefType globalType = constant->kernelGlobal.getType();
        if (globalType.getMemorySpace())
          view = memref::MemorySpaceCastOp::create(b, loc, globalType, view);
        for (memref::GetGlobalOp read : constantReads) {
          read.replaceAllUsesWith(view);
          read.erase();
        }
        arguments.push_back(constant);
      }
    }
  }

  WalkResult launched = module.walk([&](gpu::LaunchFuncOp launch) {
    auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        launch, launch.getKernel());
    auto arguments = kernelArguments.find(kernel);
    if (arguments == kernelArguments.end())
      return WalkResult::advance();
    auto function = dyn_cast<func::FuncOp>(
        launch->getParentWithTrait<OpTrait::IsIsolatedFromAbove>());
    if (!function || function->getParentOp() != module) {
      launch.emitOpError("launches ")
          << launch.getKernel()
          << ", which reads constants the host uploads, outside a function "
             "of the module";
      return WalkResult::interrupt();
    }
    SmallVector<Value> values;
    for (MovedConstant *constant : arguments->second)
      values.push_back(getDeviceConstant(function, *constant));
    launch.getKernelOperandsMutable().append(values);
    return WalkResult::advance();
  });
  if (launched.wasInterrupted())
    return signalPassFailure();

  for (MovedConstant *constant : allMoved)
    constant->kernelGlobal.erase();
  if (failed(addReleaseDestructor(module, allMoved)))
    return signalPassFailure();
}
