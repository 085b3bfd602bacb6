//===- Average.h - Weight averaging of checkpoints --------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Averages the weights of checkpoints of one model: uniform averages, LAWA
// (the latest checkpoints of a run), weighted averages and greedy soups
// (GreedySoup.h) are all weighted averages
//
//   out = sum_i w_i x_i / sum_i w_i
//
// computed tensor by tensor and piece by piece, so that memory stays within
// a few megabytes however large the model is: inputs are memory-mapped and
// their pages dropped once read; the output goes through
// SafetensorsStreamWriter.
//
// Sums are taken in double and the quotient is rounded once to the tensor's
// dtype (nearest, ties to even). With uniform weights (or small integer
// ones), sums of F32, F16 and BF16 values are exact unless the values of one
// element differ in magnitude by more than about 2^25 (F32) or 2^40 (F16,
// BF16), so the result is the exact mean correctly rounded. F64 tensors,
// and arbitrary weights, are within a unit or two in the last place of a
// double.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CHECKPOINT_AVERAGE_H
#define QWHA_CHECKPOINT_AVERAGE_H

#include "qwha/Checkpoint/Checkpoint.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qwha {

/// Checks that every checkpoint holds the same tensor names, dtypes and
/// shapes as the first. The error names the first difference (in bytewise
/// tensor name order, checkpoint by checkpoint) and the two files (or, for
/// a missing tensor, the checkpoint that lacks it).
llvm::Error checkCompatible(llvm::ArrayRef<const Checkpoint *> checkpoints);

/// Checks averaging weights: one per checkpoint, finite, non-negative, not
/// all zero. Messages count weights from 1, as users write them.
llvm::Error checkWeights(llvm::ArrayRef<double> weights, size_t checkpoints);

/// Parses a comma-separated list of weights ("1,2,0.5") and checks it with
/// checkWeights.
llvm::Expected<std::vector<double>> parseWeights(llvm::StringRef list,
                                                 size_t checkpoints);

/// LAWA's selection: positions, ascending, of the last `last` of `count`
/// checkpoints sorted by step, taking every `stride`-th one going back from
/// the latest (count-1, count-1-stride, ...). Error if `last` or `stride` is
/// below 1 or the selection reaches before the first checkpoint.
llvm::Expected<std::vector<size_t>>
selectLastAtStride(size_t count, int64_t last, int64_t stride);

/// Whether `output` names a single safetensors file (it ends in
/// `.safetensors`) rather than a checkpoint directory.
bool isFileOutput(llvm::StringRef output);

/// Checks, before any work, that writeAverage can write `output`: its
/// directory exists, and a directory output is absent or empty. Errors name
/// the output.
llvm::Error checkOutput(llvm::StringRef output);

/// "12 B", "4.0 KiB", "32.0 MiB", for messages.
std::string formatByteSize(uint64_t bytes);

/// Creates a new directory named `<path>.<tag>-XXXXXXXX` (random) beside
/// `path`, in the same file system so that it can be renamed onto `path`,
/// and returns its absolute path. Error naming `path` if it cannot.
llvm::Expected<std::string> createDirectoryBeside(llvm::StringRef path,
                                                  llvm::StringRef tag);

struct AverageOptions {
  /// One weight per checkpoint (see checkWeights); normalised by their sum.
  /// Checkpoints of weight 0 are checked for compatibility and for equal
  /// integer tensors, but their float tensors are not read.
  std::vector<double> weights;
  /// The checkpoint whose shard layout, safetensors metadata and model
  /// files (config, tokenizer) the output takes.
  size_t reference = 0;
  /// Entries added to the metadata of every safetensors file written.
  std::map<std::string, std::string> metadata;
  /// One line per tensor when set.
  llvm::raw_ostream *progress = nullptr;
  /// Elements averaged at a time: memory is about 8 bytes (the double sums)
  /// plus twice the element size (an input piece, the output piece) per
  /// element, whatever the size of the tensors.
  int64_t chunkElements = int64_t(1) << 18;
};

struct AverageSummary {
  /// Tensors written, float (averaged) and integer (copied).
  size_t tensors = 0;
  size_t averagedTensors = 0;
  /// Tensor data written and read (headers not counted).
  uint64_t bytesWritten = 0;
  uint64_t bytesRead = 0;
  /// Files written into an output directory, weights first: the
  /// safetensors files, the index, the model files copied.
  std::vector<std::string> files;
};

/// Writes the weighted average of `checkpoints` to `output`: a safetensors
/// file if isFileOutput(output), else a checkpoint directory laid out like
/// the reference checkpoint (model.safetensors, or the same shards and a new
/// index), with the reference's model files copied. Float tensors (F64, F32,
/// F16, BF16) are averaged in double and written in their own dtype, rounded
/// to nearest even; integer and BOOL tensors (position ids, masks) must be
/// identical in every checkpoint and are copied. Every safetensors file
/// gets the reference's metadata plus `options.metadata`.
///
/// All or nothing: a file output replaces `output` atomically; a directory
/// is built under a temporary name beside `output` and renamed at the end,
/// so `output` must not exist or be an empty directory. On any error
/// nothing is left: errors name the checkpoint file and tensor at fault (a
/// non-finite value, integer tensors that differ), or the output.
llvm::Expected<AverageSummary>
writeAverage(llvm::ArrayRef<const Checkpoint *> checkpoints,
             llvm::StringRef output, const AverageOptions &options);

} // namespace qwha

#endif // QWHA_CHECKPOINT_AVERAGE_H
