//===- Passes.h - Passes that execute the model -----------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CALIBRATION_PASSES_H
#define QWHA_CALIBRATION_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace qwha {

#define GEN_PASS_DECL
#include "qwha/Calibration/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qwha/Calibration/Passes.h.inc"

/// Options of `qwha-quantize-pipeline`: those of qwha-quantize.
struct QuantizePipelineOptions
    : public mlir::PassPipelineOptions<QuantizePipelineOptions> {
  PassOptions::Option<std::string> inputs{
      *this, "inputs", llvm::cl::desc("Samples (safetensors)")};
  PassOptions::Option<std::string> function{
      *this, "function", llvm::cl::desc("Function to run")};
  PassOptions::Option<int64_t> maxSamples{
      *this, "max-samples", llvm::cl::desc("Use at most this many samples"),
      llvm::cl::init(-1)};
  PassOptions::Option<std::string> method{
      *this, "method", llvm::cl::desc("gptq or rtn"), llvm::cl::init("gptq")};
  PassOptions::Option<bool> sequential{
      *this, "sequential",
      llvm::cl::desc("Calibrate each layer on the outputs of the quantized "
                     "layers before it"),
      llvm::cl::init(false)};
  PassOptions::Option<unsigned> bits{*this, "bits",
                                     llvm::cl::desc("Code width: 2, 3, 4, 8"),
                                     llvm::cl::init(4)};
  PassOptions::Option<int64_t> groupSize{
      *this, "group-size", llvm::cl::desc("Columns per group, or -1"),
      llvm::cl::init(128)};
  PassOptions::Option<bool> symmetric{*this, "symmetric",
                                      llvm::cl::desc("Symmetric grids"),
                                      llvm::cl::init(false)};
  PassOptions::Option<bool> mse{*this, "mse",
                                llvm::cl::desc("MSE grid search"),
                                llvm::cl::init(false)};
  PassOptions::Option<bool> actOrder{
      *this, "act-order", llvm::cl::desc("GPTQ act-order"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> staticGroups{
      *this, "static-groups", llvm::cl::desc("GPTQ static groups"),
      llvm::cl::init(false)};
  PassOptions::Option<double> damp{*this, "damp",
                                   llvm::cl::desc("GPTQ relative damping"),
                                   llvm::cl::init(0.01)};
  PassOptions::Option<std::string> layers{
      *this, "layers", llvm::cl::desc("Regular expression of layer names"),
      llvm::cl::init(".*")};
  PassOptions::Option<std::string> scaleType{
      *this, "scale-type", llvm::cl::desc("f32, f16 or bf16"),
      llvm::cl::init("f32")};
  PassOptions::Option<std::string> report{
      *this, "report", llvm::cl::desc("JSON report file")};
  PassOptions::Option<bool> progress{
      *this, "progress", llvm::cl::desc("One line per layer on stderr"),
      llvm::cl::init(true)};
};

/// qwha-raise-linear, then qwha-quantize.
void buildQuantizePassPipeline(mlir::OpPassManager &pm,
                               const QuantizePipelineOptions &options);

/// Registers `qwha-quantize-pipeline`.
void registerQuantizePipeline();

} // namespace qwha

#endif // QWHA_CALIBRATION_PASSES_H
