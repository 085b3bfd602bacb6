//===- JitLayer.h - JIT-compiled layers for the benchmarks ------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What every benchmark that times compiled code needs: a context that knows
// all dialects and translations, and a module lowered with
// qwha-lower-to-cpu (C interface on) and JIT-compiled at -O3, whose
// `_mlir_ciface_<name>` entry points are then looked up. Benchmarks abort on
// failure: they are not the place for recovery.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_BENCH_COMMON_JITLAYER_H
#define QWHA_BENCH_COMMON_JITLAYER_H

#include "qwha/InitAllDialects.h"
#include "qwha/Pipelines/Pipelines.h"
#include "qwha/Target/LLVMIR/QWHAToLLVMIRTranslation.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"

namespace qwha::bench {

/// Loads every upstream and QWHA dialect into `context`, with the LLVM IR
/// translations the JIT needs.
inline void prepareContext(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  qwha::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  qwha::registerQWHADialectTranslation(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
}

/// Lowers `module` in place with qwha-lower-to-cpu and `pipelineOptions`
/// (c-interface forced on) and JIT-compiles it at -O3; `machine` (may be
/// null) gives LLVM's optimizer the target's costs.
inline std::unique_ptr<mlir::ExecutionEngine>
compileModule(mlir::ModuleOp module, llvm::StringRef pipelineOptions = "",
              llvm::TargetMachine *machine = nullptr) {
  mlir::PassManager pm(module.getContext());
  auto options = qwha::LowerToCPUOptions::createFromString(pipelineOptions);
  if (!options)
    llvm::report_fatal_error(llvm::Twine("bad qwha-lower-to-cpu options: ") +
                             pipelineOptions);
  options->cInterface = true;
  qwha::buildLowerToCPUPassPipeline(pm, *options);
  if (mlir::failed(pm.run(module)))
    llvm::report_fatal_error("lowering the benchmark module failed");
  // The options hold a function_ref: the transformer must outlive create().
  auto transformer = mlir::makeOptimizingTransformer(3, 0, machine);
  mlir::ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto created = mlir::ExecutionEngine::create(module, engineOptions);
  if (!created)
    llvm::report_fatal_error(llvm::Twine("JIT failed: ") +
                             llvm::toString(created.takeError()));
  return std::move(*created);
}

/// The address of `_mlir_ciface_<name>` in `engine`, as a `Fn`.
template <typename Fn>
Fn lookupEntryPoint(mlir::ExecutionEngine &engine, llvm::StringRef name) {
  auto function = engine.lookup(("_mlir_ciface_" + name).str());
  if (!function)
    llvm::report_fatal_error(llvm::Twine("no entry point _mlir_ciface_") +
                             name);
  return reinterpret_cast<Fn>(*function);
}

} // namespace qwha::bench

#endif // QWHA_BENCH_COMMON_JITLAYER_H
