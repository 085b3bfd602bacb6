//===- SafetensorsTest.cpp - Tests of safetensors I/O and atomic writes ---===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Expected bytes are assembled by hand here (explicit shifts, literal JSON),
// never produced by the code under test, so that reader and writer cannot
// agree on a wrong format.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/Safetensors.h"
#include "qwha/Support/AtomicFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Errc.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

#ifdef __linux__
#include <fcntl.h>
#include <unistd.h>
#endif

using namespace qwha;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Appends the `count` low bytes of `value`, least significant first.
void appendLE(std::string &out, uint64_t value, int count) {
  for (int i = 0; i < count; ++i)
    out.push_back(char((value >> (8 * i)) & 0xff));
}

std::string le64(uint64_t value) {
  std::string out;
  appendLE(out, value, 8);
  return out;
}

/// IEEE single bits, spelled out so the test does not depend on the host.
std::string f32Bytes(std::initializer_list<uint32_t> bits) {
  std::string out;
  for (uint32_t b : bits)
    appendLE(out, b, 4);
  return out;
}

/// A file: header size, header, data.
std::string assemble(StringRef header, StringRef data) {
  return le64(header.size()) + header.str() + data.str();
}

constexpr const char *kBufferName = "model.safetensors";

Expected<SafetensorsFile> parse(StringRef bytes) {
  return SafetensorsFile::fromBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, kBufferName));
}

Expected<SafetensorsFile> parseHeader(StringRef header, StringRef data = "") {
  return parse(assemble(header, data));
}

/// The error message of a failed Expected; a test failure if it succeeded.
template <typename T> std::string errorOf(Expected<T> &&value) {
  if (value) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(value.takeError());
}

std::string errorOf(Error error) {
  if (!error) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(std::move(error));
}

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

/// Every header error names the file and the tensor (when given) and
/// mentions `rule`.
void expectHeaderError(StringRef header, StringRef data, StringRef tensor,
                       StringRef rule) {
  std::string message = errorOf(parseHeader(header, data));
  EXPECT_CONTAINS(message, kBufferName);
  if (!tensor.empty())
    EXPECT_CONTAINS(message, ("tensor '" + tensor + "'").str());
  EXPECT_CONTAINS(message, rule.str());
}

std::vector<char> toChars(StringRef bytes) {
  return std::vector<char>(bytes.begin(), bytes.end());
}

std::string readWholeFile(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    ADD_FAILURE() << "cannot read " << path.str();
    return "";
  }
  return (*buffer)->getBuffer().str();
}

/// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string base = ::testing::TempDir();
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory(base + "qwha-st", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string pathTo(StringRef name) const {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }

  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    EXPECT_FALSE(ec);
    llvm::sort(names);
    return names;
  }

  llvm::SmallString<256> dir;
};

using Safetensors = TempDirTest;
using AtomicFile = TempDirTest;

//===----------------------------------------------------------------------===//
// Reading hand-assembled files
//===----------------------------------------------------------------------===//

TEST(SafetensorsRead, HandAssembledFile) {
  // Keys deliberately not in offset order, extra whitespace and trailing
  // padding as other writers produce.
  std::string header =
      R"({"b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},)"
      R"( "__metadata__": {"format": "pt", "note": "x"},)"
      R"( "a": {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]}}   )";
  // a = [1.0, -2.5], b = [0.5, 3.0].
  std::string data = f32Bytes({0x3F800000, 0xC0200000, 0x3F000000, 0x40400000});
  Expected<SafetensorsFile> file = parse(assemble(header, data));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());

  EXPECT_EQ(file->getPath(), kBufferName);
  ASSERT_EQ(file->getTensors().size(), 2u);
  const TensorView &a = file->getTensors()[0];
  const TensorView &b = file->getTensors()[1];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (llvm::SmallVector<int64_t>{2, 1}));
  EXPECT_EQ(b.shape, (llvm::SmallVector<int64_t>{2}));
  EXPECT_EQ(a.getNumElements(), 2);
  EXPECT_EQ(a.beginOffset, 0u);
  EXPECT_EQ(a.endOffset, 8u);
  EXPECT_EQ(StringRef(b.data.data(), b.data.size()), StringRef(data).substr(8));

  Expected<std::vector<float>> aValues = readFloat32(a);
  ASSERT_TRUE(bool(aValues));
  EXPECT_EQ(*aValues, (std::vector<float>{1.0f, -2.5f}));
  Expected<std::vector<float>> bValues = readFloat32(b);
  ASSERT_TRUE(bool(bValues));
  EXPECT_EQ(*bValues, (std::vector<float>{0.5f, 3.0f}));

  EXPECT_EQ(file->find("b"), &b);
  EXPECT_EQ(file->find("c"), nullptr);
  Expected<const TensorView &> got = file->get("a");
  ASSERT_TRUE(bool(got));
  EXPECT_EQ(&*got, &a);
  EXPECT_EQ(errorOf(file->get("c")),
            "tensor 'c' not found in 'model.safetensors'");

  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"note", "x"}};
  EXPECT_EQ(file->getMetadata(), metadata);
}

TEST(SafetensorsRead, HandAssembledIntegerAndHalfDtypes) {
  std::string header =
      R"({"i64":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
      R"("i32":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},)"
      R"("i16":{"dtype":"I16","shape":[2],"data_offsets":[20,24]},)"
      R"("i8":{"dtype":"I8","shape":[2],"data_offsets":[24,26]},)"
      R"("u8":{"dtype":"U8","shape":[2],"data_offsets":[26,28]},)"
      R"("ok":{"dtype":"BOOL","shape":[2],"data_offsets":[28,30]},)"
      R"("h":{"dtype":"F16","shape":[5],"data_offsets":[30,40]},)"
      R"("bf":{"dtype":"BF16","shape":[2],"data_offsets":[40,44]},)"
      R"("d":{"dtype":"F64","shape":[],"data_offsets":[44,52]}})";
  std::string data;
  appendLE(data, uint64_t(-1), 8);          // -1
  appendLE(data, 0x7FFFFFFFFFFFFFFFull, 8); // INT64_MAX
  appendLE(data, 0x80000000u, 4);           // INT32_MIN
  appendLE(data, 0x8000, 2);                // INT16_MIN
  appendLE(data, 0x7FFF, 2);                // INT16_MAX
  data += "\xFD\x7F";                       // -3, 127
  data += std::string("\xC8\x00", 2);       // 200, 0
  data += std::string("\x01\x00", 2);       // true, false
  for (uint16_t bits : {0x3C00, 0x0001, 0x7C00, 0xFC00, 0x7E00})
    appendLE(data, bits, 2);
  appendLE(data, 0x3F80, 2);                // 1.0
  appendLE(data, 0xC040, 2);                // -3.0
  appendLE(data, 0x3FF8000000000000ull, 8); // 1.5
  Expected<SafetensorsFile> file = parse(assemble(header, data));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());

  auto ints = [&](StringRef name) {
    const TensorView *tensor = file->find(name);
    EXPECT_NE(tensor, nullptr) << name.str();
    Expected<std::vector<int64_t>> values = readInt64(*tensor);
    EXPECT_TRUE(bool(values)) << name.str();
    return values ? *values : std::vector<int64_t>();
  };
  auto floats = [&](StringRef name) {
    const TensorView *tensor = file->find(name);
    EXPECT_NE(tensor, nullptr) << name.str();
    Expected<std::vector<float>> values = readFloat32(*tensor);
    EXPECT_TRUE(bool(values)) << name.str();
    return values ? *values : std::vector<float>();
  };
  EXPECT_EQ(ints("i64"),
            (std::vector<int64_t>{-1, std::numeric_limits<int64_t>::max()}));
  EXPECT_EQ(ints("i32"),
            (std::vector<int64_t>{std::numeric_limits<int32_t>::min()}));
  EXPECT_EQ(ints("i16"), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(ints("i8"), (std::vector<int64_t>{-3, 127}));
  EXPECT_EQ(ints("u8"), (std::vector<int64_t>{200, 0}));
  EXPECT_EQ(ints("ok"), (std::vector<int64_t>{1, 0}));

  std::vector<float> h = floats("h");
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(h[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(h[3], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(h[4]));
  EXPECT_EQ(floats("bf"), (std::vector<float>{1.0f, -3.0f}));
  EXPECT_EQ(floats("d"), (std::vector<float>{1.5f}));
  EXPECT_EQ(file->find("d")->getNumElements(), 1);

  // Offset order, not name order.
  std::vector<std::string> order;
  for (const TensorView &t : file->getTensors())
    order.push_back(t.name);
  EXPECT_EQ(order, (std::vector<std::string>{"i64", "i32", "i16", "i8", "u8",
                                             "ok", "h", "bf", "d"}));
}

TEST(SafetensorsRead, EmptyFileAndZeroElementTensors) {
  Expected<SafetensorsFile> empty = parseHeader("{}");
  ASSERT_TRUE(bool(empty)) << llvm::toString(empty.takeError());
  EXPECT_TRUE(empty->getTensors().empty());
  EXPECT_TRUE(empty->getMetadata().empty());

  // Zero-size tensors may share an offset, sit at either end, or between
  // others, as long as they do not split another tensor.
  Expected<SafetensorsFile> file = parseHeader(
      R"({"e1":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
      R"("e2":{"dtype":"I8","shape":[0],"data_offsets":[0,0]},)"
      R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("e3":{"dtype":"BF16","shape":[4,0],"data_offsets":[4,4]}})",
      f32Bytes({0x40000000}));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  ASSERT_EQ(file->getTensors().size(), 4u);
  EXPECT_EQ(file->getTensors()[0].name, "e1");
  EXPECT_EQ(file->getTensors()[1].name, "e2");
  EXPECT_EQ(file->getTensors()[2].name, "s");
  EXPECT_EQ(file->getTensors()[3].name, "e3");
  EXPECT_EQ(file->find("e1")->getNumElements(), 0);
  EXPECT_EQ(file->find("s")->getNumElements(), 1);
  EXPECT_TRUE(file->find("s")->shape.empty());
  Expected<std::vector<float>> scalar = readFloat32(*file->find("s"));
  ASSERT_TRUE(bool(scalar));
  EXPECT_EQ(*scalar, (std::vector<float>{2.0f}));
  Expected<std::vector<float>> none = readFloat32(*file->find("e3"));
  ASSERT_TRUE(bool(none));
  EXPECT_TRUE(none->empty());
}

TEST(SafetensorsRead, MovedFileKeepsViewsValid) {
  Expected<SafetensorsFile> file =
      parseHeader(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                  f32Bytes({0x3F800000}));
  ASSERT_TRUE(bool(file));
  SafetensorsFile moved = std::move(*file);
  SafetensorsFile assigned = std::move(moved);
  ASSERT_NE(assigned.find("w"), nullptr);
  Expected<std::vector<float>> values = readFloat32(*assigned.find("w"));
  ASSERT_TRUE(bool(values));
  EXPECT_EQ(*values, (std::vector<float>{1.0f}));
}

//===----------------------------------------------------------------------===//
// Validation, one rule per test
//===----------------------------------------------------------------------===//

TEST(SafetensorsValidation, FileShorterThanSizeField) {
  std::string message = errorOf(parse("\x02\x00\x00\x00\x00"));
  EXPECT_CONTAINS(message, kBufferName);
  EXPECT_CONTAINS(message, "too short");
  EXPECT_CONTAINS(errorOf(parse("")), "too short");
}

TEST(SafetensorsValidation, HeaderSizeBeyondFile) {
  std::string message = errorOf(parse(le64(100) + "{}"));
  EXPECT_CONTAINS(message, kBufferName);
  EXPECT_CONTAINS(message, "header size 100 exceeds the 2 bytes");
}

TEST(SafetensorsValidation, HeaderSizeAbsurd) {
  EXPECT_CONTAINS(errorOf(parse(le64(uint64_t(1) << 40) + "{}")),
                  "exceeds the limit of 100000000 bytes");
  // 8 + N must not wrap around.
  EXPECT_CONTAINS(errorOf(parse(le64(~uint64_t(0)) + "{}")),
                  "exceeds the limit");
  EXPECT_CONTAINS(errorOf(parse(le64(100'000'001) + "{}")),
                  "exceeds the limit");
}

TEST(SafetensorsValidation, HeaderNotJson) {
  expectHeaderError("{\"a\":", "", "", "header is not valid JSON");
  expectHeaderError("", "", "", "header is not valid JSON");
  // A JSON header is one value; data cannot hide after it in the header.
  expectHeaderError("{} {}", "", "", "header is not valid JSON");
}

TEST(SafetensorsValidation, HeaderNestedTooDeeply) {
  // Would overflow the stack of a recursive parser.
  std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  expectHeaderError(deep, "", "", "header nests deeper than 64 levels");
  // Brackets inside strings do not count.
  std::string name(200, '[');
  std::string header =
      "{\"" + name + R"(":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})";
  Expected<SafetensorsFile> file = parseHeader(header, "a");
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_NE(file->find(name), nullptr);
}

TEST(SafetensorsValidation, HeaderNotUtf8) {
  expectHeaderError("{\"\xff\":{}}", "", "", "header is not valid JSON");
}

TEST(SafetensorsValidation, DuplicateKeys) {
  expectHeaderError(R"({"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},)"
                    R"("w":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}})",
                    "ab", "", "duplicate key 'w'");
  // Also inside an entry, and when spelled with escapes.
  expectHeaderError(
      R"({"w":{"dtype":"I8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
      "a", "", "duplicate key 'dtype'");
  expectHeaderError(R"({"__metadata__":{"k":"1","\u006b":"2"}})", "", "",
                    "duplicate key 'k'");
  // Equal strings as values or in different objects are fine.
  EXPECT_TRUE(bool(
      parseHeader(R"({"__metadata__":{"k":"k","w":"k"},)"
                  R"("w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})",
                  "a")));
}

TEST(SafetensorsValidation, HeaderNotObject) {
  expectHeaderError("[1, 2]", "", "", "header is not a JSON object");
  expectHeaderError("\"text\"", "", "", "header is not a JSON object");
}

TEST(SafetensorsValidation, EntryNotObject) {
  expectHeaderError(R"({"w": [1, 2]})", "", "w", "entry is not a JSON object");
}

TEST(SafetensorsValidation, MissingDtype) {
  expectHeaderError(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "abcd", "w",
                    "missing 'dtype'");
}

TEST(SafetensorsValidation, DtypeNotString) {
  expectHeaderError(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})",
                    "abcd", "w", "'dtype' is not a string");
}

TEST(SafetensorsValidation, UnknownDtype) {
  expectHeaderError(
      R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "a", "w",
      "unknown dtype 'F8_E4M3'");
  // The format's names are case-sensitive.
  expectHeaderError(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})",
                    "abcd", "w", "unknown dtype 'f32'");
}

TEST(SafetensorsValidation, MissingShape) {
  expectHeaderError(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "abcd",
                    "w", "missing 'shape'");
}

TEST(SafetensorsValidation, ShapeNotArray) {
  expectHeaderError(R"({"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})",
                    "abcd", "w", "'shape' is not an array");
}

TEST(SafetensorsValidation, NegativeDimension) {
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[1,-1],"data_offsets":[0,0]}})", "", "w",
      "'shape' dimension 1 is not a non-negative integer");
}

TEST(SafetensorsValidation, NonIntegerDimension) {
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd",
      "w", "'shape' dimension 0 is not a non-negative integer");
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", "abcd",
      "w", "'shape' dimension 0 is not a non-negative integer");
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}})", "abcd",
      "w", "'shape' dimension 0 is not a non-negative integer");
  // Integral floats are not integers either (the Python library agrees).
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", "abcd",
      "w", "'shape' dimension 0 is not a non-negative integer");
  // Beyond int64.
  expectHeaderError(R"({"w":{"dtype":"F32","shape":[9223372036854775808],)"
                    R"("data_offsets":[0,4]}})",
                    "abcd", "w",
                    "'shape' dimension 0 is not a non-negative integer");
}

TEST(SafetensorsValidation, MissingDataOffsets) {
  expectHeaderError(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd", "w",
                    "missing 'data_offsets'");
}

TEST(SafetensorsValidation, DataOffsetsNotTwoNonNegativeIntegers) {
  const char *rule = "'data_offsets' is not an array of two non-negative "
                     "integers";
  for (const char *offsets : {"4", "[0]", "[0,4,8]", "[-4,0]", "[0,4.5]",
                              "[0,4.0]", "[\"0\",4]", "null", "[]"}) {
    std::string header =
        std::string(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)") +
        offsets + "}}";
    SCOPED_TRACE(offsets);
    expectHeaderError(header, "abcd", "w", rule);
  }
}

TEST(SafetensorsValidation, DataOffsetsBeginAfterEnd) {
  expectHeaderError(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})",
                    std::string(8, 'x'), "w",
                    "data_offsets [8, 4] begin after they end");
}

TEST(SafetensorsValidation, DataOffsetsBeyondDataRegion) {
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd", "w",
      "data_offsets [0, 8] extend beyond the data region of 4 bytes");
  // Near 2^64: must not wrap around in any bounds arithmetic.
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[1],)"
      R"("data_offsets":[18446744073709551612,18446744073709551615]}})",
      "abcd", "w", "extend beyond the data region");
}

TEST(SafetensorsValidation, SizeMismatch) {
  expectHeaderError(
      R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
      std::string(20, 'x'), "w",
      "data_offsets [0, 20] span 20 bytes but shape [2, 3] of dtype F32 needs "
      "24");
  // Zero elements need zero bytes.
  expectHeaderError(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[0,4]}})",
                    "abcd", "w", "span 4 bytes but shape [0]");
}

TEST(SafetensorsValidation, ShapeOverflow) {
  // 2^40 * 2^40 wraps to 0 in 64 bits; with 0 bytes of data a wrapping
  // implementation would accept it.
  expectHeaderError(R"({"w":{"dtype":"F32","shape":[1099511627776,)"
                    R"(1099511627776],"data_offsets":[0,0]}})",
                    "", "w", "has too many elements");
  // Fits as an element count but not in bytes.
  expectHeaderError(R"({"w":{"dtype":"F64","shape":[4611686018427387904],)"
                    R"("data_offsets":[0,0]}})",
                    "", "w", "has too many elements");
  // A zero dimension does not excuse overflowing strides.
  expectHeaderError(R"({"w":{"dtype":"I8","shape":[1099511627776,)"
                    R"(1099511627776,0],"data_offsets":[0,0]}})",
                    "", "w", "has too many elements");
}

TEST(SafetensorsValidation, Overlap) {
  std::string message = errorOf(
      parseHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::string(12, 'x')));
  EXPECT_CONTAINS(message, kBufferName);
  EXPECT_CONTAINS(message, "tensors 'a' (data_offsets [0, 8]) and 'b' "
                           "(data_offsets [4, 12]) overlap");
  // Identical ranges (an aliasing file) also overlap.
  EXPECT_CONTAINS(
      errorOf(parseHeader(
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
          R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
          "abcd")),
      "overlap");
  // A zero-size tensor inside another one.
  EXPECT_CONTAINS(
      errorOf(parseHeader(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
          R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
          std::string(8, 'x'))),
      "tensors 'a' (data_offsets [0, 8]) and 'z'");
}

TEST(SafetensorsValidation, HoleBetweenTensors) {
  std::string message = errorOf(
      parseHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                  std::string(12, 'x')));
  EXPECT_CONTAINS(message, kBufferName);
  EXPECT_CONTAINS(message, "data region has a hole: bytes [4, 8) between "
                           "tensors 'a' and 'b'");
}

TEST(SafetensorsValidation, HoleBeforeFirstTensor) {
  expectHeaderError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    std::string(8, 'x'), "a",
                    "hole: bytes [0, 4) before tensor 'a'");
}

TEST(SafetensorsValidation, TrailingBytesAreAHole) {
  expectHeaderError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    std::string(5, 'x'), "",
                    "hole: bytes [4, 5) after the last tensor 'a'");
  expectHeaderError("{}", "junk", "", "hole: bytes [0, 4)");
  expectHeaderError(R"({"__metadata__":{}})", "junk", "", "hole");
}

TEST(SafetensorsValidation, MetadataNotObject) {
  expectHeaderError(R"({"__metadata__":["a"]})", "", "",
                    "'__metadata__' is not a JSON object");
}

TEST(SafetensorsValidation, MetadataValueNotString) {
  expectHeaderError(R"({"__metadata__":{"ok":"x","epochs":3}})", "", "",
                    "'__metadata__' value for key 'epochs' is not a string");
}

TEST(SafetensorsValidation, NoPartialResultAfterLaterError) {
  // The first tensor is fine; the error in the second must still fail the
  // whole file and name the second.
  std::string message = errorOf(
      parseHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"X","shape":[1],"data_offsets":[4,8]}})",
                  std::string(8, 'x')));
  EXPECT_CONTAINS(message, "tensor 'b': unknown dtype 'X'");
}

TEST(SafetensorsValidation, TruncatedPrefixesNeverCrash) {
  // Every prefix and every single-byte corruption of a valid file either
  // parses or fails cleanly; views of files that parse stay in bounds.
  std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F16","shape":[2],)"
      R"("data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],)"
      R"("data_offsets":[4,8]}})";
  std::string valid = assemble(header, std::string(8, '\x11'));
  ASSERT_TRUE(bool(parse(valid)));
  auto check = [](StringRef bytes) {
    Expected<SafetensorsFile> file = parse(bytes);
    if (!file) {
      llvm::consumeError(file.takeError());
      return;
    }
    for (const TensorView &t : file->getTensors()) {
      EXPECT_EQ(t.data.size(), t.getNumElements() * getDTypeSize(t.dtype));
      Error error = isFloatDType(t.dtype) ? readFloat32(t).takeError()
                                          : readInt64(t).takeError();
      EXPECT_FALSE(bool(error));
      llvm::consumeError(std::move(error));
    }
  };
  for (size_t n = 0; n < valid.size(); ++n) {
    Expected<SafetensorsFile> file = parse(StringRef(valid).take_front(n));
    EXPECT_FALSE(bool(file)) << n;
    if (!file)
      llvm::consumeError(file.takeError());
  }
  for (size_t i = 0; i < valid.size(); ++i)
    for (char c : {'\0', '9', '"', '{', ']', '-', '\xff'}) {
      std::string corrupt = valid;
      corrupt[i] = c;
      check(corrupt);
    }
}

//===----------------------------------------------------------------------===//
// Reading values
//===----------------------------------------------------------------------===//

TEST(SafetensorsRead, WrongKindOfDtype) {
  Expected<SafetensorsFile> file =
      parseHeader(R"({"f":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("i":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
                  std::string(8, '\0'));
  ASSERT_TRUE(bool(file));
  EXPECT_EQ(errorOf(readFloat32(*file->find("i"))),
            "tensor 'i' has dtype I32, not a floating-point dtype");
  EXPECT_EQ(errorOf(readInt64(*file->find("f"))),
            "tensor 'f' has dtype F32, not an integer dtype");
}

TEST(SafetensorsRead, InvalidBoolByte) {
  Expected<SafetensorsFile> file =
      parseHeader(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                  StringRef("\x01\x00\x02", 3));
  ASSERT_TRUE(bool(file));
  EXPECT_EQ(errorOf(readInt64(*file->find("m"))),
            "tensor 'm': BOOL element 2 has byte value 2, expected 0 or 1");
}

TEST(SafetensorsRead, HandBuiltViewWithWrongSize) {
  std::vector<char> bytes(6);
  TensorView view{"v", DType::F32, {2}, bytes, 0, 6};
  EXPECT_CONTAINS(errorOf(readFloat32(view)),
                  "tensor 'v': data has 6 bytes but shape [2] of dtype F32 "
                  "needs 8");
  view.dtype = DType::I16;
  EXPECT_CONTAINS(errorOf(readInt64(view)), "tensor 'v': data has 6 bytes");
}

TEST_F(Safetensors, OpenMissingFileNamesThePath) {
  std::string path = pathTo("absent.safetensors");
  std::string message = errorOf(SafetensorsFile::open(path));
  EXPECT_CONTAINS(message, "cannot open '" + path + "'");
}

TEST_F(Safetensors, OpenReportsThePathInFormatErrors) {
  std::string path = pathTo("bad.safetensors");
  Error error = writeFileAtomically(path, [](llvm::raw_ostream &os) {
    os << "abc";
    return Error::success();
  });
  ASSERT_FALSE(bool(error));
  std::string message = errorOf(SafetensorsFile::open(path));
  EXPECT_CONTAINS(message, path + ": ");
  EXPECT_CONTAINS(message, "too short");
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

TEST(SafetensorsWrite, ExactBytes) {
  SafetensorsWriter writer;
  // Added out of order; the file must not depend on it.
  ASSERT_FALSE(
      bool(writer.add("b", DType::F32, {}, toChars(f32Bytes({0x3F800000})))));
  ASSERT_FALSE(bool(writer.add("a", DType::I8, {2}, toChars("\x01\xff"))));
  writer.setMetadata("k", "v");

  std::string out;
  llvm::raw_string_ostream os(out);
  ASSERT_FALSE(bool(writer.write(os)));

  // 130 bytes of JSON padded with 6 spaces to 136 = 0x88.
  std::string expected =
      std::string("\x88\0\0\0\0\0\0\0", 8) +
      R"({"__metadata__":{"k":"v"},)"
      R"("a":{"data_offsets":[0,2],"dtype":"I8","shape":[2]},)"
      R"("b":{"data_offsets":[2,6],"dtype":"F32","shape":[]}})"
      "      " +
      std::string("\x01\xff\x00\x00\x80\x3f", 6);
  EXPECT_EQ(out, expected);
}

TEST(SafetensorsWrite, ExactBytesWithoutTensorsOrMetadata) {
  SafetensorsWriter writer;
  std::string out;
  llvm::raw_string_ostream os(out);
  ASSERT_FALSE(bool(writer.write(os)));
  EXPECT_EQ(out, std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
}

TEST(SafetensorsWrite, BytewiseNameOrderAndAlignment) {
  SafetensorsWriter writer;
  // Bytewise: "B" < "a" < "layer.10" < "layer.2".
  for (const char *name : {"layer.2", "a", "layer.10", "B"})
    ASSERT_FALSE(bool(writer.add(name, DType::U8, {1}, toChars(name).front())))
        << name;
  std::string out;
  llvm::raw_string_ostream os(out);
  ASSERT_FALSE(bool(writer.write(os)));

  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = headerSize << 8 | uint8_t(out[i]);
  EXPECT_EQ(headerSize % 8, 0u);
  ASSERT_EQ(out.size(), 8 + headerSize + 4);
  EXPECT_EQ(out.substr(8 + headerSize), "Ball");
  StringRef header = StringRef(out).substr(8, headerSize);
  EXPECT_TRUE(header.rtrim(' ').ends_with("}"));
  size_t b = header.find("\"B\""), a = header.find("\"a\""),
         l10 = header.find("\"layer.10\""), l2 = header.find("\"layer.2\"");
  EXPECT_LT(b, a);
  EXPECT_LT(a, l10);
  EXPECT_LT(l10, l2);
  EXPECT_NE(l2, StringRef::npos);
  EXPECT_CONTAINS(header.str(), R"("layer.10":{"data_offsets":[2,3])");
}

TEST(SafetensorsWrite, AddErrors) {
  SafetensorsWriter writer;
  std::vector<char> four(4);
  EXPECT_EQ(errorOf(writer.add("", DType::F32, {1}, four)),
            "tensor name is empty");
  EXPECT_CONTAINS(errorOf(writer.add("__metadata__", DType::F32, {1}, four)),
                  "reserved");
  EXPECT_CONTAINS(errorOf(writer.add("bad\xff", DType::F32, {1}, four)),
                  "not valid UTF-8");
  ASSERT_FALSE(bool(writer.add("w", DType::F32, {1}, four)));
  EXPECT_EQ(errorOf(writer.add("w", DType::F32, {1}, four)),
            "tensor 'w' is added twice");
  EXPECT_EQ(errorOf(writer.add("x", DType::F32, {2, 3}, four)),
            "tensor 'x': data has 4 bytes but shape [2, 3] of dtype F32 "
            "needs 24");
  EXPECT_EQ(errorOf(writer.add("x", DType::F32, {2, -2}, four)),
            "tensor 'x': shape dimension 1 is negative (-2)");
  EXPECT_CONTAINS(errorOf(writer.add("x", DType::F32,
                                     {int64_t(1) << 40, int64_t(1) << 40}, {})),
                  "too many elements");
  // Failed adds leave nothing behind.
  std::string out;
  llvm::raw_string_ostream os(out);
  ASSERT_FALSE(bool(writer.write(os)));
  Expected<SafetensorsFile> file = parse(out);
  ASSERT_TRUE(bool(file));
  EXPECT_EQ(file->getTensors().size(), 1u);
}

TEST(SafetensorsWrite, InvalidMetadataWritesNothing) {
  SafetensorsWriter writer;
  writer.setMetadata("key", "bad\xff");
  std::string out;
  llvm::raw_string_ostream os(out);
  EXPECT_EQ(errorOf(writer.write(os)),
            "metadata value for key 'key' is not valid UTF-8");
  EXPECT_TRUE(out.empty());
}

TEST_F(Safetensors, RoundTripEveryDtype) {
  struct Case {
    const char *name;
    DType dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::string f64, f32, f16, bf16, i64, i32, i16;
  appendLE(f64, 0xC00921FB54442D18ull, 8); // -pi
  appendLE(f64, 0x7FF0000000000000ull, 8); // inf
  f32 = f32Bytes(
      {0x3F800000, 0xBF000000, 0x00000001, 0x7F7FFFFF, 0x80000000, 0x42280000});
  for (uint16_t bits : {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x7C00})
    appendLE(f16, bits, 2);
  for (uint16_t bits : {0x3F80, 0xC000, 0x0001})
    appendLE(bf16, bits, 2);
  appendLE(i64, 0x8000000000000000ull, 8);
  appendLE(i64, 42, 8);
  for (uint32_t v : {0xFFFFFFFFu, 7u})
    appendLE(i32, v, 4);
  appendLE(i16, 0xFFFE, 2);
  std::vector<Case> cases = {
      {"f64", DType::F64, {2}, f64},
      {"f32", DType::F32, {2, 3}, f32},
      {"f16", DType::F16, {3, 2}, f16},
      {"bf16", DType::BF16, {3}, bf16},
      {"i64", DType::I64, {2, 1}, i64},
      {"i32", DType::I32, {2}, i32},
      {"i16", DType::I16, {}, i16},
      {"i8", DType::I8, {1, 1, 2}, std::string("\x80\x7f", 2)},
      {"u8", DType::U8, {3}, std::string("\x00\xff\x10", 3)},
      {"bool", DType::Bool, {2}, std::string("\x01\x00", 2)},
      {"empty", DType::F32, {0, 4}, ""},
      {"empty2", DType::I64, {4, 0, 2}, ""},
      {"scalar", DType::F64, {}, f64.substr(0, 8)},
  };
  SafetensorsWriter writer;
  for (const Case &c : cases)
    ASSERT_FALSE(bool(writer.add(c.name, c.dtype, c.shape, toChars(c.bytes))))
        << c.name;
  writer.setMetadata("format", "pt");
  writer.setMetadata("quant", "{\"bits\": 4}\n\t\"quoted\" \\ é");
  writer.setMetadata("format", "np"); // Replaces.

  std::string path = pathTo("model.safetensors");
  ASSERT_FALSE(bool(writer.writeFile(path)));
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->getPath(), path);
  EXPECT_EQ(file->getTensors().size(), cases.size());
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    const TensorView *t = file->find(c.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, c.dtype);
    EXPECT_EQ(std::vector<int64_t>(t->shape.begin(), t->shape.end()), c.shape);
    EXPECT_EQ(StringRef(t->data.data(), t->data.size()), c.bytes);
  }
  std::map<std::string, std::string> metadata = {
      {"format", "np"}, {"quant", "{\"bits\": 4}\n\t\"quoted\" \\ é"}};
  EXPECT_EQ(file->getMetadata(), metadata);

  auto floats = [&](StringRef name) {
    Expected<std::vector<float>> v = readFloat32(*file->find(name));
    EXPECT_TRUE(bool(v));
    return v ? *v : std::vector<float>();
  };
  auto ints = [&](StringRef name) {
    Expected<std::vector<int64_t>> v = readInt64(*file->find(name));
    EXPECT_TRUE(bool(v));
    return v ? *v : std::vector<int64_t>();
  };
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(floats("f64"), (std::vector<float>{-3.14159265f, inf}));
  EXPECT_EQ(
      floats("f32"),
      (std::vector<float>{1.0f, -0.5f, std::ldexp(1.0f, -149),
                          std::numeric_limits<float>::max(), -0.0f, 42.0f}));
  EXPECT_EQ(floats("f16"),
            (std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24),
                                -std::ldexp(1.0f, -14), inf}));
  EXPECT_EQ(floats("bf16"),
            (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -133)}));
  EXPECT_EQ(ints("i64"),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 42}));
  EXPECT_EQ(ints("i32"), (std::vector<int64_t>{-1, 7}));
  EXPECT_EQ(ints("i16"), (std::vector<int64_t>{-2}));
  EXPECT_EQ(ints("i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(ints("u8"), (std::vector<int64_t>{0, 255, 16}));
  EXPECT_EQ(ints("bool"), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(floats("empty").empty());
  EXPECT_TRUE(ints("empty2").empty());
  EXPECT_EQ(floats("scalar"), (std::vector<float>{-3.14159265f}));

  // Writing the same content again gives the same bytes.
  std::string first = readWholeFile(path);
  std::string again;
  llvm::raw_string_ostream os(again);
  ASSERT_FALSE(bool(writer.write(os)));
  EXPECT_EQ(first, again);
}

TEST(SafetensorsDType, NamesAndSizes) {
  struct Row {
    DType dtype;
    const char *name;
    size_t size;
  };
  for (Row row : {Row{DType::F64, "F64", 8}, Row{DType::F32, "F32", 4},
                  Row{DType::F16, "F16", 2}, Row{DType::BF16, "BF16", 2},
                  Row{DType::I64, "I64", 8}, Row{DType::I32, "I32", 4},
                  Row{DType::I16, "I16", 2}, Row{DType::I8, "I8", 1},
                  Row{DType::U8, "U8", 1}, Row{DType::Bool, "BOOL", 1}}) {
    EXPECT_EQ(getDTypeName(row.dtype), row.name);
    EXPECT_EQ(getDTypeSize(row.dtype), row.size);
    EXPECT_EQ(parseDType(row.name), row.dtype);
  }
  EXPECT_EQ(parseDType("bool"), std::nullopt);
  EXPECT_EQ(parseDType("U64"), std::nullopt);
  EXPECT_EQ(parseDType(""), std::nullopt);
}

//===----------------------------------------------------------------------===//
// Half and bfloat16
//===----------------------------------------------------------------------===//

float bitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST(HalfFloat, KnownBitPatterns) {
  const float inf = std::numeric_limits<float>::infinity();
  struct Row {
    uint16_t bits;
    float value;
  };
  for (Row row :
       {Row{0x3C00, 1.0f}, Row{0xC000, -2.0f}, Row{0x7BFF, 65504.0f},
        Row{0x0001, std::ldexp(1.0f, -24)},
        Row{0x03FF, 1023 * std::ldexp(1.0f, -24)},
        Row{0x0400, std::ldexp(1.0f, -14)}, Row{0x3555, 0.333251953125f},
        Row{0x7C00, inf}, Row{0xFC00, -inf}, Row{0x0000, 0.0f}}) {
    SCOPED_TRACE(row.bits);
    EXPECT_EQ(halfBitsToFloat(row.bits), row.value);
    EXPECT_EQ(floatToHalfBits(row.value), row.bits);
  }
  EXPECT_TRUE(std::signbit(halfBitsToFloat(0x8000)));
  EXPECT_EQ(floatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(halfBitsToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isnan(halfBitsToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(halfBitsToFloat(0xFC01)));
}

TEST(HalfFloat, RoundToNearestEven) {
  const float ulpAt1 = std::ldexp(1.0f, -10);
  // Ties go to the even mantissa.
  EXPECT_EQ(floatToHalfBits(1.0f + ulpAt1 / 2), 0x3C00);
  EXPECT_EQ(floatToHalfBits(1.0f + 3 * ulpAt1 / 2), 0x3C02);
  // Just above a tie rounds up, just below rounds down.
  EXPECT_EQ(floatToHalfBits(1.0f + ulpAt1 / 2 + std::ldexp(1.0f, -20)), 0x3C01);
  EXPECT_EQ(floatToHalfBits(1.0f + 3 * ulpAt1 / 2 - std::ldexp(1.0f, -20)),
            0x3C01);
  // A carry out of the mantissa bumps the exponent: 2 - 2^-12 -> 2.0.
  EXPECT_EQ(floatToHalfBits(2.0f - std::ldexp(1.0f, -12)), 0x4000);
  // Overflow: 65519 rounds down, 65520 is a tie that goes to infinity.
  EXPECT_EQ(floatToHalfBits(65519.0f), 0x7BFF);
  EXPECT_EQ(floatToHalfBits(65520.0f), 0x7C00);
  EXPECT_EQ(floatToHalfBits(-1e6f), 0xFC00);
  EXPECT_EQ(floatToHalfBits(std::numeric_limits<float>::max()), 0x7C00);
  // Subnormals: multiples of 2^-24, ties to even.
  const float tiny = std::ldexp(1.0f, -24);
  EXPECT_EQ(floatToHalfBits(tiny / 2), 0x0000);
  EXPECT_EQ(floatToHalfBits(-tiny / 2), 0x8000);
  EXPECT_EQ(floatToHalfBits(std::nextafter(tiny / 2, 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalfBits(1.5f * tiny), 0x0002);
  EXPECT_EQ(floatToHalfBits(2.5f * tiny), 0x0002);
  EXPECT_EQ(floatToHalfBits(2.75f * tiny), 0x0003);
  EXPECT_EQ(floatToHalfBits(0.75f * tiny), 0x0001);
  // Rounding up out of the subnormal range gives the smallest normal.
  EXPECT_EQ(floatToHalfBits(1023.5f * tiny), 0x0400);
  EXPECT_EQ(floatToHalfBits(1022.5f * tiny), 0x03FE);
  // Float subnormals are far below half's range.
  EXPECT_EQ(floatToHalfBits(bitsToFloat(0x00000001)), 0x0000);
  EXPECT_EQ(floatToHalfBits(bitsToFloat(0x807FFFFF)), 0x8000);
}

TEST(HalfFloat, NanStaysNan) {
  for (uint32_t bits : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu}) {
    uint16_t half = floatToHalfBits(bitsToFloat(bits));
    EXPECT_EQ(half & 0x7C00, 0x7C00) << bits;
    EXPECT_NE(half & 0x03FF, 0) << bits;
    EXPECT_EQ(uint32_t(half >> 15), bits >> 31) << bits;
  }
}

TEST(HalfFloat, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    float value = halfBitsToFloat(uint16_t(bits));
    if (std::isnan(value)) {
      EXPECT_EQ(bits & 0x7C00, 0x7C00u);
      EXPECT_TRUE(std::isnan(halfBitsToFloat(floatToHalfBits(value))));
      continue;
    }
    ASSERT_EQ(uint32_t(floatToHalfBits(value)), bits) << bits;
  }
}

TEST(BFloat16, KnownBitPatternsAndRounding) {
  EXPECT_EQ(floatToBFloat16Bits(1.0f), 0x3F80);
  EXPECT_EQ(floatToBFloat16Bits(-2.0f), 0xC000);
  EXPECT_EQ(bfloat16BitsToFloat(0x3F80), 1.0f);
  EXPECT_EQ(bfloat16BitsToFloat(0xC000), -2.0f);
  EXPECT_EQ(bfloat16BitsToFloat(0x7F80),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(bfloat16BitsToFloat(0x0001), std::ldexp(1.0f, -133));
  const float ulpAt1 = std::ldexp(1.0f, -7);
  EXPECT_EQ(floatToBFloat16Bits(1.0f + ulpAt1 / 2), 0x3F80);
  EXPECT_EQ(floatToBFloat16Bits(1.0f + 3 * ulpAt1 / 2), 0x3F82);
  EXPECT_EQ(floatToBFloat16Bits(1.0f + ulpAt1 / 2 + std::ldexp(1.0f, -20)),
            0x3F81);
  EXPECT_EQ(floatToBFloat16Bits(bitsToFloat(0x3F80FFFF)), 0x3F81);
  EXPECT_EQ(floatToBFloat16Bits(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(floatToBFloat16Bits(-std::numeric_limits<float>::infinity()),
            0xFF80);
  // Subnormals keep their top bits; the smallest rounds to zero.
  EXPECT_EQ(floatToBFloat16Bits(bitsToFloat(0x00000001)), 0x0000);
  EXPECT_EQ(floatToBFloat16Bits(bitsToFloat(0x00018000)), 0x0002);
  // A nan whose payload is all in the dropped bits must not become inf.
  uint16_t nan = floatToBFloat16Bits(bitsToFloat(0x7F800001));
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x007F, 0);
  EXPECT_EQ(floatToBFloat16Bits(bitsToFloat(0xFFC00000)), 0xFFC0);
}

TEST(BFloat16, EveryBFloat16RoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    float value = bfloat16BitsToFloat(uint16_t(bits));
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(floatToBFloat16Bits(value))));
      continue;
    }
    ASSERT_EQ(uint32_t(floatToBFloat16Bits(value)), bits) << bits;
  }
}

//===----------------------------------------------------------------------===//
// writeFileAtomically
//===----------------------------------------------------------------------===//

TEST_F(AtomicFile, SuccessCreatesAndReplaces) {
  std::string path = pathTo("out.bin");
  auto writeText = [&](StringRef text) {
    return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
      os << text;
      return Error::success();
    });
  };
  ASSERT_FALSE(bool(writeText("first version")));
  EXPECT_EQ(readWholeFile(path), "first version");
  ASSERT_FALSE(bool(writeText("v2")));
  EXPECT_EQ(readWholeFile(path), "v2");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"out.bin"}));
}

TEST_F(AtomicFile, FailingCallbackLeavesFileAndNoTemporary) {
  std::string path = pathTo("out.bin");
  ASSERT_FALSE(bool(writeFileAtomically(path, [](llvm::raw_ostream &os) {
    os << "original";
    return Error::success();
  })));
  // Write a lot first, so that some of it has reached the temporary file.
  Error error = writeFileAtomically(path, [](llvm::raw_ostream &os) {
    os << std::string(1 << 20, 'x');
    os.flush();
    return llvm::createStringError(llvm::errc::no_space_on_device, "disk full");
  });
  ASSERT_TRUE(bool(error));
  std::error_code code;
  std::string message;
  llvm::handleAllErrors(std::move(error), [&](const llvm::ErrorInfoBase &e) {
    code = e.convertToErrorCode();
    message = e.message();
  });
  EXPECT_EQ(code, llvm::errc::no_space_on_device);
  EXPECT_CONTAINS(message, path);
  EXPECT_CONTAINS(message, "disk full");
  EXPECT_EQ(readWholeFile(path), "original");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"out.bin"}));
}

TEST_F(AtomicFile, FailingCallbackCreatesNothing) {
  std::string path = pathTo("new.bin");
  Error error = writeFileAtomically(path, [](llvm::raw_ostream &os) {
    os << "partial";
    return llvm::createStringError(llvm::errc::invalid_argument, "no");
  });
  EXPECT_CONTAINS(errorOf(std::move(error)), path);
  EXPECT_TRUE(listDir().empty());
}

TEST_F(AtomicFile, MissingDirectoryNamesThePath) {
  std::string path = pathTo("no/such/dir/out.bin");
  bool called = false;
  std::string message =
      errorOf(writeFileAtomically(path, [&](llvm::raw_ostream &) {
        called = true;
        return Error::success();
      }));
  EXPECT_CONTAINS(message, path);
  EXPECT_FALSE(called);
  EXPECT_TRUE(listDir().empty());
}

TEST_F(AtomicFile, TargetIsADirectory) {
  std::string path = pathTo("sub");
  ASSERT_FALSE(llvm::sys::fs::create_directory(path));
  std::string message =
      errorOf(writeFileAtomically(path, [](llvm::raw_ostream &os) {
        os << "data";
        return Error::success();
      }));
  EXPECT_CONTAINS(message, path);
  EXPECT_EQ(listDir(), (std::vector<std::string>{"sub"}));
}

#ifdef __linux__
TEST_F(AtomicFile, StreamErrorDiscardsTheTemporary) {
  // A write error inside the stream (not reported by the callback) must
  // also abort the replacement. Provoke one by replacing the temporary's
  // descriptor, found through /proc, with a read-only one of the same file.
  std::string path = pathTo("out.bin");
  ASSERT_FALSE(bool(writeFileAtomically(path, [](llvm::raw_ostream &os) {
    os << "original";
    return Error::success();
  })));
  bool redirected = false;
  Error error = writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    llvm::SmallString<256> tempPath;
    for (const std::string &name : listDir())
      if (StringRef(name).starts_with("out.bin.tmp"))
        llvm::sys::fs::real_path(pathTo(name), tempPath);
    for (int fd = 0; fd < 1024 && !tempPath.empty() && !redirected; ++fd) {
      llvm::SmallString<256> target;
      if (llvm::sys::fs::real_path("/proc/self/fd/" + llvm::Twine(fd),
                                   target) ||
          target != tempPath)
        continue;
      int readOnly = ::open(tempPath.c_str(), O_RDONLY);
      if (readOnly < 0)
        break;
      redirected = ::dup2(readOnly, fd) == fd;
      ::close(readOnly);
    }
    os << std::string(1 << 16, 'x');
    return Error::success();
  });
  if (!redirected) {
    llvm::consumeError(std::move(error));
    GTEST_SKIP() << "cannot find the temporary's descriptor";
  }
  std::string message = errorOf(std::move(error));
  EXPECT_CONTAINS(message, path);
  EXPECT_EQ(readWholeFile(path), "original");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"out.bin"}));
}
#endif

TEST_F(Safetensors, WriterFailureLeavesExistingFile) {
  std::string path = pathTo("model.safetensors");
  SafetensorsWriter good;
  ASSERT_FALSE(bool(good.add("w", DType::U8, {1}, toChars("\x05"))));
  ASSERT_FALSE(bool(good.writeFile(path)));
  std::string before = readWholeFile(path);

  SafetensorsWriter bad;
  ASSERT_FALSE(bool(bad.add("w", DType::U8, {1}, toChars("\x06"))));
  bad.setMetadata("\xfe", "v");
  std::string message = errorOf(bad.writeFile(path));
  EXPECT_CONTAINS(message, path);
  EXPECT_CONTAINS(message, "metadata key");
  EXPECT_EQ(readWholeFile(path), before);
  EXPECT_EQ(listDir(), (std::vector<std::string>{"model.safetensors"}));
}

} // namespace
