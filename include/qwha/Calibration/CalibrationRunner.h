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
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

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
  /// For runCalibrationInGroups: at most this many bytes of statistics
  /// accumulated at once (0: no bound).
  uint64_t maxStatisticsBytes = 0;
};

/// Bytes a layer with `features` inputs holds while its statistics are
/// accumulated: the double-precision sum and its float result (the
/// accumulator's per-batch scratch is small beside them and not counted).
uint64_t getStatisticsBytes(int64_t features);

/// Which layers a calibration run taps, and how runCalibrationInGroups
/// splits them.
struct CalibrationPlan {
  struct Layer {
    std::string name;
    int64_t features;
  };
  /// The layers `options.layers` selects in the entry function and the
  /// functions it calls, in the order of their Hessians in a calibration
  /// file (bytewise order of `<name>.hessian`).
  std::vector<Layer> layers;
  /// Consecutive [begin, end) ranges of `layers` whose statistics
  /// (getStatisticsBytes) stay within `options.maxStatisticsBytes`; one
  /// range if that is 0. A layer over the bound by itself is a range alone.
  std::vector<std::pair<size_t, size_t>> groups;

  /// The full-match regular expression of group `index`'s names.
  std::string getGroupPattern(size_t index) const;
};

/// Plans a calibration of `module` with `options`. Errors as
/// runCalibration's for the entry function and the expression, and when no
/// layer matches.
llvm::Expected<CalibrationPlan>
planCalibration(mlir::ModuleOp module, const CalibrationRunOptions &options);

/// Runs `module` (left unchanged) once per sample and returns the
/// statistics of every tapped layer. Function argument i takes the tensor
/// named by its `qwha.name` argument attribute, or "arg<i>"; each tensor has
/// shape [samples, <argument shape>] and the argument's element type.
/// Errors name the function, argument, tensor or layer at fault.
llvm::Expected<CalibrationStore>
runCalibration(mlir::ModuleOp module, const SafetensorsFile &inputs,
               const CalibrationRunOptions &options);

/// runCalibration in bounded memory: the samples run once per group of
/// `plan` (from planCalibration with the same options), and each group's
/// statistics go to `consume` before the next group starts. Every group sees
/// the module as given, so the statistics equal those of one
/// runCalibration.
llvm::Error runCalibrationInGroups(
    mlir::ModuleOp module, const SafetensorsFile &inputs,
    const CalibrationRunOptions &options, const CalibrationPlan &plan,
    llvm::function_ref<llvm::Error(CalibrationStore)> consume);

} // namespace qwha

#endif // QWHA_CALIBRATION_CALIBRATIONRUNNER_H
