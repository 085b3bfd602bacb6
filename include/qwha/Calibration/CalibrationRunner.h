//===- CalibrationRunner.h - Run a graph to collect statistics --*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Calibration executes the model on sample inputs on the CPU, in process:
// a copy of the module is instrumented (qwha-instrument-calibration), its
// taps become runtime calls (qwha-lower-calibration-taps), its entry
// function stops returning values (so work that feeds no tap is dead), and
// the result is lowered with qwha-lower-to-cpu and JIT-compiled with
// mlir::ExecutionEngine. Each tap call adds the layer's input rows to that
// layer's Hessian accumulator.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CALIBRATION_CALIBRATIONRUNNER_H
#define QWHA_CALIBRATION_CALIBRATIONRUNNER_H

#include "qwha/Support/CalibrationStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace qwha {
class SafetensorsFile;

struct CalibrationRunOptions {
  /// Entry function; empty selects the module's only public function with
  /// a body.
  std::string function;
  /// Regular expression of the layers to tap (full match).
  std::string layers = ".*";
  /// At most this many samples (all when negative).
  int64_t maxSamples = -1;
  /// Progress lines ("calibration: sample 3/16"), when set.
  llvm::raw_ostream *progress = nullptr;
};

/// Runs `module` (left unchanged) once per sample and returns the
/// statistics of every tapped layer. Function argument i takes the tensor
/// named by its `qwha.name` argument attribute, or "arg<i>"; each tensor has
/// shape [samples, <argument shape>] and the argument's element type.
/// Errors name the function, argument, tensor or layer at fault.
llvm::Expected<CalibrationStore>
runCalibration(mlir::ModuleOp module, const SafetensorsFile &inputs,
               const CalibrationRunOptions &options);

} // namespace qwha

#endif // QWHA_CALIBRATION_CALIBRATIONRUNNER_H
