//===- GreedySoup.cpp - Greedy model soups --------------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Checkpoint/GreedySoup.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Errc.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cmath>
#include <numeric>

using namespace llvm;
using namespace qwha;

static Error makeError(const Twine &message) {
  return createStringError(errc::invalid_argument, message);
}

static std::string formatScore(double score) {
  std::string text;
  raw_string_ostream(text) << format("%.6g", score);
  return text;
}

Expected<GreedySoupResult>
qwha::greedySoup(ArrayRef<const Checkpoint *> checkpoints, ScoreFunction score,
                 const GreedySoupOptions &options) {
  if (checkpoints.empty())
    return makeError("no checkpoints for the soup");
  if (Error error = checkCompatible(checkpoints))
    return std::move(error);
  auto better = [&](double a, double b) {
    return options.higherIsBetter ? a > b : a < b;
  };
  auto log = [&](const Twine &line) {
    if (options.log)
      *options.log << "greedy soup: " << line << "\n";
  };

  GreedySoupResult result;
  for (const Checkpoint *checkpoint : checkpoints) {
    Expected<double> value = score(checkpoint->getPath());
    if (!value)
      return value.takeError();
    ++result.evaluations;
    log("'" + checkpoint->getPath() + "' scores " + formatScore(*value));
    result.scores.push_back(*value);
  }

  std::vector<size_t> order(checkpoints.size());
  std::iota(order.begin(), order.end(), 0);
  // Ties keep the input order.
  llvm::sort(order, [&](size_t a, size_t b) {
    if (better(result.scores[a], result.scores[b]))
      return true;
    return !better(result.scores[b], result.scores[a]) && a < b;
  });

  result.weights.assign(checkpoints.size(), 0.0);
  result.ingredients.push_back(order.front());
  result.weights[order.front()] = 1;
  result.score = result.scores[order.front()];
  log("starting from '" + checkpoints[order.front()]->getPath() + "' (" +
      formatScore(result.score) + ")");

  for (auto [step, candidate] : llvm::enumerate(ArrayRef(order).drop_front())) {
    std::vector<double> weights = result.weights;
    weights[candidate] = 1;
    AverageOptions average = options.average;
    average.weights = weights;
    SmallString<256> path(options.scratchDirectory);
    sys::path::append(path,
                      "candidate-" + Twine(step + 1) +
                          (options.candidatesAsFiles ? ".safetensors" : ""));
    Expected<AverageSummary> written = writeAverage(checkpoints, path, average);
    if (!written)
      return written.takeError();
    Expected<double> value = score(path);
    // The candidate is not kept either way: the final soup is written
    // where the user asked, with metadata that names its score.
    (void)sys::fs::remove_directories(path);
    (void)sys::fs::remove(path);
    if (!value)
      return value.takeError();
    ++result.evaluations;

    std::string soup = "soup of " +
                       std::to_string(result.ingredients.size() + 1) +
                       " with '" + checkpoints[candidate]->getPath().str() +
                       "' scores " + formatScore(*value);
    if (better(*value, result.score)) {
      log(soup + ", better than " + formatScore(result.score) + ": added");
      result.ingredients.push_back(candidate);
      result.weights = std::move(weights);
      result.score = *value;
    } else {
      log(soup + ", not better than " + formatScore(result.score) +
          ": left out");
    }
  }
  log(Twine(result.ingredients.size()) + " of " + Twine(checkpoints.size()) +
      " checkpoints in the soup, score " + formatScore(result.score));
  return std::move(result);
}

/// `text` in single quotes, for /bin/sh: inside them only the quote itself
/// needs care ('\'' closes, escapes and reopens).
static std::string shellQuote(StringRef text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  return quoted + "'";
}

Expected<double> qwha::runScoreCommand(StringRef command, StringRef path) {
  if (!command.contains("{}"))
    return makeError("evaluation command '" + command +
                     "' has no {} to stand for the checkpoint path");
  std::string expanded;
  for (StringRef rest = command;;) {
    auto [before, after] = rest.split("{}");
    expanded += before;
    if (before.size() == rest.size())
      break;
    expanded += shellQuote(path);
    rest = after;
  }

  ErrorOr<std::string> shell = sys::findProgramByName("sh");
  if (!shell)
    return makeError("cannot run evaluation command '" + expanded +
                     "': no 'sh' in PATH");
  SmallString<128> outputPath;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("qwha-average-score", "txt", outputPath))
    return createStringError(ec,
                             "cannot run evaluation command '%s': cannot "
                             "create a file for its output: %s",
                             expanded.c_str(), ec.message().c_str());
  FileRemover remover(outputPath);
  StringRef args[] = {"sh", "-c", expanded};
  std::optional<StringRef> redirects[] = {StringRef(""), StringRef(outputPath),
                                          std::nullopt};
  std::string message;
  int status = sys::ExecuteAndWait(*shell, args, /*Env=*/std::nullopt,
                                   redirects, /*SecondsToWait=*/0,
                                   /*MemoryLimit=*/0, &message);
  if (status == -2)
    return makeError("evaluation command '" + expanded +
                     "' was killed: " + message);
  if (status < 0)
    return makeError("evaluation command '" + expanded +
                     "' did not run: " + message);
  if (status > 128 && status < 128 + 65)
    return makeError("evaluation command '" + expanded +
                     "' exited with status " + Twine(status) +
                     ", as the shell reports a command killed by signal " +
                     Twine(status - 128));
  if (status > 0)
    return makeError("evaluation command '" + expanded +
                     "' exited with status " + Twine(status));

  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(outputPath);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read the output of evaluation command "
                             "'%s': %s",
                             expanded.c_str(),
                             buffer.getError().message().c_str());
  StringRef text = (*buffer)->getBuffer().rtrim();
  if (text.empty())
    return makeError("evaluation command '" + expanded +
                     "' printed nothing: its last line must be a number");
  StringRef line = text.substr(text.find_last_of('\n') + 1).trim();
  double value;
  if (line.getAsDouble(value) || !std::isfinite(value))
    return makeError("evaluation command '" + expanded + "' printed '" + line +
                     "' on its last line, not a finite number");
  return value;
}
