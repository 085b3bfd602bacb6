//===- JSONLimits.h - Guards for the JSON the readers parse -----*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// llvm::json::parse recurses once per nesting level, so a file of a million
// '[' overflows the stack before it can fail. Every reader of outside JSON
// (safetensors headers, checkpoint index, config.json, trainer_state.json,
// quantize_config.json) checks the depth first; real files nest a few
// levels.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_JSONLIMITS_H
#define QWHA_SUPPORT_JSONLIMITS_H

#include "llvm/ADT/StringRef.h"

namespace qwha {

/// The nesting the readers accept.
constexpr unsigned kMaxJSONNesting = 64;

/// Whether brackets outside string literals nest deeper than `limit`. Does
/// not validate the text otherwise.
bool nestsDeeperThan(llvm::StringRef text, unsigned limit);

} // namespace qwha

#endif // QWHA_SUPPORT_JSONLIMITS_H
