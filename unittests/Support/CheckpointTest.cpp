//===- CheckpointTest.cpp - Tests of checkpoint directories ---------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Checkpoint directories are written here with SafetensorsWriter (tested on
// its own against hand-made bytes) and literal index JSON; fromIndex gets
// the same bytes from memory.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/Checkpoint.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <cstring>
#include <map>

using namespace qwha;

namespace {

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qwha-checkpoint", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(llvm::StringRef file) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, file);
    return p.str().str();
  }

  /// A file with one f32 tensor per name, tensor i holding {i}.
  void writeShard(llvm::StringRef file,
                  std::initializer_list<const char *> names) {
    SafetensorsWriter writer;
    float value = 0;
    for (const char *name : names) {
      ASSERT_FALSE(writer.add(name, DType::F32, {1},
                              {reinterpret_cast<const char *>(&value), 4}));
      ++value;
    }
    ASSERT_FALSE(writer.writeFile(path(file)));
  }

  void writeText(llvm::StringRef file, llvm::StringRef text) {
    std::error_code ec;
    llvm::raw_fd_ostream os(path(file), ec);
    ASSERT_FALSE(ec);
    os << text;
  }

  std::string openError() {
    llvm::Expected<CheckpointTensors> checkpoint =
        CheckpointTensors::open(dir);
    if (checkpoint)
      return "";
    return llvm::toString(checkpoint.takeError());
  }

  llvm::SmallString<256> dir;
};

TEST_F(CheckpointTest, SingleFile) {
  writeShard("model.safetensors", {"a", "b"});
  llvm::Expected<CheckpointTensors> checkpoint = CheckpointTensors::open(dir);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->getTensors().size(), 2u);
  const TensorView *b = checkpoint->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(checkpoint->getFile(*b), path("model.safetensors"));
  EXPECT_EQ(checkpoint->find("c"), nullptr);
  llvm::Expected<const TensorView &> missing = checkpoint->get("c");
  ASSERT_FALSE(bool(missing));
  EXPECT_EQ(llvm::toString(missing.takeError()),
            "tensor 'c' is missing from checkpoint '" + dir.str().str() + "'");
}

TEST_F(CheckpointTest, ShardsFollowTheIndex) {
  writeShard("one.safetensors", {"a", "b"});
  writeShard("two.safetensors", {"c"});
  writeText("model.safetensors.index.json",
            R"({"metadata": {}, "weight_map": {"a": "one.safetensors",
                "b": "one.safetensors", "c": "two.safetensors"}})");
  llvm::Expected<CheckpointTensors> checkpoint = CheckpointTensors::open(dir);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->getTensors().size(), 3u);
  EXPECT_EQ(checkpoint->getFile(*checkpoint->find("c")),
            path("two.safetensors"));
  // The value comes from the right file: "c" is the first tensor of its own.
  float value;
  std::memcpy(&value, checkpoint->find("c")->data.data(), 4);
  EXPECT_EQ(value, 0.0f);
}

TEST_F(CheckpointTest, IndexThatLiesIsAnError) {
  writeShard("one.safetensors", {"a"});
  writeShard("two.safetensors", {"c"});
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "two.safetensors", "c": "one.safetensors"}})");
  EXPECT_EQ(openError(), "'" + path("model.safetensors.index.json") +
                             "' lists tensor 'a' in 'two.safetensors', but it "
                             "is in 'one.safetensors'");
  // A shard the index does not name is not read, so "a" is nowhere.
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "two.safetensors", "c": "two.safetensors"}})");
  EXPECT_EQ(openError(), "'" + path("model.safetensors.index.json") +
                             "' lists tensor 'a' in 'two.safetensors', which "
                             "does not hold it");
}

TEST_F(CheckpointTest, UnlistedAndDuplicatedTensorsAreErrors) {
  writeShard("one.safetensors", {"a", "b"});
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "one.safetensors"}})");
  EXPECT_EQ(openError(), "tensor 'b' of '" + path("one.safetensors") +
                             "' is not listed in '" +
                             path("model.safetensors.index.json") + "'");
  writeShard("two.safetensors", {"a"});
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "one.safetensors", "b": "two.safetensors"}})");
  EXPECT_EQ(openError(), "tensor 'a' is in both '" + path("one.safetensors") +
                             "' and '" + path("two.safetensors") + "'");
}

TEST_F(CheckpointTest, MalformedIndexIsAnError) {
  writeText("model.safetensors.index.json", "{");
  EXPECT_NE(openError().find("is not valid JSON"), std::string::npos);
  writeText("model.safetensors.index.json", R"({"weights": {}})");
  EXPECT_EQ(openError(), "'" + path("model.safetensors.index.json") +
                             "' has no 'weight_map' object");
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "../outside.safetensors"}})");
  EXPECT_EQ(openError(), "'" + path("model.safetensors.index.json") +
                             "': tensor 'a' maps to an invalid shard name");
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "absent.safetensors"}})");
  EXPECT_NE(openError().find("absent.safetensors"), std::string::npos);
}

// Found by the checkpoint-index fuzzer: "\u0000" in a shard name passed the
// plain-file-name check, and opening "one.safetensors\0x" opened
// "one.safetensors", a file the index does not name.
TEST_F(CheckpointTest, ShardNameWithNulIsAnError) {
  writeShard("one.safetensors", {"a"});
  writeText("model.safetensors.index.json",
            R"({"weight_map": {"a": "one.safetensors\u0000x"}})");
  EXPECT_EQ(openError(), "'" + path("model.safetensors.index.json") +
                             "': tensor 'a' maps to an invalid shard name");
}

// llvm::json::parse recurses once per level: a megabyte of '[' overflowed
// the stack.
TEST_F(CheckpointTest, DeeplyNestedIndexIsAnError) {
  writeText("model.safetensors.index.json", std::string(1000000, '['));
  EXPECT_EQ(openError(), "'" + path("model.safetensors.index.json") +
                             "' nests deeper than 64 levels");
}

TEST(CheckpointIndexTest, ShardsFromMemory) {
  auto shard = [](const char *name) {
    SafetensorsWriter writer;
    float value = 1;
    EXPECT_FALSE(writer.add(name, DType::F32, {1},
                            {reinterpret_cast<const char *>(&value), 4}));
    std::string bytes;
    llvm::raw_string_ostream os(bytes);
    EXPECT_FALSE(writer.write(os));
    return bytes;
  };
  std::map<std::string, std::string> shards = {{"s1", shard("a")},
                                               {"s2", shard("b")}};
  std::vector<std::string> asked;
  auto openShard =
      [&](llvm::StringRef name) -> llvm::Expected<SafetensorsFile> {
    asked.push_back(name.str());
    return SafetensorsFile::fromBuffer(llvm::MemoryBuffer::getMemBuffer(
        shards.at(name.str()), ("dir/" + name).str(), false));
  };
  llvm::Expected<CheckpointTensors> checkpoint = CheckpointTensors::fromIndex(
      "dir", R"({"weight_map": {"b": "s2", "a": "s1"}})", "dir/index.json",
      openShard);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  EXPECT_EQ(asked, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(checkpoint->getFile(*checkpoint->find("b")), "dir/s2");

  llvm::Expected<CheckpointTensors> lying = CheckpointTensors::fromIndex(
      "dir", R"({"weight_map": {"b": "s1", "a": "s1"}})", "dir/index.json",
      openShard);
  ASSERT_FALSE(bool(lying));
  EXPECT_EQ(llvm::toString(lying.takeError()),
            "'dir/index.json' lists tensor 'b' in 's1', which does not hold "
            "it");
}

TEST(CheckpointJSONTest, Integers) {
  auto integer = [](llvm::StringRef text) {
    llvm::Expected<llvm::json::Value> value = llvm::json::parse(text);
    EXPECT_TRUE(bool(value));
    return getJSONInteger(*value);
  };
  EXPECT_EQ(integer("5"), 5);
  EXPECT_EQ(integer("5.0"), 5);
  EXPECT_EQ(integer("5e3"), 5000);
  EXPECT_EQ(integer("-7"), -7);
  EXPECT_EQ(integer("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(integer("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(integer("-9223372036854775808.0"), INT64_MIN);
  EXPECT_EQ(integer("5.5"), std::nullopt);
  EXPECT_EQ(integer("\"5\""), std::nullopt);
  EXPECT_EQ(integer("9223372036854775808"), std::nullopt);
  // Found by the transformer-config fuzzer: json::Value::getAsInteger
  // converts this double (2^63) to int64, which is undefined behaviour.
  EXPECT_EQ(integer("9223372036854775808.0"), std::nullopt);
  EXPECT_EQ(integer("1e300"), std::nullopt);
}

TEST(CheckpointJSONTest, Parse) {
  EXPECT_TRUE(bool(parseCheckpointJSON(std::string(64, '[') +
                                           std::string(64, ']'),
                                       "f.json")));
  // Brackets inside strings do not count.
  EXPECT_TRUE(bool(parseCheckpointJSON(
      "[\"" + std::string(100, '[') + "\\\"\"]", "f.json")));
  EXPECT_EQ(llvm::toString(parseCheckpointJSON(std::string(65, '['), "f.json")
                               .takeError()),
            "'f.json' nests deeper than 64 levels");
  llvm::Expected<llvm::json::Value> bad = parseCheckpointJSON("{", "f.json");
  ASSERT_FALSE(bool(bad));
  EXPECT_TRUE(llvm::StringRef(llvm::toString(bad.takeError()))
                  .starts_with("'f.json' is not valid JSON: "));
}

TEST_F(CheckpointTest, EmptyOrMissingDirectory) {
  EXPECT_EQ(openError(), "checkpoint '" + dir.str().str() +
                             "' has neither model.safetensors nor "
                             "model.safetensors.index.json");
  EXPECT_EQ(llvm::toString(
                CheckpointTensors::open(path("absent")).takeError()),
            "checkpoint '" + path("absent") + "' is not a directory");
}

} // namespace
