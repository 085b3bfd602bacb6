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
// device memory when the library is loaded (or, should that fail, when a
// host function next launches a kernel that reads it); kernels take them
// as arguments.
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
  /// upload.
  LLVM::GlobalOp slot;
};

/// The bytes of `type`'s data as the host lays it out, or nullopt for a
/// memref this pass leaves in the kernel image. Elements of up to 8 bits
/// take a byte each in an LLVM array, as on the device; other widths than
/// 16, 32 and 64 bits (i24, f80) are padded differently by host and device
/// data layouts and stay.
std::optional<int64_t> getHostBytes(MemRefType type) {
  if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
      !type.getElementType().isIntOrFloat())
    return std::nullopt;
  unsigned bits = type.getElementType().getIntOrFloatBitWidth();
  if (bits > 8 && bits != 16 && bits != 32 && bits != 64)
    return std::nullopt;
  return type.getNumElements() * llvm::divideCeil(bits, 8);
}

/// Whether a kernel reading global memory can view a device allocation as
/// `type`: no memory space, or the global one (not constant or shared
/// memory, which a generic pointer cannot be cast into).
bool isInGlobalMemory(MemRefType type) {
  Attribute space = type.getMemorySpace();
  if (!space)
    return true;
  auto gpuSpace = dyn_cast<gpu::AddressSpaceAttr>(space);
  return gpuSpace && gpuSpace.getValue() == gpu::AddressSpace::Global;
}

/// Whether every use of `global` in `kernels` is a memref.get_global in a
/// kernel of `launchedKernels`: only a kernel has arguments, and only the
/// launches of this module can be given the new ones.
bool isReadByLaunchedKernelsOnly(memref::GlobalOp global,
                                 gpu::GPUModuleOp kernels,
                                 const DenseSet<Operation *> &launchedKernels) {
  std::optional<SymbolTable::UseRange> uses =
      SymbolTable::getSymbolUses(global, kernels);
  if (!uses)
    return false;
  return llvm::all_of(*uses, [&](SymbolTable::SymbolUse use) {
    auto read = dyn_cast<memref::GetGlobalOp>(use.getUser());
    if (!read)
      return false;
    // The kernel's entry arguments are visible in every region nested in it
    // that is not isolated from above.
    auto kernel = dyn_cast<gpu::GPUFuncOp>(
        read->getParentWithTrait<OpTrait::IsIsolatedFromAbove>());
    return kernel && kernel.isKernel() && launchedKernels.contains(kernel);
  });
}

struct UploadKernelConstantsPass
    : public qwha::impl::UploadKernelConstantsBase<UploadKernelConstantsPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  /// The constants of `kernels` to move, in the module's order.
  SmallVector<MovedConstant>
  findMovableConstants(gpu::GPUModuleOp kernels,
                       const DenseSet<Operation *> &launchedKernels);
  /// Creates the host global and the slot of `constant`.
  void createHostGlobals(MovedConstant &constant, SymbolTable &hostSymbols);
  /// The device copy of `constant`, got once at the entry of `function`.
  Value getDeviceConstant(func::FuncOp function, MovedConstant &constant);
  /// Calls qwhaCudaDeviceConstant for `constant` at `b`.
  Value createDeviceConstantCall(OpBuilder &b, Location loc,
                                 const MovedConstant &constant);
  /// Fails, naming the op, if a symbol of the module has the name of a
  /// runtime function but not its type.
  LogicalResult checkRuntimeSymbols(ModuleOp module);
  /// Declares the runtime functions (checked first).
  void declareRuntime(ModuleOp module);
  /// Adds the library constructor that uploads the device copies and the
  /// destructor that frees them, to the module's global constructors and
  /// destructors if it has some.
  void addUploadConstructor(ModuleOp module, SymbolTable &hostSymbols,
                            ArrayRef<MovedConstant> constants);
  void addReleaseDestructor(ModuleOp module, SymbolTable &hostSymbols,
                            ArrayRef<MovedConstant> constants);

  LLVM::LLVMFuncOp deviceConstantFn;
  LLVM::LLVMFuncOp releaseFn;
  DenseMap<std::pair<Operation *, MovedConstant *>, Value> deviceValues;
};

} // namespace

SmallVector<MovedConstant> UploadKernelConstantsPass::findMovableConstants(
    gpu::GPUModuleOp kernels, const DenseSet<Operation *> &launchedKernels) {
  SmallVector<MovedConstant> moved;
  for (auto global : kernels.getOps<memref::GlobalOp>()) {
    // A public global may be looked up by name (cuModuleGetGlobal).
    if (!global.getConstant() || !global.getInitialValue() ||
        global.isUninitialized() || !global.isPrivate())
      continue;
    MemRefType type = global.getType();
    std::optional<int64_t> bytes = getHostBytes(type);
    if (!bytes || *bytes <= maxEmbeddedBytes || !isInGlobalMemory(type))
      continue;
    if (!isReadByLaunchedKernelsOnly(global, kernels, launchedKernels))
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

/// The runtime's functions: name and LLVM type.
static SmallVector<std::pair<StringRef, LLVM::LLVMFunctionType>>
getRuntimeFunctions(MLIRContext *context) {
  auto pointer = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  return {{kDeviceConstantFn,
           LLVM::LLVMFunctionType::get(pointer, {pointer, pointer, i64})},
          {kReleaseDeviceConstantFn,
           LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context),
                                       {pointer})}};
}

LogicalResult UploadKernelConstantsPass::checkRuntimeSymbols(ModuleOp module) {
  for (auto [name, type] : getRuntimeFunctions(&getContext())) {
    Operation *existing = module.lookupSymbol(name);
    if (!existing)
      continue;
    auto function = dyn_cast<LLVM::LLVMFuncOp>(existing);
    if (!function || function.getFunctionType() != type)
      return existing->emitOpError("is named ")
             << name << ", the CUDA runtime function of type " << type
             << " that qwha-upload-kernel-constants calls";
  }
  return success();
}

void UploadKernelConstantsPass::declareRuntime(ModuleOp module) {
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  SmallVector<LLVM::LLVMFuncOp> functions;
  for (auto [name, type] : getRuntimeFunctions(&getContext())) {
    auto function = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!function)
      function = LLVM::LLVMFuncOp::create(b, module.getLoc(), name, type);
    functions.push_back(function);
  }
  deviceConstantFn = functions[0];
  releaseFn = functions[1];
}

Value UploadKernelConstantsPass::getDeviceConstant(func::FuncOp function,
                                                   MovedConstant &constant) {
  Value &value = deviceValues[{function.getOperation(), &constant}];
  if (value)
    return value;
  OpBuilder b = OpBuilder::atBlockBegin(&function.getBody().front());
  value = createDeviceConstantCall(b, constant.kernelGlobal.getLoc(), constant);
  return value;
}

Value UploadKernelConstantsPass::createDeviceConstantCall(
    OpBuilder &b, Location loc, const MovedConstant &constant) {
  auto pointer = LLVM::LLVMPointerType::get(&getContext());
  Value slot = LLVM::AddressOfOp::create(b, loc, constant.slot);
  memref::GlobalOp hostGlobal = constant.hostGlobal;
  Value host = memref::GetGlobalOp::create(b, loc, constant.hostType,
                                           hostGlobal.getSymName());
  Value hostAddress =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, host);
  Value hostInteger =
      arith::IndexCastOp::create(b, loc, b.getI64Type(), hostAddress);
  Value hostPointer = LLVM::IntToPtrOp::create(b, loc, pointer, hostInteger);
  Value bytes = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                         b.getI64IntegerAttr(constant.bytes));
  return LLVM::CallOp::create(b, loc, deviceConstantFn,
                              ValueRange{slot, hostPointer, bytes})
      .getResult();
}

/// Registers `function` in the module's `StructorsOp` (llvm.mlir.global_ctors
/// or global_dtors) with `priority`, creating the op or extending the one
/// the module has.
template <typename StructorsOp>
static void appendToGlobalStructors(ModuleOp module, LLVM::LLVMFuncOp function,
                                    int32_t priority) {
  OpBuilder b(function->getContext());
  SmallVector<Attribute> functions = {FlatSymbolRefAttr::get(function)};
  SmallVector<Attribute> priorities = {b.getI32IntegerAttr(priority)};
  SmallVector<Attribute> data = {LLVM::ZeroAttr::get(b.getContext())};
  auto existing = module.getOps<StructorsOp>();
  if (!existing.empty()) {
    StructorsOp old = *existing.begin();
    if constexpr (std::is_same_v<StructorsOp, LLVM::GlobalCtorsOp>)
      llvm::append_range(functions, old.getCtors());
    else
      llvm::append_range(functions, old.getDtors());
    llvm::append_range(priorities, old.getPriorities());
    llvm::append_range(data, old.getData());
    old.erase();
  }
  b.setInsertionPointAfter(function);
  StructorsOp::create(b, function.getLoc(), b.getArrayAttr(functions),
                      b.getArrayAttr(priorities), b.getArrayAttr(data));
}

/// An internal `void name()` at the end of `module`, renamed on a clash,
/// with a builder at its entry.
static std::pair<LLVM::LLVMFuncOp, OpBuilder>
createStructor(ModuleOp module, SymbolTable &hostSymbols, StringRef name) {
  MLIRContext *context = module.getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto function = LLVM::LLVMFuncOp::create(
      b, module.getLoc(), name,
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context), {}),
      LLVM::Linkage::Internal);
  hostSymbols.insert(function); // renames on a clash
  b.setInsertionPointToStart(function.addEntryBlock(b));
  return {function, b};
}

void UploadKernelConstantsPass::addUploadConstructor(
    ModuleOp module, SymbolTable &hostSymbols,
    ArrayRef<MovedConstant> constants) {
  // At load, so that no call pays for the copies, and a first call may be
  // captured into a CUDA graph (an allocation and a synchronous copy cannot
  // be). A failure is left in the runtime's error state for the loader to
  // take, and the functions' own calls try again.
  auto [upload, b] =
      createStructor(module, hostSymbols, "__qwha_upload_device_constants");
  for (const MovedConstant &constant : constants) {
    memref::GlobalOp host = constant.hostGlobal;
    createDeviceConstantCall(b, host.getLoc(), constant);
  }
  LLVM::ReturnOp::create(b, module.getLoc(), ValueRange());
  // After upstream's module load (priority 123), on the same device: the
  // loading thread's default one.
  appendToGlobalStructors<LLVM::GlobalCtorsOp>(module, upload, 124);
}

void UploadKernelConstantsPass::addReleaseDestructor(
    ModuleOp module, SymbolTable &hostSymbols,
    ArrayRef<MovedConstant> constants) {
  auto [release, b] =
      createStructor(module, hostSymbols, "__qwha_release_device_constants");
  Location loc = module.getLoc();
  for (const MovedConstant &constant : constants)
    LLVM::CallOp::create(
        b, loc, releaseFn,
        ValueRange{LLVM::AddressOfOp::create(b, loc, constant.slot)});
  LLVM::ReturnOp::create(b, loc, ValueRange());
  // Before upstream's module unload (priority 123), though the order does
  // not matter: the copies are separate allocations.
  appendToGlobalStructors<LLVM::GlobalDtorsOp>(module, release, 124);
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

  // The kernels every launch of which is in a function of the module: the
  // host code that can get the device copies at its entry. Checked before
  // anything changes.
  DenseSet<Operation *> launchedKernels, launchedElsewhere;
  module.walk([&](gpu::LaunchFuncOp launch) {
    auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        launch, launch.getKernel());
    if (!kernel)
      return;
    auto function = dyn_cast<func::FuncOp>(
        launch->getParentWithTrait<OpTrait::IsIsolatedFromAbove>());
    if (function && function->getParentOp() == module)
      launchedKernels.insert(kernel);
    else
      launchedElsewhere.insert(kernel);
  });
  for (Operation *kernel : launchedElsewhere)
    launchedKernels.erase(kernel);

  SmallVector<MovedConstant> moved;
  for (auto kernels : module.getOps<gpu::GPUModuleOp>())
    llvm::append_range(moved, findMovableConstants(kernels, launchedKernels));
  if (moved.empty())
    return;
  // Points into `moved`, which no longer grows.
  DenseMap<Operation *, MovedConstant *> movedByGlobal;
  for (MovedConstant &constant : moved)
    movedByGlobal[constant.kernelGlobal] = &constant;
  if (failed(checkRuntimeSymbols(module)))
    return signalPassFailure();

  SymbolTable hostSymbols(module);
  for (MovedConstant &constant : moved)
    createHostGlobals(constant, hostSymbols);
  declareRuntime(module);

  // Each kernel's new arguments, in the order they were added.
  DenseMap<Operation *, SmallVector<MovedConstant *>> kernelArguments;
  MLIRContext *context = &getContext();
  auto pointer = LLVM::LLVMPointerType::get(context);
  for (auto kernels : module.getOps<gpu::GPUModuleOp>()) {
    SymbolTable kernelSymbols(kernels);
    // The kernels' index width, as convert-gpu-to-nvvm derives it.
    LLVMTypeConverter converter(
        context, LowerToLLVMOptions(context, DataLayout(kernels)));
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
            b, loc, converter, constant->hostType, kernel.getArgument(index));
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

  module.walk([&](gpu::LaunchFuncOp launch) {
    auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        launch, launch.getKernel());
    auto arguments = kernelArguments.find(kernel);
    if (arguments == kernelArguments.end())
      return;
    // Only kernels launched from the module's functions have arguments.
    auto function = cast<func::FuncOp>(
        launch->getParentWithTrait<OpTrait::IsIsolatedFromAbove>());
    SmallVector<Value> values;
    for (MovedConstant *constant : arguments->second)
      values.push_back(getDeviceConstant(function, *constant));
    launch.getKernelOperandsMutable().append(values);
  });

  for (MovedConstant &constant : moved)
    constant.kernelGlobal.erase();
  addUploadConstructor(module, hostSymbols, moved);
  addReleaseDestructor(module, hostSymbols, moved);
}
