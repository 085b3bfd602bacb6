//===- TrainerStateFuzzer.cpp - Fuzz the trainer_state.json reader --------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: the text of a trainer_state.json. qwha-average's LAWA mode orders
// checkpoints by the step parseTrainerState reads; an accepted step must be
// non-negative and be the file's "global_step", exactly.
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "qwha/Checkpoint/Checkpoint.h"

#include "llvm/Support/JSON.h"

using namespace qwha;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<int64_t> step = parseTrainerState(text, "trainer_state.json");
  if (!step) {
    llvm::consumeError(step.takeError());
    return 0;
  }
  QWHA_FUZZ_CHECK(*step >= 0, "accepted a negative step");
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  QWHA_FUZZ_CHECK(bool(json), "accepted text that is not JSON");
  const llvm::json::Object *object = json->getAsObject();
  QWHA_FUZZ_CHECK(object, "accepted JSON that is not an object");
  const llvm::json::Value *value = object->get("global_step");
  QWHA_FUZZ_CHECK(value, "accepted a file without global_step");
  // Compared without json::Value::getAsInteger, whose conversion of a
  // double is part of what is under test.
  if (std::optional<uint64_t> exact = value->getAsUINT64()) {
    QWHA_FUZZ_CHECK(*exact == uint64_t(*step), "step is not global_step");
  } else {
    std::optional<double> number = value->getAsNumber();
    QWHA_FUZZ_CHECK(number && *number == double(*step) && *number < 0x1p63,
                    "step is not global_step");
  }
  return 0;
}
