//===- qwha-average.cpp - Average checkpoints of a training run -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-average run/checkpoint-* -o averaged/ [--mode=uniform]
//   qwha-average run/checkpoint-* -o averaged/ --mode=lawa --last=5 --stride=2
//   qwha-average a/ b/ c/ -o averaged/ --mode=weighted --weights=1,2,1
//   qwha-average a/ b/ c/ -o soup/ --mode=greedy-soup \
//       --eval="python eval.py {}" --higher-is-better
//
// Averages the weights of Hugging Face safetensors checkpoints, tensor by
// tensor, in bounded memory, and writes a checkpoint that loads like the
// inputs. See qwha/Checkpoint/Average.h and GreedySoup.h.
//
//===----------------------------------------------------------------------===//

#include "qwha/Checkpoint/Average.h"
#include "qwha/Checkpoint/Checkpoint.h"
#include "qwha/Checkpoint/GreedySoup.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"

#include <chrono>
#include <map>
#include <numeric>

using namespace llvm;
using namespace qwha;

namespace {

enum class Mode { Uniform, Lawa, Weighted, GreedySoup };

cl::OptionCategory category("qwha-average options");

cl::list<std::string> inputs(cl::Positional, cl::OneOrMore,
                             cl::desc("<checkpoint>..."), cl::cat(category));
cl::opt<std::string>
    output("o", cl::Required,
           cl::desc("Output: a checkpoint directory (must not exist or be "
                    "empty), or a file if the name ends in .safetensors"),
           cl::value_desc("path"), cl::cat(category));
cl::opt<Mode> mode(
    "mode", cl::desc("Which checkpoints are averaged, with which weights"),
    cl::init(Mode::Uniform),
    cl::values(
        clEnumValN(Mode::Uniform, "uniform",
                   "All given checkpoints, equally (default)"),
        clEnumValN(Mode::Lawa, "lawa",
                   "The latest --last checkpoints at --stride, equally "
                   "(LAWA); steps from the names (checkpoint-1200, step_1200) "
                   "or trainer_state.json"),
        clEnumValN(Mode::Weighted, "weighted",
                   "All given checkpoints, with --weights (normalised)"),
        clEnumValN(Mode::GreedySoup, "greedy-soup",
                   "Greedy soup: add checkpoints, best first, while --eval's "
                   "score improves")),
    cl::cat(category));
cl::opt<int64_t> last("last",
                      cl::desc("LAWA: how many of the latest checkpoints"),
                      cl::value_desc("K"), cl::cat(category));
cl::opt<int64_t>
    stride("stride",
           cl::desc("LAWA: take every S-th checkpoint going back from the "
                    "latest (default 1: consecutive checkpoints)"),
           cl::value_desc("S"), cl::init(1), cl::cat(category));
cl::opt<std::string>
    weightList("weights",
               cl::desc("Weighted: one non-negative weight per checkpoint, "
                        "in order, comma-separated"),
               cl::value_desc("w1,w2,..."), cl::cat(category));
cl::opt<std::string> evalCommand(
    "eval",
    cl::desc("Greedy soup: shell command that scores a checkpoint; {} "
             "stands for its path, the last line it prints is the score"),
    cl::value_desc("command"), cl::cat(category));
cl::opt<bool> higherIsBetter(
    "higher-is-better",
    cl::desc("Greedy soup: higher scores are better (default: lower ones, as "
             "for a loss or perplexity)"),
    cl::cat(category));
cl::opt<bool> verbose("v", cl::desc("One line per tensor written"),
                      cl::cat(category));

StringRef modeName(Mode value) {
  switch (value) {
  case Mode::Uniform:
    return "uniform";
  case Mode::Lawa:
    return "lawa";
  case Mode::Weighted:
    return "weighted";
  case Mode::GreedySoup:
    return "greedy-soup";
  }
  llvm_unreachable("unknown mode");
}

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Options that belong to another mode are mistakes (a forgotten --mode),
/// not something to ignore silently.
Error checkModeOptions() {
  auto only = [&](cl::Option &option, Mode owner) -> Error {
    if (option.getNumOccurrences() && mode != owner)
      return makeError("--" + option.ArgStr +
                       " is only used by --mode=" + modeName(owner));
    return Error::success();
  };
  if (Error error = only(last, Mode::Lawa))
    return error;
  if (Error error = only(stride, Mode::Lawa))
    return error;
  if (Error error = only(weightList, Mode::Weighted))
    return error;
  if (Error error = only(evalCommand, Mode::GreedySoup))
    return error;
  if (Error error = only(higherIsBetter, Mode::GreedySoup))
    return error;
  if (mode == Mode::Lawa && !last.getNumOccurrences())
    return makeError("--mode=lawa needs --last=K, the number of checkpoints "
                     "to average");
  if (mode == Mode::Weighted && !weightList.getNumOccurrences())
    return makeError("--mode=weighted needs --weights=w1,w2,...");
  if (mode == Mode::GreedySoup && !evalCommand.getNumOccurrences())
    return makeError("--mode=greedy-soup needs --eval=\"command {}\"");
  if (mode == Mode::GreedySoup && !StringRef(evalCommand).contains("{}"))
    return makeError("--eval='" + evalCommand +
                     "' has no {} to stand for the checkpoint path");
  return Error::success();
}

/// Checkpoints in memory, owned, with the pointers the library takes.
struct OpenCheckpoints {
  std::vector<Checkpoint> owned;
  std::vector<const Checkpoint *> pointers;

  Error open(ArrayRef<std::string> paths) {
    owned.reserve(paths.size());
    for (const std::string &path : paths) {
      Expected<Checkpoint> checkpoint = Checkpoint::open(path);
      if (!checkpoint)
        return checkpoint.takeError();
      owned.push_back(std::move(*checkpoint));
    }
    for (const Checkpoint &checkpoint : owned)
      pointers.push_back(&checkpoint);
    return Error::success();
  }
};

int run() {
  auto start = std::chrono::steady_clock::now();
  auto fail = [&](Error error) {
    WithColor::error(errs(), "qwha-average")
        << toString(std::move(error)) << "\n";
    return 1;
  };
  if (Error error = checkModeOptions())
    return fail(std::move(error));

  // What is averaged: paths in the order that makes the last one the
  // reference (config, tokenizer, layout), and their weights.
  std::vector<std::string> paths(inputs.begin(), inputs.end());
  std::vector<double> weights;
  json::Object how{{"tool", "qwha-average"}, {"mode", modeName(mode)}};
  OpenCheckpoints checkpoints;
  AverageOptions average;
  average.progress = verbose ? &errs() : nullptr;
  std::optional<GreedySoupResult> soup;

  // Before the work, which for a greedy soup includes the evaluations.
  if (Error error = checkOutput(output))
    return fail(std::move(error));

  switch (mode) {
  case Mode::Uniform:
    weights.assign(paths.size(), 1.0);
    break;
  case Mode::Weighted: {
    Expected<std::vector<double>> parsed =
        parseWeights(weightList, paths.size());
    if (!parsed)
      return fail(makeError("--weights=" + weightList + ": " +
                            toString(parsed.takeError())));
    weights = std::move(*parsed);
    break;
  }
  case Mode::Lawa: {
    // Sorted by training step; only the selected checkpoints are opened, so
    // older ones need not even be compatible.
    std::vector<std::pair<int64_t, std::string>> steps;
    std::map<int64_t, std::string> seen;
    for (const std::string &path : paths) {
      Expected<int64_t> step = findTrainingStep(path);
      if (!step)
        return fail(step.takeError());
      auto [it, inserted] = seen.try_emplace(*step, path);
      if (!inserted)
        return fail(makeError("'" + it->second + "' and '" + path +
                              "' are both at step " + Twine(*step) +
                              ": LAWA needs one checkpoint per step"));
      steps.emplace_back(*step, path);
    }
    llvm::sort(steps);
    Expected<std::vector<size_t>> selected =
        selectLastAtStride(steps.size(), last, stride);
    if (!selected)
      return fail(makeError("--mode=lawa: " + toString(selected.takeError())));
    paths.clear();
    json::Array selectedSteps;
    std::string stepList;
    for (size_t position : *selected) {
      paths.push_back(steps[position].second);
      selectedSteps.push_back(steps[position].first);
      stepList += (stepList.empty() ? "" : ", ") +
                  std::to_string(steps[position].first);
    }
    weights.assign(paths.size(), 1.0);
    how["last"] = int64_t(last);
    how["stride"] = int64_t(stride);
    how["steps"] = std::move(selectedSteps);
    errs() << "lawa: averaging the checkpoints of steps " << stepList
           << " (the last " << last << " of " << steps.size() << " at stride "
           << stride << ")\n";
    break;
  }
  case Mode::GreedySoup:
    break;
  }

  if (Error error = checkpoints.open(paths))
    return fail(std::move(error));
  if (Error error = checkCompatible(checkpoints.pointers))
    return fail(std::move(error));
  average.reference = checkpoints.pointers.size() - 1;

  if (mode == Mode::GreedySoup) {
    // Candidates go beside the output: same file system, and as much room
    // as the output needs.
    Expected<std::string> scratch = createDirectoryBeside(output, "soup");
    if (!scratch)
      return fail(scratch.takeError());
    GreedySoupOptions options;
    options.higherIsBetter = higherIsBetter;
    options.scratchDirectory = *scratch;
    options.candidatesAsFiles = isFileOutput(output);
    options.average = average;
    options.log = &errs();
    Expected<GreedySoupResult> result = greedySoup(
        checkpoints.pointers,
        [&](StringRef path) { return runScoreCommand(evalCommand, path); },
        options);
    (void)sys::fs::remove_directories(*scratch);
    if (!result)
      return fail(result.takeError());
    soup = std::move(*result);
    weights = soup->weights;
    how["eval"] = evalCommand;
    how["higher_is_better"] = bool(higherIsBetter);
    how["scores"] = json::Array(soup->scores);
    how["soup_score"] = soup->score;
  }

  double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  json::Array normalised;
  for (double weight : weights)
    normalised.push_back(weight / sum);
  how["checkpoints"] = json::Array(paths);
  how["weights"] = std::move(normalised);
  average.weights = weights;
  average.metadata["qwha.average"] =
      formatv("{0}", json::Value(std::move(how))).str();

  auto writeStart = std::chrono::steady_clock::now();
  Expected<AverageSummary> summary =
      writeAverage(checkpoints.pointers, output, average);
  if (!summary)
    return fail(summary.takeError());
  auto end = std::chrono::steady_clock::now();
  double writeSeconds = std::chrono::duration<double>(end - writeStart).count();
  double totalSeconds = std::chrono::duration<double>(end - start).count();

  size_t used = llvm::count_if(weights, [](double w) { return w > 0; });
  errs() << "wrote '" << output << "': " << modeName(mode) << " average of "
         << used << " of " << paths.size() << " checkpoints, "
         << summary->tensors << " tensors (" << summary->averagedTensors
         << " averaged, " << summary->tensors - summary->averagedTensors
         << " copied), " << formatByteSize(summary->bytesWritten)
         << " written, " << formatByteSize(summary->bytesRead) << " read in "
         << formatv("{0:f2}", writeSeconds) << " s ("
         << formatv("{0:f1}", double(summary->bytesRead) / (1 << 20) /
                                  std::max(writeSeconds, 1e-9))
         << " MiB/s read)";
  if (soup)
    errs() << "; " << soup->evaluations << " evaluations, "
           << formatv("{0:f2}", totalSeconds) << " s in all";
  errs() << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Average the weights of safetensors checkpoints (uniform, LAWA, "
      "weighted, greedy soup)\n\n"
      "A checkpoint is a directory with model.safetensors or a sharded\n"
      "model.safetensors.index.json, or a .safetensors file. Float tensors\n"
      "are averaged in double and written in their own dtype; integer\n"
      "tensors must be identical and are copied. A directory output gets\n"
      "the last checkpoint's shard layout, config and tokenizer files.\n");
  return run();
}
