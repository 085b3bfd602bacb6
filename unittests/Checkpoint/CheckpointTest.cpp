//===- CheckpointTest.cpp - Tests of reading checkpoints ------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "TestCheckpoints.h"

using namespace qwha;
using namespace qwha::testing;

namespace {

using Checkpoints = CheckpointTest;

std::vector<Tensor> twoTensors() {
  return {{"a", DType::F32, {2}, {1, 2}}, {"b", DType::I32, {1}, {7}}};
}

TEST_F(Checkpoints, DirectoryWithModelSafetensors) {
  std::string path = makeCheckpoint("ckpt", twoTensors());
  writeFile("ckpt/config.json", "{}");
  auto checkpoint = Checkpoint::open(path);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->getPath(), path);
  EXPECT_TRUE(checkpoint->isDirectory());
  EXPECT_FALSE(checkpoint->isSharded());
  ASSERT_EQ(checkpoint->getTensors().size(), 2u);
  const CheckpointEntry *a = checkpoint->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shard, "model.safetensors");
  EXPECT_EQ(a->file->getPath(), pathTo("ckpt/model.safetensors"));
  EXPECT_EQ(a->view->dtype, DType::F32);
  EXPECT_EQ(checkpoint->find("c"), nullptr);
  EXPECT_EQ(checkpoint->getMetadata().at("format"), "pt");
  auto files = checkpoint->listModelFiles();
  ASSERT_TRUE(bool(files));
  EXPECT_EQ(*files, (std::vector<std::string>{"config.json"}));
}

TEST_F(Checkpoints, SingleFile) {
  writeTensors("step_30.safetensors", twoTensors());
  auto checkpoint = Checkpoint::open(pathTo("step_30.safetensors"));
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_FALSE(checkpoint->isDirectory());
  EXPECT_EQ(checkpoint->find("b")->shard, "step_30.safetensors");
  auto files = checkpoint->listModelFiles();
  ASSERT_TRUE(bool(files));
  EXPECT_TRUE(files->empty());
}

TEST_F(Checkpoints, ShardedIndex) {
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("s")));
  writeTensors("s/one.safetensors", {twoTensors()[0]}, {{"format", "pt"}});
  writeTensors("s/two.safetensors", {twoTensors()[1]}, {{"format", "np"}});
  writeFile(
      "s/model.safetensors.index.json",
      R"({"weight_map": {"a": "one.safetensors", "b": "two.safetensors"}})");
  auto checkpoint = Checkpoint::open(pathTo("s"));
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_TRUE(checkpoint->isSharded());
  EXPECT_EQ(checkpoint->find("a")->shard, "one.safetensors");
  EXPECT_EQ(checkpoint->find("b")->shard, "two.safetensors");
  // The first shard's metadata.
  EXPECT_EQ(checkpoint->getMetadata().at("format"), "pt");
  // The index is not a model file.
  auto files = checkpoint->listModelFiles();
  ASSERT_TRUE(bool(files));
  EXPECT_TRUE(files->empty());

  // The index wins over a model.safetensors beside it, as everywhere in
  // the project (CheckpointTensors).
  writeTensors("s/model.safetensors", {{"c", DType::F32, {1}, {0}}});
  auto preferred = Checkpoint::open(pathTo("s"));
  ASSERT_TRUE(bool(preferred));
  EXPECT_TRUE(preferred->isSharded());
  EXPECT_EQ(preferred->find("c"), nullptr);
}

TEST_F(Checkpoints, Errors) {
  EXPECT_CONTAINS(errorOf(Checkpoint::open(pathTo("missing"))),
                  "cannot open checkpoint '" + pathTo("missing") + "'");
  writeFile("junk.safetensors", "not a safetensors file");
  EXPECT_CONTAINS(errorOf(Checkpoint::open(pathTo("junk.safetensors"))),
                  pathTo("junk.safetensors") + ": header size");
  // Directories are CheckpointTensors' (unittests/Support/CheckpointTest.cpp
  // tests each of its rules); its errors come through.
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("empty")));
  EXPECT_EQ(errorOf(Checkpoint::open(pathTo("empty"))),
            "checkpoint '" + pathTo("empty") +
                "' has neither model.safetensors nor "
                "model.safetensors.index.json");
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("s")));
  writeTensors("s/one.safetensors", twoTensors());
  writeFile("s/model.safetensors.index.json",
            R"({"weight_map": {"a": "one.safetensors"}})");
  EXPECT_EQ(errorOf(Checkpoint::open(pathTo("s"))),
            "tensor 'b' of '" + pathTo("s/one.safetensors") +
                "' is not listed in '" +
                pathTo("s/model.safetensors.index.json") + "'");
}

TEST_F(Checkpoints, TrainingStepFromTheName) {
  EXPECT_EQ(*findTrainingStep("run/checkpoint-1200"), 1200);
  EXPECT_EQ(*findTrainingStep("run/checkpoint-1200/"), 1200);
  EXPECT_EQ(*findTrainingStep("run/checkpoint-1200//"), 1200);
  EXPECT_EQ(*findTrainingStep("step_0007"), 7);
  EXPECT_EQ(*findTrainingStep("global_step300.safetensors"), 300);
  EXPECT_EQ(*findTrainingStep("42"), 42);
  EXPECT_CONTAINS(errorOf(findTrainingStep("ckpt-99999999999999999999")),
                  "too large");
}

TEST_F(Checkpoints, TrainingStepFromTrainerState) {
  makeCheckpoint("final", twoTensors());
  writeFile("final/trainer_state.json",
            R"({"global_step": 1500, "log_history": []})");
  EXPECT_EQ(*findTrainingStep(pathTo("final")), 1500);
  // The name comes first.
  makeCheckpoint("checkpoint-10", twoTensors());
  writeFile("checkpoint-10/trainer_state.json", R"({"global_step": 1500})");
  EXPECT_EQ(*findTrainingStep(pathTo("checkpoint-10")), 10);

  writeFile("final/trainer_state.json", R"({"global_step": "x"})");
  EXPECT_EQ(errorOf(findTrainingStep(pathTo("final"))),
            "'" + pathTo("final/trainer_state.json") +
                "' has no non-negative integer 'global_step'");
  writeFile("final/trainer_state.json", "{");
  EXPECT_CONTAINS(errorOf(findTrainingStep(pathTo("final"))),
                  "is not valid JSON");
  makeCheckpoint("best", twoTensors());
  EXPECT_EQ(errorOf(findTrainingStep(pathTo("best"))),
            "cannot tell the training step of '" + pathTo("best") +
                "': its name does not end in a number (as in "
                "checkpoint-1200 or step_1200) and it has no "
                "trainer_state.json with a global_step");
}

TEST_F(Checkpoints, TrainerStateFromMemory) {
  EXPECT_EQ(*parseTrainerState(R"({"global_step": 1500})", "t.json"), 1500);
  EXPECT_EQ(*parseTrainerState(R"({"global_step": 700.0})", "t.json"), 700);
  EXPECT_EQ(*parseTrainerState(R"({"global_step": 9223372036854775807})",
                               "t.json"),
            INT64_MAX);
  const std::string noStep =
      "'t.json' has no non-negative integer 'global_step'";
  for (const char *text :
       {R"({"global_step": -1})", R"({"global_step": 1.5})", R"([1500])",
        R"({"global_step": 9223372036854775808})",
        // 2^63 as a double, which json::Object::getInteger converts to
        // int64: undefined behaviour (the transformer-config fuzzer found
        // it in config.json, which reads integers the same way).
        R"({"global_step": 9223372036854775808.0})"})
    EXPECT_EQ(errorOf(parseTrainerState(text, "t.json")), noStep) << text;
  // A megabyte of '[' overflowed the stack of the recursive JSON parser.
  EXPECT_EQ(errorOf(parseTrainerState(std::string(1000000, '['), "t.json")),
            "'t.json' nests deeper than 64 levels");
}

} // namespace
