//===- GreedySoupTest.cpp - Tests of greedy soups -------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "TestCheckpoints.h"

#include "qwha/Checkpoint/GreedySoup.h"

#include <cmath>

using namespace qwha;
using namespace qwha::testing;
using llvm::StringRef;

namespace {

using GreedySoup = CheckpointTest;

/// Checkpoints whose scalar "s" is each of `values`.
std::vector<std::string> scalars(GreedySoup &test,
                                 std::initializer_list<double> values) {
  std::vector<std::string> paths;
  int k = 0;
  for (double value : values)
    paths.push_back(test.makeCheckpoint("c" + std::to_string(k++),
                                        {{"s", DType::F32, {}, {value}}}));
  return paths;
}

/// The scalar "s" of the checkpoint at `path`.
llvm::Expected<double> scalarOf(StringRef path) {
  llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
  if (!checkpoint)
    return checkpoint.takeError();
  llvm::Expected<std::vector<float>> values =
      readFloat32(*checkpoint->find("s")->view);
  if (!values)
    return values.takeError();
  return double(values->front());
}

TEST_F(GreedySoup, AddsOnlyWhatImprovesTheScore) {
  // Scores are distances to 1.2 (lower is better): 0.5 -> 0.7, 1 -> 0.2,
  // 1.5 -> 0.3, 3 -> 1.8. Order: 1, 1.5, 0.5, 3. {1, 1.5} averages 1.25
  // (0.05, better: added); with 0.5 it averages 1 (0.2, worse); with 3,
  // 1.8333 (0.63, worse).
  std::vector<std::string> paths = scalars(*this, {0.5, 1, 1.5, 3});
  Opened opened(paths);
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("scratch")));
  std::vector<std::string> seen;
  auto score = [&](StringRef path) -> llvm::Expected<double> {
    seen.push_back(path.str());
    // Candidates are complete checkpoints while they are scored.
    llvm::Expected<double> value = scalarOf(path);
    if (!value)
      return value.takeError();
    return std::fabs(*value - 1.2);
  };
  GreedySoupOptions options;
  options.scratchDirectory = pathTo("scratch");
  options.average.reference = 3;
  std::string log;
  llvm::raw_string_ostream logStream(log);
  options.log = &logStream;
  auto result = greedySoup(opened.pointers, score, options);
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  EXPECT_EQ(result->ingredients, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(result->weights, (std::vector<double>{0, 1, 1, 0}));
  EXPECT_NEAR(result->score, 0.05, 1e-9);
  EXPECT_EQ(result->evaluations, 7u);
  ASSERT_EQ(result->scores.size(), 4u);
  EXPECT_NEAR(result->scores[3], 1.8, 1e-9);
  // Four individual scores, then three candidates in the scratch directory.
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(seen[0], paths[0]);
  EXPECT_EQ(seen[4], pathTo("scratch/candidate-1"));
  EXPECT_EQ(seen[6], pathTo("scratch/candidate-3"));
  EXPECT_TRUE(listDir("scratch").empty());
  EXPECT_CONTAINS(log, "greedy soup: '" + paths[1] + "' scores 0.2\n");
  EXPECT_CONTAINS(log, "greedy soup: starting from '" + paths[1] + "' (0.2)\n");
  EXPECT_CONTAINS(log, "soup of 2 with '" + paths[2] +
                           "' scores 0.05, better than 0.2: added\n");
  EXPECT_CONTAINS(log, "soup of 3 with '" + paths[0] +
                           "' scores 0.2, not better than 0.05: left out\n");
  EXPECT_CONTAINS(log, "2 of 4 checkpoints in the soup, score 0.05\n");
}

TEST_F(GreedySoup, HigherIsBetterAndTies) {
  // Scores equal to the scalars, higher better: order 3, then the tie
  // 2 (first given) before 2. The soup {3, 2} scores 2.5, worse.
  Opened opened(scalars(*this, {2, 3, 2}));
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("scratch")));
  GreedySoupOptions options;
  options.higherIsBetter = true;
  options.scratchDirectory = pathTo("scratch");
  options.candidatesAsFiles = true;
  std::vector<std::string> seen;
  auto result = greedySoup(
      opened.pointers,
      [&](StringRef path) {
        seen.push_back(path.str());
        return scalarOf(path);
      },
      options);
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  EXPECT_EQ(result->ingredients, (std::vector<size_t>{1}));
  EXPECT_EQ(result->score, 3);
  EXPECT_EQ(seen[3], pathTo("scratch/candidate-1.safetensors"));
  EXPECT_EQ(seen[4], pathTo("scratch/candidate-2.safetensors"));
}

TEST_F(GreedySoup, ScoreErrorsEndTheSearchAndLeaveNothing) {
  Opened opened(scalars(*this, {1, 2}));
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("scratch")));
  GreedySoupOptions options;
  options.scratchDirectory = pathTo("scratch");
  auto result = greedySoup(
      opened.pointers,
      [&](StringRef path) -> llvm::Expected<double> {
        if (path.contains("candidate"))
          return llvm::createStringError("no score for " + path);
        return 1.0;
      },
      options);
  EXPECT_EQ(errorOf(std::move(result)),
            "no score for " + pathTo("scratch/candidate-1"));
  EXPECT_TRUE(listDir("scratch").empty());
}

TEST(RunScoreCommand, LastLineIsTheScore) {
  auto score = runScoreCommand("echo starting; echo ' 0.25 ' # {}", "x");
  ASSERT_TRUE(bool(score)) << llvm::toString(score.takeError());
  EXPECT_EQ(*score, 0.25);
  // Trailing blank lines do not count; exponents are numbers.
  score = runScoreCommand("printf '1e-3\\n\\n' # {}", "x");
  ASSERT_TRUE(bool(score));
  EXPECT_EQ(*score, 1e-3);
}

TEST(RunScoreCommand, PathIsQuoted) {
  // Spaces, a quote and shell syntax reach the command as one argument.
  std::string path = "a b'c;$(false) {}";
  auto score = runScoreCommand(
      "sh -c 'test \"$0\" = \"$1\" && echo 1 || echo 0' {} {}", path);
  ASSERT_TRUE(bool(score)) << llvm::toString(score.takeError());
  EXPECT_EQ(*score, 1);
}

TEST(RunScoreCommand, Errors) {
  EXPECT_EQ(errorOf(runScoreCommand("echo 1", "x")),
            "evaluation command 'echo 1' has no {} to stand for the "
            "checkpoint path");
  EXPECT_EQ(errorOf(runScoreCommand("echo 0.5; exit 3 # {}", "p")),
            "evaluation command 'echo 0.5; exit 3 # 'p'' exited with status 3");
  EXPECT_EQ(errorOf(runScoreCommand("echo 0.5; echo done # {}", "p")),
            "evaluation command 'echo 0.5; echo done # 'p'' printed 'done' on "
            "its last line, not a finite number");
  EXPECT_EQ(errorOf(runScoreCommand("echo nan # {}", "p")),
            "evaluation command 'echo nan # 'p'' printed 'nan' on its last "
            "line, not a finite number");
  EXPECT_EQ(errorOf(runScoreCommand("true {}", "p")),
            "evaluation command 'true 'p'' printed nothing: its last line "
            "must be a number");
  EXPECT_CONTAINS(errorOf(runScoreCommand("kill -9 $$ # {}", "p")),
                  "evaluation command 'kill -9 $$ # 'p'' was killed");
  EXPECT_EQ(errorOf(runScoreCommand("sh -c 'kill -9 $$' # {}", "p")),
            "evaluation command 'sh -c 'kill -9 $$' # 'p'' exited with "
            "status 137, as the shell reports a command killed by signal 9");
}

} // namespace
