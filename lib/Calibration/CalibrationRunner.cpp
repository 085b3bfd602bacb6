//===- CalibrationRunner.cpp - Run a graph to collect statistics ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Calibration/CalibrationRunner.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Pipelines/Pipelines.h"
#include "qwha/Quant/Hessian.h"
#include "qwha/Runtime/CalibrationRuntime.h"
#include "qwha/Support/Safetensors.h"
#include "qwha/Target/LLVMIR/QWHAToLLVMIRTranslation.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/TargetSelect.h"

#include <cstring>
#include <dlfcn.h>
#include <map>

#ifndef QWHA_MLIR_LIBRARY_DIR
#error "QWHA_MLIR_LIBRARY_DIR must name the directory of libmlir_c_runner_utils"
#endif

using namespace mlir;
using namespace qwha;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(message.str());
}

/// The safetensors dtype an argument's element type is read from.
std::optional<DType> getDType(Type type) {
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (type.isF64())
    return DType::F64;
  if (type.isInteger(64))
    return DType::I64;
  if (type.isInteger(32))
    return DType::I32;
  if (type.isInteger(16))
    return DType::I16;
  if (type.isInteger(8))
    return DType::I8;
  return std::nullopt;
}

/// One argument: its samples, and a memref descriptor to call with.
struct Argument {
  const TensorView *tensor;
  size_t sampleBytes;
  std::vector<char> buffer;       // one sample, copied: the callee may write
  std::vector<int64_t> descriptor; // {allocated, aligned, offset, sizes, strides}
  void *descriptorPointer;
};

/// Collects tap rows into one accumulator per layer id; keeps the first
/// error, since compiled code cannot receive one.
class HessianSink : public runtime::CalibrationSink {
public:
  explicit HessianSink(ArrayRef<std::string> names) : names(names) {
    accumulators.resize(names.size());
  }

  void observe(int64_t layer, ArrayRef<float> rows, int64_t features) override {
    if (error)
      return;
    if (layer < 0 || layer >= int64_t(names.size())) {
      error = makeError("a tap reported unknown layer id " + llvm::Twine(layer));
      return;
    }
    auto &acc = accumulators[layer];
    if (!acc)
      acc.emplace(features);
    if (acc->getDim() != features) {
      error = makeError("layer '" + names[layer] + "' saw inputs of " +
                        llvm::Twine(features) + " and " +
                        llvm::Twine(acc->getDim()) + " features");
      return;
    }
    if (llvm::Error err = acc->addRows(rows))
      error = makeError("layer '" + names[layer] +
                        "': " + llvm::toString(std::move(err)));
  }

  ArrayRef<std::string> names;
  std::vector<std::optional<quant::HessianAccumulator>> accumulators;
  llvm::Error error = llvm::Error::success();
};

/// Installs a sink for the lifetime of the object.
struct ScopedSink {
  explicit ScopedSink(runtime::CalibrationSink *sink)
      : previous(runtime::setCalibrationSink(sink)) {}
  ~ScopedSink() { runtime::setCalibrationSink(previous); }
  runtime::CalibrationSink *previous;
};

FailureOr<func::FuncOp> findEntry(ModuleOp module, StringRef name,
                                  std::string &error) {
  if (!name.empty()) {
    auto fn = module.lookupSymbol<func::FuncOp>(name);
    if (!fn || fn.isExternal()) {
      error = ("no function '" + name + "' with a body in the module").str();
      return failure();
    }
    return fn;
  }
  func::FuncOp found;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn.isExternal() || fn.isPrivate())
      continue;
    if (found) {
      error = "the module has several public functions ('" +
              found.getName().str() + "', '" + fn.getName().str() +
              "'): name the one to run";
      return failure();
    }
    found = fn;
  }
  if (!found) {
    error = "the module has no public function with a body";
    return failure();
  }
  return found;
}

/// Globals below this size keep their initializer: not worth a symbol.
constexpr size_t kMinExternalWeightBytes = 4096;

/// The bytes `global`'s initializer stands for, when they are laid out as
/// LLVM lays out the global (row-major elements of a whole number of bytes,
/// each at an address aligned to its size), hold no splat, and are large
/// enough to keep out of the JIT's memory.
std::optional<ArrayRef<char>> getExternalizableData(LLVM::GlobalOp global) {
  auto value = dyn_cast_or_null<ElementsAttr>(global.getValueOrNull());
  if (!value)
    return std::nullopt;
  Type element = value.getShapedType().getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8 != 0 ||
      !llvm::isPowerOf2_64(element.getIntOrFloatBitWidth() / 8))
    return std::nullopt;
  ArrayRef<char> data;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    data = blob->getData();
  } else if (auto dense = dyn_cast<DenseIntOrFPElementsAttr>(value)) {
    if (dense.isSplat())
      return std::nullopt;
    data = dense.getRawData();
  } else {
    return std::nullopt;
  }
  const uint64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
  if (data.size() < kMinExternalWeightBytes ||
      data.size() != uint64_t(value.getNumElements()) * elementBytes ||
      reinterpret_cast<uintptr_t>(data.data()) % elementBytes != 0)
    return std::nullopt;
  return data;
}

/// MLIR's C runner utils, opened once per process with local symbols.
llvm::Expected<void *> openRunnerUtils() {
  static void *handle = ::dlopen(QWHA_MLIR_LIBRARY_DIR
                                 "/libmlir_c_runner_utils.so",
                                 RTLD_LAZY | RTLD_LOCAL);
  if (!handle)
    return makeError("cannot load MLIR's runner utils for calibration: " +
                     llvm::Twine(::dlerror()));
  return handle;
}

/// `entry` and the functions it calls, directly or not.
llvm::SmallPtrSet<Operation *, 8> getReachableFunctions(ModuleOp module,
                                                        func::FuncOp entry) {
  llvm::SmallPtrSet<Operation *, 8> reachable;
  SmallVector<func::FuncOp> worklist = {entry};
  while (!worklist.empty()) {
    func::FuncOp current = worklist.pop_back_val();
    if (!reachable.insert(current).second)
      continue;
    current.walk([&](func::CallOp call) {
      if (auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee()))
        worklist.push_back(callee);
    });
  }
  return reachable;
}

} // namespace

llvm::Expected<CalibrationStore>
qwha::runCalibration(ModuleOp module, const SafetensorsFile &inputs,
                     const CalibrationRunOptions &options) {
  MLIRContext *context = module.getContext();
  // Keep diagnostics of the copy out of the user's stream: they become the
  // returned error.
  std::string diagnostics;
  ScopedDiagnosticHandler handler(context, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });

  OwningOpRef<ModuleOp> copy = module.clone();
  std::string error;
  FailureOr<func::FuncOp> entry = findEntry(*copy, options.function, error);
  if (failed(entry))
    return makeError(error);
  func::FuncOp fn = *entry;
  std::string fnName = fn.getName().str();

  // Match arguments with input tensors.
  std::vector<Argument> arguments;
  int64_t samples = -1;
  for (auto [i, type] : llvm::enumerate(fn.getArgumentTypes())) {
    auto tensorType = dyn_cast<RankedTensorType>(type);
    std::string argName = "arg" + std::to_string(i);
    if (auto named = fn.getArgAttrOfType<StringAttr>(i, "qwha.name"))
      argName = named.getValue().str();
    if (!tensorType || !tensorType.hasStaticShape())
      return makeError("argument " + llvm::Twine(i) + " ('" + argName +
                       "') of '" + fnName +
                       "' must be a statically shaped tensor");
    std::optional<DType> dtype = getDType(tensorType.getElementType());
    if (!dtype)
      return makeError("argument '" + argName + "' has unsupported element type");
    llvm::Expected<const TensorView &> tensor = inputs.get(argName);
    if (!tensor)
      return tensor.takeError();
    ArrayRef<int64_t> shape = tensorType.getShape();
    if (tensor->dtype != *dtype || tensor->shape.size() != shape.size() + 1 ||
        ArrayRef<int64_t>(tensor->shape).drop_front() != shape) {
      std::string expected;
      llvm::raw_string_ostream os(expected);
      os << getDTypeName(*dtype) << " [samples";
      for (int64_t d : shape)
        os << ", " << d;
      os << "]";
      return makeError("input tensor '" + argName + "' must be " + expected +
                       " for argument " + llvm::Twine(i) + " of '" + fnName +
                       "'");
    }
    if (samples >= 0 && tensor->shape[0] != samples)
      return makeError("input tensors disagree on the number of samples (" +
                       llvm::Twine(samples) + " and " +
                       llvm::Twine(tensor->shape[0]) + " in '" + argName +
                       "')");
    samples = tensor->shape[0];
    Argument arg;
    arg.tensor = &*tensor;
    arg.sampleBytes = tensorType.getNumElements() * getDTypeSize(*dtype);
    arg.buffer.resize(std::max<size_t>(arg.sampleBytes, 1));
    const int64_t rank = tensorType.getRank();
    arg.descriptor.assign(3 + 2 * rank, 0);
    auto base = reinterpret_cast<int64_t>(arg.buffer.data());
    arg.descriptor[0] = base;
    arg.descriptor[1] = base;
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      arg.descriptor[3 + d] = shape[d];
      arg.descriptor[3 + rank + d] = stride;
      stride *= shape[d];
    }
    arguments.push_back(std::move(arg));
  }
  if (samples < 0)
    samples = 1; // No arguments: the function is its own sample.
  if (options.maxSamples >= 0)
    samples = std::min(samples, options.maxSamples);

  // Only the entry and what it calls run; other functions (a `main` that
  // calls the entry, say) would break once the entry loses its results.
  llvm::SmallPtrSet<Operation *, 8> reachable = getReachableFunctions(*copy, fn);
  for (auto other : llvm::make_early_inc_range(copy->getOps<func::FuncOp>()))
    if (!reachable.contains(other))
      other.erase();
  if (llvm::any_of(copy->getOps<func::FuncOp>(), [&](func::FuncOp other) {
        return other != fn && other.walk([&](func::CallOp call) {
                                  return call.getCallee() == fnName
                                             ? WalkResult::interrupt()
                                             : WalkResult::advance();
                                }).wasInterrupted();
      }))
    return makeError("'" + fnName + "' is called by a function it calls; "
                     "calibrate from another entry point");

  // Only the taps matter: drop the results.
  fn.walk([](func::ReturnOp ret) {
    OpBuilder b(ret);
    func::ReturnOp::create(b, ret.getLoc());
    ret.erase();
  });
  fn.setType(FunctionType::get(context, fn.getArgumentTypes(), {}));

  PassManager pm(context);
  InstrumentCalibrationOptions instrument;
  instrument.layers = options.layers;
  pm.addPass(createInstrumentCalibration(instrument));
  pm.addPass(createLowerCalibrationTaps());
  pm.addPass(createCanonicalizerPass());
  LowerToCPUOptions lower;
  lower.cInterface = true;
  buildLowerToCPUPassPipeline(pm, lower);
  if (failed(pm.run(*copy)))
    return makeError("lowering the model for calibration failed:\n" +
                     diagnostics);

  // Weights stay where they are (a mapped bytecode file, the parser's
  // buffer, the context's copy of the CPU lowering's packed weights) and the
  // JIT resolves them by address: translated as initializers they would be
  // copied into LLVM IR and again into the JIT's memory, and code generation
  // would spend its time on them.
  llvm::StringMap<const void *> externalWeights;
  copy->walk([&](LLVM::GlobalOp global) {
    std::optional<ArrayRef<char>> data = getExternalizableData(global);
    if (!data)
      return;
    // The global keeps the alignment it promised only as far as the data's
    // address gives it (LLVM derives the alignment of accesses from it).
    const uintptr_t address = reinterpret_cast<uintptr_t>(data->data());
    uint64_t alignment = address & -address;
    if (std::optional<uint64_t> promised = global.getAlignment())
      alignment = std::min(alignment, *promised);
    global.setAlignment(alignment);
    externalWeights[global.getSymName()] = data->data();
    global.removeValueAttr();
    global.setLinkage(LLVM::Linkage::External);
  });

  std::vector<std::string> names;
  if (auto list = (*copy)->getAttrOfType<ArrayAttr>(kCalibrationLayersAttrName))
    for (Attribute name : list)
      names.push_back(cast<StringAttr>(name).getValue().str());
  if (names.empty())
    return makeError("no layer of '" + fnName + "' matches '" +
                     options.layers +
                     "': run qwha-raise-linear first, or widen the layers "
                     "expression");

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  qwha::registerQWHADialectTranslation(registry);
  context->appendDialectRegistry(registry);
  auto transformer = makeOptimizingTransformer(/*optLevel=*/2, 0, nullptr);
  // The runtime functions the lowering calls (memrefCopy, ...) come from
  // MLIR's runner utils, opened RTLD_LOCAL and handed to the JIT by address.
  // ExecutionEngine's sharedLibPaths would open it RTLD_GLOBAL, and with it
  // its dependencies libLLVM and libMLIR: their symbols would then interpose
  // the LLVM linked into libraries loaded later in the same process (torch
  // imports triton's), whose static initializers crash.
  llvm::Expected<void *> runnerUtils = openRunnerUtils();
  if (!runnerUtils)
    return runnerUtils.takeError();
  llvm::StringMap<void *> runtimeFunctions;
  copy->walk([&](LLVM::LLVMFuncOp decl) {
    if (decl.isExternal())
      if (void *address = ::dlsym(*runnerUtils, decl.getSymName().str().c_str()))
        runtimeFunctions[decl.getSymName()] = address;
  });
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  auto engine = ExecutionEngine::create(*copy, engineOptions);
  if (!engine)
    return makeError("JIT compilation for calibration failed: " +
                     llvm::toString(engine.takeError()) + "\n" + diagnostics);
  (*engine)->registerSymbols([&](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner(runtime::getObserveSymbolName())] = {
        llvm::orc::ExecutorAddr::fromPtr(runtime::getObserveSymbolAddress()),
        llvm::JITSymbolFlags::Exported};
    for (const auto &weight : externalWeights)
      symbols[interner(weight.getKey())] = {
          llvm::orc::ExecutorAddr::fromPtr(weight.getValue()),
          llvm::JITSymbolFlags::Exported};
    for (const auto &function : runtimeFunctions)
      symbols[interner(function.getKey())] = {
          llvm::orc::ExecutorAddr::fromPtr(function.getValue()),
          llvm::JITSymbolFlags::Exported};
    return symbols;
  });

  HessianSink sink(names);
  ScopedSink scoped(&sink);
  std::string adapter = "_mlir_ciface_" + fnName;
  for (int64_t s = 0; s < samples; ++s) {
    SmallVector<void *> packed;
    for (Argument &arg : arguments) {
      std::memcpy(arg.buffer.data(),
                  arg.tensor->data.data() + s * arg.sampleBytes,
                  arg.sampleBytes);
      arg.descriptorPointer = arg.descriptor.data();
      packed.push_back(&arg.descriptorPointer);
    }
    if (llvm::Error err = (*engine)->invokePacked(adapter, packed))
      return std::move(err);
    if (sink.error)
      return std::move(sink.error);
    if (options.progress)
      *options.progress << "calibration: sample " << (s + 1) << "/" << samples
                        << "\n";
  }

  CalibrationStore store;
  for (auto [id, name] : llvm::enumerate(names)) {
    auto &acc = sink.accumulators[id];
    if (!acc || acc->getNumSamples() == 0)
      return makeError("layer '" + name + "' was tapped but never ran");
    store.set(name, acc->getDim(), acc->getNumSamples(), acc->getHessian());
    // The sum is no longer needed: free it before the next layer's float
    // copy, so that a group peaks at its sums plus one layer's result.
    acc.reset();
  }
  return store;
}

uint64_t qwha::getStatisticsBytes(int64_t features) {
  // Sum (double, features^2) and its float result (features^2).
  const uint64_t square = uint64_t(features) * uint64_t(features);
  return square * (sizeof(double) + sizeof(float));
}

std::string CalibrationPlan::getGroupPattern(size_t index) const {
  std::string pattern;
  for (size_t i = groups[index].first; i < groups[index].second; ++i)
    pattern += (pattern.empty() ? "" : "|") + llvm::Regex::escape(layers[i].name);
  return pattern;
}

llvm::Expected<CalibrationPlan>
qwha::planCalibration(ModuleOp module, const CalibrationRunOptions &options) {
  std::string error;
  FailureOr<func::FuncOp> entry = findEntry(module, options.function, error);
  if (failed(entry))
    return makeError(error);
  llvm::Regex pattern("^(" + options.layers + ")$");
  if (!pattern.isValid(error))
    return makeError("invalid 'layers' regular expression '" +
                     options.layers + "': " + error);
  // Keyed by the Hessian's tensor name: groups then arrive in the order
  // the file holds them, which a streaming writer needs.
  std::map<std::string, std::pair<std::string, int64_t>> features;
  for (Operation *fn : getReachableFunctions(module, *entry))
    fn->walk([&](LayerOpInterface layer) {
      StringRef name = layer.getLayerName();
      if (pattern.match(name))
        features.emplace((name + ".hessian").str(),
                         std::make_pair(name.str(), layer.getInFeatures()));
    });
  if (features.empty())
    return makeError("no layer of '" + entry->getName() + "' matches '" +
                     options.layers +
                     "': run qwha-raise-linear first, or widen the layers "
                     "expression");
  CalibrationPlan plan;
  uint64_t groupBytes = 0;
  for (const auto &[key, layer] : features) {
    const auto &[name, count] = layer;
    uint64_t bytes = getStatisticsBytes(count);
    size_t index = plan.layers.size();
    if (plan.groups.empty() ||
        (options.maxStatisticsBytes != 0 &&
         groupBytes + bytes > options.maxStatisticsBytes)) {
      plan.groups.emplace_back(index, index);
      groupBytes = 0;
    }
    plan.layers.push_back({name, count});
    plan.groups.back().second = index + 1;
    groupBytes += bytes;
  }
  return plan;
}

llvm::Error qwha::runCalibrationInGroups(
    ModuleOp module, const SafetensorsFile &inputs,
    const CalibrationRunOptions &options, const CalibrationPlan &plan,
    llvm::function_ref<llvm::Error(CalibrationStore)> consume) {
  for (size_t index = 0; index < plan.groups.size(); ++index) {
    CalibrationRunOptions groupOptions = options;
    groupOptions.layers = plan.getGroupPattern(index);
    if (options.progress && plan.groups.size() > 1)
      *options.progress << "calibration: group " << (index + 1) << "/"
                        << plan.groups.size() << " ("
                        << (plan.groups[index].second -
                            plan.groups[index].first)
                        << " layers)\n";
    llvm::Expected<CalibrationStore> store =
        runCalibration(module, inputs, groupOptions);
    if (!store)
      return store.takeError();
    if (llvm::Error err = consume(std::move(*store)))
      return err;
  }
  return llvm::Error::success();
}
