//===- GreedySoup.h - Greedy model soups ------------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Greedy soup (Wortsman et al., "Model soups", ICML 2022, Recipe 1): score
// every checkpoint on its own, sort them best first, start the soup with the
// best one, then add each next checkpoint only if the uniform average of the
// soup with it scores better than the soup without it. The score comes from
// a function of a checkpoint path; the tool runs a user's command.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CHECKPOINT_GREEDYSOUP_H
#define QWHA_CHECKPOINT_GREEDYSOUP_H

#include "qwha/Checkpoint/Average.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace qwha {

/// Scores the checkpoint at a path (a directory or a .safetensors file).
using ScoreFunction =
    llvm::function_ref<llvm::Expected<double>(llvm::StringRef path)>;

struct GreedySoupOptions {
  /// Higher scores are better (accuracy) or lower ones are (loss,
  /// perplexity).
  bool higherIsBetter = false;
  /// An existing directory for the candidate soups; each is removed once
  /// scored.
  std::string scratchDirectory;
  /// Write candidates as .safetensors files rather than checkpoint
  /// directories (which get the reference's config and tokenizer files, so
  /// that an evaluation can load them like the inputs).
  bool candidatesAsFiles = false;
  /// How candidates are written; `weights` is ignored (set per candidate).
  AverageOptions average;
  /// One line per score when set.
  llvm::raw_ostream *log = nullptr;
};

struct GreedySoupResult {
  /// Each checkpoint's own score, in input order.
  std::vector<double> scores;
  /// The soup's checkpoints (input positions), in the order they were
  /// added: the best one first.
  std::vector<size_t> ingredients;
  /// 1 for the soup's checkpoints, 0 for the others, in input order: the
  /// weights of the soup as a weighted average.
  std::vector<double> weights;
  /// The soup's score.
  double score = 0;
  /// How many times the score function ran.
  size_t evaluations = 0;
};

/// Runs the greedy soup over `checkpoints` (checked with checkCompatible
/// first). Only "better" counts: a candidate that scores the same as the
/// soup is left out, as the smaller soup is as good and cheaper to trust
/// (the paper's Algorithm 1 keeps ties). Ties between individual scores
/// keep the input order. Errors from the score function and from writing
/// candidates end the search; scratchDirectory is left empty either way.
llvm::Expected<GreedySoupResult>
greedySoup(llvm::ArrayRef<const Checkpoint *> checkpoints, ScoreFunction score,
           const GreedySoupOptions &options);

/// Runs `command` with /bin/sh after replacing every "{}" with `path`,
/// quoted for the shell, and returns the number on the last non-empty line
/// of its standard output (its standard error passes through; its standard
/// input is empty). Errors name the command as run: no "{}" in it, a
/// command that did not run, was killed, or exited with a non-zero status
/// (given, with the signal that statuses above 128 stand for), or output
/// whose last line is not a finite number.
llvm::Expected<double> runScoreCommand(llvm::StringRef command,
                                       llvm::StringRef path);

} // namespace qwha

#endif // QWHA_CHECKPOINT_GREEDYSOUP_H
