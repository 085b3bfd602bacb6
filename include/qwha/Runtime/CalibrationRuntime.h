//===- CalibrationRuntime.h - Runtime of calibration taps -------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Compiled calibration taps (`qwha-lower-calibration-taps`) call
// `_mlir_ciface_qwha_observe_f32(layer id, unranked f32 memref)`. That entry
// point gathers the memref into contiguous rows of its last dimension and
// hands them to the sink installed by whoever runs the graph: a C function
// cannot return errors to compiled code, so the sink records them for its
// owner to check after the run. One calibration run at a time per process.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_RUNTIME_CALIBRATIONRUNTIME_H
#define QWHA_RUNTIME_CALIBRATIONRUNTIME_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace qwha::runtime {

/// Receives the input rows a tapped layer saw.
class CalibrationSink {
public:
  virtual ~CalibrationSink();
  /// `rows` holds rows.size() / features rows of `features` values.
  virtual void observe(int64_t layer, llvm::ArrayRef<float> rows,
                       int64_t features) = 0;
};

/// Installs the sink taps report to, or removes it (nullptr). Returns the
/// previous one.
CalibrationSink *setCalibrationSink(CalibrationSink *sink);

/// The entry point's symbol and address, to register with a JIT.
llvm::StringRef getObserveSymbolName();
void *getObserveSymbolAddress();

} // namespace qwha::runtime

#endif // QWHA_RUNTIME_CALIBRATIONRUNTIME_H
