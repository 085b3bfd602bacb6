//===- CalibrationRuntime.cpp - Runtime of calibration taps ---------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Runtime/CalibrationRuntime.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <vector>

using namespace qwha::runtime;

namespace {
CalibrationSink *currentSink = nullptr;
} // namespace

CalibrationSink::~CalibrationSink() = default;

CalibrationSink *qwha::runtime::setCalibrationSink(CalibrationSink *sink) {
  CalibrationSink *previous = currentSink;
  currentSink = sink;
  return previous;
}

extern "C" void _mlir_ciface_qwha_observe_f32(int64_t layer,
                                              UnrankedMemRefType<float> *x) {
  if (!currentSink || !x)
    return;
  DynamicMemRefType<float> view(*x);
  if (view.rank == 0)
    return;
  const int64_t features = view.sizes[view.rank - 1];
  int64_t count = 1;
  for (int64_t i = 0; i < view.rank; ++i)
    count *= view.sizes[i];
  // Gather in row-major order whatever the strides are.
  std::vector<float> rows;
  rows.reserve(count);
  for (float value : view)
    rows.push_back(value);
  currentSink->observe(layer, rows, features);
}

llvm::StringRef qwha::runtime::getObserveSymbolName() {
  return "_mlir_ciface_qwha_observe_f32";
}

void *qwha::runtime::getObserveSymbolAddress() {
  return reinterpret_cast<void *>(&_mlir_ciface_qwha_observe_f32);
}
