//===- CalibrationStoreFuzzer.cpp - Fuzz the calibration file reader ------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: a calibration file (safetensors with <layer>.hessian and
// <layer>.nsamples). An accepted file must give every layer a finite
// features x features Hessian and at least one sample, the promises GPTQ
// and the adapter initialisation rely on.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Support/CalibrationStore.h"

#include <cmath>

using namespace qwha;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<CalibrationStore> store = CalibrationStore::fromBuffer(
      fuzz::wrap(data, size, "fuzz-calibration.safetensors"));
  if (!store) {
    llvm::consumeError(store.takeError());
    return 0;
  }
  for (const auto &[layer, entry] : store->getEntries()) {
    QWHA_FUZZ_CHECK(store->find(layer) == &entry, "find() disagrees");
    QWHA_FUZZ_CHECK(entry.features >= 0 && entry.samples >= 1,
                    "accepted a layer without features or samples");
    QWHA_FUZZ_CHECK(uint64_t(entry.hessian.size()) ==
                        uint64_t(entry.features) * uint64_t(entry.features),
                    "Hessian is not features x features");
    for (float value : entry.hessian)
      QWHA_FUZZ_CHECK(std::isfinite(value), "accepted a non-finite Hessian");
  }
  return 0;
}
