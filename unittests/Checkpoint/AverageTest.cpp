//===- AverageTest.cpp - Tests of checkpoint averaging --------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Expected values are worked out by hand in the comments (exact means and
// where they fall between representable values), not computed by the code
// under test.
//
//===----------------------------------------------------------------------===//

#include "TestCheckpoints.h"

#include "qwha/Checkpoint/Average.h"

#include "llvm/Support/JSON.h"

#include <cmath>
#include <limits>
#include <random>

using namespace qwha;
using namespace qwha::testing;
using llvm::StringRef;

namespace {

using Average = CheckpointTest;

AverageOptions uniform(size_t count) {
  AverageOptions options;
  options.weights.assign(count, 1.0);
  options.reference = count - 1;
  return options;
}

/// Averages one tensor "w" of `dtype` holding `values[i]` in checkpoint i;
/// returns the output tensor's bytes.
std::string averageOf(Average &test, DType dtype,
                      const std::vector<std::vector<double>> &values,
                      std::vector<double> weights = {},
                      int64_t chunkElements = 0) {
  static int counter = 0;
  std::vector<std::string> paths;
  for (const std::vector<double> &v : values)
    paths.push_back(
        test.makeCheckpoint("in" + std::to_string(counter++),
                            {{"w", dtype, {int64_t(v.size())}, v}}));
  Opened opened(paths);
  AverageOptions options = uniform(paths.size());
  if (!weights.empty())
    options.weights = weights;
  if (chunkElements)
    options.chunkElements = chunkElements;
  std::string out =
      test.pathTo("out" + std::to_string(counter++) + ".safetensors");
  llvm::Expected<AverageSummary> summary =
      writeAverage(opened.pointers, out, options);
  if (!summary) {
    ADD_FAILURE() << llvm::toString(summary.takeError());
    return "";
  }
  return test.tensorBytes(out, "w");
}

std::string f32Bits(std::initializer_list<float> values) {
  std::string bytes;
  for (float value : values)
    bytes += bitsOf(value);
  return bytes;
}

//===----------------------------------------------------------------------===//
// Numbers
//===----------------------------------------------------------------------===//

TEST_F(Average, UniformF32HandComputed) {
  // Means: (1+2+4)/3 = 7/3, (-1+0+0.5)/3 = -1/6, (1e-3 * 3)/3, (8+8+8)/3.
  std::string bytes =
      averageOf(*this, DType::F32,
                {{1, -1, 1e-3f, 8}, {2, 0, 1e-3f, 8}, {4, 0.5, 1e-3f, 8}});
  // 7/3 = 10.0101...b: nearest float 2.33333325 (0x40155555); -1/6 likewise
  // 0xBE2AAAAB; the same value three times averages to itself exactly.
  EXPECT_EQ(bytes, f32Bits({llvm::bit_cast<float>(0x40155555u),
                            llvm::bit_cast<float>(0xBE2AAAABu), 1e-3f, 8.0f}));
}

TEST_F(Average, WeightedF32HandComputed) {
  // Weights 1, 3 (normalised 1/4, 3/4): 0.25 * 2 + 0.75 * 6 = 5, exactly;
  // and 0.25 * 1 + 0.75 * 0 = 0.25. Scaling the weights changes nothing.
  std::string expected = f32Bits({5.0f, 0.25f});
  EXPECT_EQ(averageOf(*this, DType::F32, {{2, 1}, {6, 0}}, {1, 3}), expected);
  EXPECT_EQ(averageOf(*this, DType::F32, {{2, 1}, {6, 0}}, {0.5, 1.5}),
            expected);
  EXPECT_EQ(averageOf(*this, DType::F32, {{2, 1}, {6, 0}}, {1e-300, 3e-300}),
            expected);
  EXPECT_EQ(averageOf(*this, DType::F32, {{2, 1}, {6, 0}}, {1e300, 3e300}),
            expected);
}

TEST_F(Average, ZeroWeightLeavesACheckpointOut) {
  // The third checkpoint's nan is not even read.
  std::string bytes =
      averageOf(*this, DType::F32, {{1}, {3}, {std::nan("")}}, {1, 1, 0});
  EXPECT_EQ(bytes, f32Bits({2.0f}));
}

TEST_F(Average, BFloat16TiesGoToEven) {
  // bfloat16 has 8 significand bits: after 1 come 1 + 2^-7 (0x3F81) and
  // 1 + 2^-6 (0x3F82).
  const double one = 1, up1 = 1 + std::ldexp(1, -7),
               up2 = 1 + std::ldexp(1, -6);
  // Mean 1 + 2^-8: halfway between 0x3F80 and 0x3F81, to the even 0x3F80.
  EXPECT_EQ(averageOf(*this, DType::BF16, {{one}, {up1}}), bits16({0x3F80}));
  // Mean 1 + 3 * 2^-8: halfway between 0x3F81 and 0x3F82, to 0x3F82.
  EXPECT_EQ(averageOf(*this, DType::BF16, {{up1}, {up2}}), bits16({0x3F82}));
  // Means 1 + 2^-7/3 (below the midpoint 1 + 2^-8) and 1 + 2^-6/3 (above).
  EXPECT_EQ(averageOf(*this, DType::BF16, {{one, one}, {one, up1}, {up1, up1}}),
            bits16({0x3F80, 0x3F81}));
  // Negative values round the same way, by magnitude.
  EXPECT_EQ(averageOf(*this, DType::BF16, {{-one}, {-up1}}), bits16({0xBF80}));
}

TEST_F(Average, HalfHandComputed) {
  // Half has 11 significand bits: after 1 come 0x3C01 (1 + 2^-10) and
  // 0x3C02; subnormals are multiples of 2^-24 (0x0001).
  const double up1 = 1 + std::ldexp(1, -10), up2 = 1 + std::ldexp(1, -9);
  const double tiny = std::ldexp(1, -24);
  // 1 + 2^-11 ties to even 0x3C00; 2^-25 ties to even zero.
  EXPECT_EQ(averageOf(*this, DType::F16, {{1, tiny}, {up1, 0}}),
            bits16({0x3C00, 0x0000}));
  // 1 + 3 * 2^-11 ties to even 0x3C02; 2 * 2^-24 is exact.
  EXPECT_EQ(averageOf(*this, DType::F16, {{up1, tiny}, {up2, 3 * tiny}}),
            bits16({0x3C02, 0x0002}));
  // 2/3 = 1.0101010101|0101...b * 2^-1 rounds down to 0x3955.
  EXPECT_EQ(averageOf(*this, DType::F16, {{0}, {1}, {1}}), bits16({0x3955}));
}

TEST_F(Average, F64IsTheDoubleMean) {
  std::string bytes(16, '\0');
  llvm::support::endian::write64le(bytes.data(),
                                   llvm::bit_cast<uint64_t>(0.5 / 3));
  llvm::support::endian::write64le(bytes.data() + 8,
                                   llvm::bit_cast<uint64_t>(1e300));
  EXPECT_EQ(
      averageOf(*this, DType::F64, {{0, 1e300}, {0, 1e300}, {0.5, 1e300}}),
      bytes);
}

TEST_F(Average, OneRoundingWhereTheQuotientHitsAMidpoint) {
  // Weights 1 and 1 + 2^-28 on 1 and 1 + 2^-23 (the float after 1): the sum
  // 2 + 2^-23 + 2^-28 + 2^-51 is exact in double, the mean is
  // 1 + 2^-24 (1 + 2^-28) / (1 + 2^-29), a little above the midpoint
  // 1 + 2^-24 between the floats 1 and 1 + 2^-23, so it rounds up. The
  // quotient rounded to double is exactly that midpoint, and rounding it
  // again would tie down to 1.
  const double w = 1 + std::ldexp(1, -28);
  const double next = 1 + std::ldexp(1, -23);
  ASSERT_EQ(float((1 + w * next) / (1 + w)), 1.0f); // the second rounding
  EXPECT_EQ(averageOf(*this, DType::F32, {{1}, {next}}, {1, w}),
            f32Bits({float(next)}));
}

/// Every finite half or bfloat16 bit pattern, as little-endian bytes.
std::vector<char> everyFinite(DType dtype) {
  std::vector<char> bytes;
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    bool finite = dtype == DType::F16 ? (bits & 0x7c00) != 0x7c00
                                      : (bits & 0x7f80) != 0x7f80;
    if (finite) {
      bytes.push_back(char(bits & 0xff));
      bytes.push_back(char(bits >> 8));
    }
  }
  return bytes;
}

TEST_F(Average, EveryHalfAndBFloat16AveragesToItself) {
  // Averaging a checkpoint with itself decodes and encodes every value:
  // normal, subnormal, zero and negative zero must come back bit for bit.
  for (DType dtype : {DType::F16, DType::BF16}) {
    SCOPED_TRACE(getDTypeName(dtype).str());
    std::vector<char> bytes = everyFinite(dtype);
    std::string name = getDTypeName(dtype).str();
    ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo(name)));
    SafetensorsWriter writer;
    ASSERT_FALSE(
        bool(writer.add("w", dtype, {int64_t(bytes.size() / 2)}, bytes)));
    ASSERT_FALSE(bool(writer.writeFile(pathTo(name + "/model.safetensors"))));
    Opened opened({pathTo(name), pathTo(name)});
    std::string out = pathTo(name + ".safetensors");
    ASSERT_TRUE(bool(writeAverage(opened.pointers, out, uniform(2))));
    std::string got = tensorBytes(out, "w");
    ASSERT_EQ(got.size(), bytes.size());
    for (size_t j = 0; j < bytes.size(); j += 2)
      ASSERT_TRUE(got[j] == bytes[j] && got[j + 1] == bytes[j + 1])
          << "element " << j / 2 << ": " << std::hex << int(uint8_t(got[j + 1]))
          << " " << int(uint8_t(got[j])) << " for "
          << int(uint8_t(bytes[j + 1])) << " " << int(uint8_t(bytes[j]));
  }
}

TEST_F(Average, RandomHalvesAndBFloat16sRoundLikeTheHelpers) {
  // Means of three random finite values (any exponent, subnormals
  // included) against Safetensors.h's own conversions. The sums are exact
  // in double; the helper rounds their quotient once.
  std::mt19937 rng(5);
  for (DType dtype : {DType::F16, DType::BF16}) {
    SCOPED_TRACE(getDTypeName(dtype).str());
    std::vector<char> finite = everyFinite(dtype);
    const size_t count = finite.size() / 2, n = 50000;
    std::vector<std::vector<double>> values(3);
    std::vector<uint16_t> expected;
    auto decode = [&](uint16_t bits) {
      return double(dtype == DType::F16 ? halfBitsToFloat(bits)
                                        : bfloat16BitsToFloat(bits));
    };
    for (size_t j = 0; j < n; ++j) {
      double sum = 0;
      for (std::vector<double> &v : values) {
        size_t pick = rng() % count;
        uint16_t bits = uint8_t(finite[2 * pick]) |
                        uint16_t(uint8_t(finite[2 * pick + 1])) << 8;
        v.push_back(decode(bits));
        sum += v.back();
      }
      expected.push_back(dtype == DType::F16 ? doubleToHalfBits(sum / 3)
                                             : doubleToBFloat16Bits(sum / 3));
    }
    std::string bytes = averageOf(*this, dtype, values);
    ASSERT_EQ(bytes.size(), 2 * n);
    for (size_t j = 0; j < n; ++j) {
      uint16_t got = uint8_t(bytes[2 * j]) | uint16_t(uint8_t(bytes[2 * j + 1]))
                                                 << 8;
      ASSERT_EQ(got, expected[j])
          << "element " << j << ": mean of " << values[0][j] << ", "
          << values[1][j] << ", " << values[2][j];
    }
  }
}

TEST_F(Average, PiecesDoNotChangeTheResult) {
  std::vector<std::vector<double>> values(3);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 10; ++j)
      values[i].push_back((i + 1) * 0.1 + j / 7.0);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
    SCOPED_TRACE(getDTypeName(dtype).str());
    std::string whole = averageOf(*this, dtype, values);
    EXPECT_EQ(averageOf(*this, dtype, values, {}, 3), whole);
    EXPECT_EQ(averageOf(*this, dtype, values, {}, 1), whole);
  }
}

//===----------------------------------------------------------------------===//
// Integer tensors and errors
//===----------------------------------------------------------------------===//

std::vector<Tensor> model(double k) {
  return {
      {"a.weight", DType::F32, {2, 2}, {k, k + 1, k + 2, k + 3}},
      {"b.bias", DType::BF16, {3}, {k, -k, 0.5}},
      {"pos", DType::I64, {4}, {0, 1, 2, 3}},
      {"mask", DType::Bool, {2}, {1, 0}},
      {"empty", DType::F16, {0, 3}, {}},
  };
}

TEST_F(Average, IntegerTensorsAreCopied) {
  Opened opened({makeCheckpoint("a", model(1)), makeCheckpoint("b", model(2))});
  std::string out = pathTo("out.safetensors");
  auto summary = writeAverage(opened.pointers, out, uniform(2));
  ASSERT_TRUE(bool(summary)) << llvm::toString(summary.takeError());
  EXPECT_EQ(summary->tensors, 5u);
  EXPECT_EQ(summary->averagedTensors, 3u);
  EXPECT_EQ(summary->bytesWritten, 16u + 6 + 32 + 2);
  EXPECT_EQ(summary->bytesRead, 2 * (16u + 6 + 32 + 2));
  EXPECT_EQ(tensorBytes(out, "pos"),
            std::string(encode(DType::I64, {0, 1, 2, 3}).data(), 32));
  EXPECT_EQ(tensorBytes(out, "mask"), std::string("\x01\x00", 2));
  EXPECT_EQ(tensorBytes(out, "a.weight"), f32Bits({1.5f, 2.5f, 3.5f, 4.5f}));
  EXPECT_EQ(tensorBytes(out, "empty"), "");
}

TEST_F(Average, DifferentIntegerTensorsAreAnError) {
  std::vector<Tensor> other = model(2);
  other[2].values[2] = 7;
  Opened opened({makeCheckpoint("a", model(1)), makeCheckpoint("b", other)});
  for (int64_t chunk : {int64_t(1) << 18, int64_t(1)}) {
    AverageOptions options = uniform(2);
    options.chunkElements = chunk;
    std::string message = errorOf(
        writeAverage(opened.pointers, pathTo("out.safetensors"), options));
    EXPECT_CONTAINS(message, "integer tensor 'pos' differs between '" +
                                 pathTo("a/model.safetensors") + "' and '" +
                                 pathTo("b/model.safetensors") +
                                 "' at element 2 (2 vs 7)");
    EXPECT_EQ(listDir(), (std::vector<std::string>{"a", "b"}));
  }
}

TEST_F(Average, NonFiniteValuesAreAnError) {
  std::vector<Tensor> bad = model(2);
  bad[1].values[1] = -std::numeric_limits<double>::infinity();
  Opened opened({makeCheckpoint("a", model(1)), makeCheckpoint("b", bad)});
  std::string message =
      errorOf(writeAverage(opened.pointers, pathTo("out"), uniform(2)));
  EXPECT_CONTAINS(message,
                  "tensor 'b.bias' has a non-finite value (-inf) at element 1 "
                  "in '" +
                      pathTo("b/model.safetensors") + "'");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"a", "b"}));

  std::vector<Tensor> nan = model(2);
  nan[0].values[3] = std::nan("");
  Opened withNan({makeCheckpoint("c", nan), makeCheckpoint("d", model(1))});
  AverageOptions options = uniform(2);
  options.chunkElements = 3;
  EXPECT_CONTAINS(
      errorOf(writeAverage(withNan.pointers, pathTo("o.safetensors"), options)),
      "tensor 'a.weight' has a non-finite value (nan) at element 3 in '" +
          pathTo("c/model.safetensors") + "'");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(Average, F64OverflowIsAnError) {
  Opened opened({makeCheckpoint("a", {{"x", DType::F64, {2}, {1, 1.5e308}}}),
                 makeCheckpoint("b", {{"x", DType::F64, {2}, {1, 1.5e308}}})});
  EXPECT_CONTAINS(errorOf(writeAverage(opened.pointers, pathTo("o.safetensors"),
                                       uniform(2))),
                  "tensor 'x': the weighted average overflows at element 1");
}

TEST_F(Average, IncompatibleCheckpoints) {
  std::string a = makeCheckpoint("a", model(1));
  auto variant = [&](StringRef name, auto change) {
    std::vector<Tensor> tensors = model(2);
    change(tensors);
    return makeCheckpoint(name, tensors);
  };
  std::string shape = variant("shape", [](auto &t) { t[0].shape = {4, 1}; });
  std::string dtype =
      variant("dtype", [](auto &t) { t[1].dtype = DType::F32; });
  std::string missing = variant("missing", [](auto &t) { t.erase(t.begin()); });
  std::string extra = variant("extra", [](auto &t) {
    t.push_back({"z", DType::F32, {1}, {0}});
  });
  auto message = [&](const std::string &other) {
    Opened opened({a, a, other});
    return errorOf(checkCompatible(opened.pointers));
  };
  std::string fileA = pathTo("a/model.safetensors");
  EXPECT_EQ(message(shape), "tensor 'a.weight' has shape [2, 2] in '" + fileA +
                                "' but [4, 1] in '" +
                                pathTo("shape/model.safetensors") + "'");
  EXPECT_EQ(message(dtype), "tensor 'b.bias' is BF16 in '" + fileA +
                                "' but F32 in '" +
                                pathTo("dtype/model.safetensors") + "'");
  EXPECT_EQ(message(missing), "tensor 'a.weight' is in '" + fileA +
                                  "' but not in '" + missing + "'");
  EXPECT_EQ(message(extra), "tensor 'z' is in '" +
                                pathTo("extra/model.safetensors") +
                                "' but not in '" + a + "'");
  // writeAverage checks before writing anything.
  Opened opened({a, shape});
  EXPECT_CONTAINS(
      errorOf(writeAverage(opened.pointers, pathTo("out"), uniform(2))),
      "tensor 'a.weight' has shape");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"a", "dtype", "extra",
                                                 "missing", "shape"}));
}

//===----------------------------------------------------------------------===//
// Directory outputs
//===----------------------------------------------------------------------===//

TEST_F(Average, DirectoryTakesTheReferencesFilesAndMetadata) {
  std::string a = makeCheckpoint("a", model(1));
  std::string b = makeCheckpoint("b", model(3));
  writeFile("a/config.json", "{\"k\": 1}");
  writeFile("b/config.json", "{\"k\": 3}");
  for (StringRef name :
       {"tokenizer.json", "special_tokens_map.json", "trainer_state.json",
        "optimizer.pt", "training_args.bin", "rng_state_0.pth", ".hidden",
        "pytorch_model.bin", "latest"})
    writeFile(("b/" + name).str(), "x");
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("b/global_step300")));

  Opened opened({a, b});
  AverageOptions options = uniform(2);
  options.metadata["qwha.average"] = "{\"mode\":\"uniform\"}";
  auto summary = writeAverage(opened.pointers, pathTo("out"), options);
  ASSERT_TRUE(bool(summary)) << llvm::toString(summary.takeError());
  EXPECT_EQ(listDir("out"), (std::vector<std::string>{
                                "config.json", "model.safetensors",
                                "special_tokens_map.json", "tokenizer.json"}));
  EXPECT_EQ(summary->files, (std::vector<std::string>{
                                "model.safetensors", "config.json",
                                "special_tokens_map.json", "tokenizer.json"}));
  EXPECT_EQ(readWholeFile(pathTo("out/config.json")), "{\"k\": 3}");
  auto file = SafetensorsFile::open(pathTo("out/model.safetensors"));
  ASSERT_TRUE(bool(file));
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"qwha.average", "{\"mode\":\"uniform\"}"}};
  EXPECT_EQ(file->getMetadata(), metadata);
  EXPECT_EQ(tensorBytes(pathTo("out/model.safetensors"), "a.weight"),
            f32Bits({2, 3, 4, 5}));
  // Nothing else was left beside the output.
  EXPECT_EQ(listDir(), (std::vector<std::string>{"a", "b", "out"}));
  EXPECT_FALSE(isWeightOrStateFile("config.json"));
  EXPECT_TRUE(isWeightOrStateFile("model-00001-of-00002.safetensors"));
  EXPECT_TRUE(isWeightOrStateFile("pytorch_model.bin.index.json"));
}

TEST_F(Average, ShardedReferenceGivesTheSameShards) {
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("sharded")));
  std::vector<Tensor> tensors = model(3);
  writeTensors("sharded/part-1.safetensors",
               {tensors[0], tensors[1], tensors[4]});
  writeTensors("sharded/part-2.safetensors", {tensors[2], tensors[3]});
  writeFile("sharded/model.safetensors.index.json",
            R"({"metadata": {"total_size": 1},
                "weight_map": {"a.weight": "part-1.safetensors",
                               "b.bias": "part-1.safetensors",
                               "empty": "part-1.safetensors",
                               "pos": "part-2.safetensors",
                               "mask": "part-2.safetensors"}})");
  Opened opened({makeCheckpoint("single", model(1)), pathTo("sharded")});
  ASSERT_TRUE(opened.owned[1].isSharded());
  auto summary = writeAverage(opened.pointers, pathTo("out"), uniform(2));
  ASSERT_TRUE(bool(summary)) << llvm::toString(summary.takeError());
  EXPECT_EQ(listDir("out"), (std::vector<std::string>{
                                "model.safetensors.index.json",
                                "part-1.safetensors", "part-2.safetensors"}));
  EXPECT_EQ(tensorBytes(pathTo("out/part-1.safetensors"), "a.weight"),
            f32Bits({2, 3, 4, 5}));
  EXPECT_EQ(tensorBytes(pathTo("out/part-2.safetensors"), "mask"),
            std::string("\x01\x00", 2));
  auto index = llvm::json::parse(
      readWholeFile(pathTo("out/model.safetensors.index.json")));
  ASSERT_TRUE(bool(index));
  EXPECT_EQ(
      *index->getAsObject()->getObject("metadata")->getInteger("total_size"),
      16 + 6 + 32 + 2);
  EXPECT_EQ(*index->getAsObject()->getObject("weight_map")->getString("pos"),
            "part-2.safetensors");

  // The other way round, the single-file reference gives one file.
  Opened reversed({pathTo("sharded"), pathTo("single")});
  ASSERT_TRUE(
      bool(writeAverage(reversed.pointers, pathTo("out2"), uniform(2))));
  EXPECT_EQ(listDir("out2"), (std::vector<std::string>{"model.safetensors"}));
}

TEST_F(Average, OutputDirectoryMustBeNewOrEmpty) {
  Opened opened({makeCheckpoint("a", model(1))});
  ASSERT_FALSE(llvm::sys::fs::create_directory(pathTo("empty")));
  ASSERT_TRUE(bool(writeAverage(opened.pointers, pathTo("empty"), uniform(1))));
  EXPECT_EQ(listDir("empty"), (std::vector<std::string>{"model.safetensors"}));

  std::string message =
      errorOf(writeAverage(opened.pointers, pathTo("empty"), uniform(1)));
  EXPECT_CONTAINS(message, "cannot write the checkpoint directory '" +
                               pathTo("empty") +
                               "': it exists and is not empty");
  writeFile("file", "x");
  EXPECT_CONTAINS(
      errorOf(writeAverage(opened.pointers, pathTo("file"), uniform(1))),
      "a file of that name exists");
  EXPECT_CONTAINS(
      errorOf(writeAverage(opened.pointers, pathTo("no/such/out"), uniform(1))),
      "cannot write '" + pathTo("no/such/out") + "'");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"a", "empty", "file"}));
}

//===----------------------------------------------------------------------===//
// Selections and weights
//===----------------------------------------------------------------------===//

TEST(AverageWeights, ParseAndCheck) {
  auto parsed = parseWeights("1, 2.5,0", 3);
  ASSERT_TRUE(bool(parsed));
  EXPECT_EQ(*parsed, (std::vector<double>{1, 2.5, 0}));
  EXPECT_EQ(errorOf(parseWeights("1,2", 3)),
            "2 weights for 3 checkpoints: give one weight per checkpoint");
  EXPECT_EQ(errorOf(parseWeights("1,-0.5", 2)), "weight 2 is negative (-0.5)");
  EXPECT_EQ(errorOf(parseWeights("0,0", 2)),
            "all weights are zero: at least one must be positive");
  EXPECT_EQ(errorOf(parseWeights("1,x", 2)), "weight 2 ('x') is not a number");
  EXPECT_EQ(errorOf(parseWeights("1,", 2)), "weight 2 ('') is not a number");
  EXPECT_EQ(errorOf(parseWeights("inf,1", 2)),
            "weight 1 (inf) is not a finite number");
}

TEST(AverageSelection, LastAtStride) {
  using V = std::vector<size_t>;
  EXPECT_EQ(*selectLastAtStride(6, 3, 1), (V{3, 4, 5}));
  EXPECT_EQ(*selectLastAtStride(6, 3, 2), (V{1, 3, 5}));
  EXPECT_EQ(*selectLastAtStride(7, 3, 3), (V{0, 3, 6}));
  EXPECT_EQ(*selectLastAtStride(1, 1, 5), (V{0}));
  EXPECT_EQ(errorOf(selectLastAtStride(6, 4, 2)),
            "the last 4 checkpoints at stride 2 span 7 checkpoints, but 6 "
            "were given");
  EXPECT_EQ(errorOf(selectLastAtStride(0, 1, 1)),
            "the last 1 checkpoints at stride 1 span 1 checkpoints, but 0 "
            "were given");
  EXPECT_CONTAINS(errorOf(selectLastAtStride(6, 0, 1)), "at least 1, not 0");
  EXPECT_CONTAINS(errorOf(selectLastAtStride(6, 2, -1)),
                  "the stride must be at least 1, not -1");
  // (2^62 - 1) * 4 + 1 overflowed int64 in the message (UBSan; "span -3").
  EXPECT_CONTAINS(errorOf(selectLastAtStride(6, int64_t(1) << 62, 4)),
                  "span 18446744073709551613 checkpoints, but 6 were given");
  EXPECT_CONTAINS(
      errorOf(selectLastAtStride(6, int64_t(1) << 62, int64_t(1) << 62)),
      "span more than 2^64 checkpoints");
}

} // namespace
