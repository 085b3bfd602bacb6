//===- InitAllPasses.h - Register the QWHA passes ---------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// For tools and downstream compilers: registers every QWHA pass and named
// pipeline with the global pass registry, so that `--pass-pipeline` strings
// and `-qwha-...` flags resolve.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_INITALLPASSES_H
#define QWHA_INITALLPASSES_H

#include "qwha/Calibration/Passes.h"
#include "qwha/Conversion/Passes.h"
#include "qwha/Pipelines/Pipelines.h"
#include "qwha/Transforms/Passes.h"

namespace qwha {

inline void registerAllPasses() {
  registerQWHATransformsPasses();
  registerQWHAConversionPasses();
  registerQWHAPipelines();
  registerQWHACalibrationPasses();
  registerQuantizePipeline();
}

} // namespace qwha

#endif // QWHA_INITALLPASSES_H
