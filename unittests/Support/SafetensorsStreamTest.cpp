//===- SafetensorsStreamTest.cpp - Tests of the streaming writer ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The streaming writer is checked against SafetensorsWriter, which
// SafetensorsTest.cpp checks against hand-assembled bytes: the two must
// produce the same file for the same tensors, however the data is cut into
// pieces. Then every way of misusing it must leave no file behind. The
// double-to-half/bfloat16 conversions are checked against a reference that
// rounds the double's own bits once.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/Safetensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <random>

using namespace qwha;
using llvm::Error;
using llvm::StringRef;

namespace {

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

std::string errorOf(Error error) {
  if (!error) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(std::move(error));
}

std::string readWholeFile(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    ADD_FAILURE() << "cannot read " << path.str();
    return "";
  }
  return (*buffer)->getBuffer().str();
}

class SafetensorsStream : public ::testing::Test {
protected:
  void SetUp() override {
    std::string base = ::testing::TempDir();
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory(base + "qwha-sw", dir));
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
    llvm::sort(names);
    return names;
  }

  llvm::SmallString<256> dir;
};

struct TestTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<char> data;
};

/// Tensors of every size class: empty, scalar, odd byte counts, and names
/// whose bytewise order differs from the order they are declared in.
std::vector<TestTensor> makeTensors() {
  std::mt19937 rng(7);
  auto bytes = [&](size_t count) {
    std::vector<char> data(count);
    for (char &c : data)
      c = char(rng());
    return data;
  };
  return {
      {"layer.2.weight", DType::BF16, {3, 5}, bytes(30)},
      {"layer.10.weight", DType::F32, {4, 4}, bytes(64)},
      {"B", DType::I64, {2}, bytes(16)},
      {"empty", DType::F16, {0, 7}, {}},
      {"scalar", DType::F64, {}, bytes(8)},
      {"mask", DType::U8, {3}, bytes(3)},
      {"a.bias", DType::F16, {5}, bytes(10)},
  };
}

/// Writes `tensors` with the streaming writer, each cut into pieces of at
/// most `piece` bytes (all at once when 0).
Error streamTensors(StringRef path, const std::vector<TestTensor> &tensors,
                    const std::map<std::string, std::string> &metadata,
                    size_t piece) {
  SafetensorsStreamWriter writer;
  for (const TestTensor &t : tensors)
    if (Error error = writer.declare(t.name, t.dtype, t.shape))
      return error;
  for (const auto &[key, value] : metadata)
    writer.setMetadata(key, value);
  if (Error error = writer.begin(path))
    return error;
  for (const SafetensorsStreamWriter::Tensor &info : writer.getTensors()) {
    const TestTensor &t = *llvm::find_if(
        tensors, [&](const TestTensor &t) { return t.name == info.name; });
    llvm::ArrayRef<char> data = t.data;
    if (piece == 0 || data.empty()) {
      if (Error error = writer.write(info.name, data))
        return error;
      continue;
    }
    for (size_t begin = 0; begin < data.size(); begin += piece)
      if (Error error = writer.write(
              info.name,
              data.slice(begin, std::min(piece, data.size() - begin))))
        return error;
  }
  return writer.finish();
}

std::string bufferedBytes(const std::vector<TestTensor> &tensors,
                          const std::map<std::string, std::string> &metadata) {
  SafetensorsWriter writer;
  for (const TestTensor &t : tensors)
    EXPECT_FALSE(bool(writer.add(t.name, t.dtype, t.shape, t.data)));
  for (const auto &[key, value] : metadata)
    writer.setMetadata(key, value);
  std::string out;
  llvm::raw_string_ostream os(out);
  EXPECT_FALSE(bool(writer.write(os)));
  return out;
}

//===----------------------------------------------------------------------===//
// Same bytes as SafetensorsWriter
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsStream, ByteIdenticalToSafetensorsWriter) {
  std::vector<TestTensor> tensors = makeTensors();
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"qwha.note", "{\"mode\": \"uniform\"} é"}};
  std::string expected = bufferedBytes(tensors, metadata);
  for (size_t piece : {0, 1, 3, 8, 1000}) {
    SCOPED_TRACE("piece " + std::to_string(piece));
    std::string path = pathTo("stream.safetensors");
    ASSERT_FALSE(bool(streamTensors(path, tensors, metadata, piece)));
    EXPECT_EQ(readWholeFile(path), expected);
    EXPECT_EQ(listDir(), (std::vector<std::string>{"stream.safetensors"}));
  }
  // Without metadata there is no "__metadata__" key, in both writers.
  std::string path = pathTo("plain.safetensors");
  ASSERT_FALSE(bool(streamTensors(path, tensors, {}, 4)));
  std::string plain = readWholeFile(path);
  EXPECT_EQ(plain, bufferedBytes(tensors, {}));
  EXPECT_EQ(plain.find("__metadata__"), std::string::npos);
  // And the reader accepts it.
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(file->getTensors().size(), tensors.size());
}

TEST_F(SafetensorsStream, EmptyFile) {
  std::string path = pathTo("none.safetensors");
  ASSERT_FALSE(bool(streamTensors(path, {}, {}, 0)));
  EXPECT_EQ(readWholeFile(path), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
}

TEST_F(SafetensorsStream, ReplacesAnExistingFile) {
  std::string path = pathTo("model.safetensors");
  ASSERT_FALSE(bool(streamTensors(path, makeTensors(), {}, 0)));
  std::vector<TestTensor> other = {{"w", DType::U8, {2}, {'x', 'y'}}};
  ASSERT_FALSE(bool(streamTensors(path, other, {}, 1)));
  EXPECT_EQ(readWholeFile(path), bufferedBytes(other, {}));
  EXPECT_EQ(listDir(), (std::vector<std::string>{"model.safetensors"}));
}

TEST_F(SafetensorsStream, MovedWriterKeepsWriting) {
  std::string path = pathTo("moved.safetensors");
  SafetensorsStreamWriter first;
  ASSERT_FALSE(bool(first.declare("w", DType::U8, {2})));
  ASSERT_FALSE(bool(first.begin(path)));
  ASSERT_FALSE(bool(first.write("w", std::vector<char>{'a'})));
  SafetensorsStreamWriter second(std::move(first));
  SafetensorsStreamWriter third;
  third = std::move(second);
  ASSERT_FALSE(bool(third.write("w", std::vector<char>{'b'})));
  ASSERT_FALSE(bool(third.finish()));
  EXPECT_EQ(readWholeFile(path),
            bufferedBytes({{"w", DType::U8, {2}, {'a', 'b'}}}, {}));
}

//===----------------------------------------------------------------------===//
// Misuse leaves no file
//===----------------------------------------------------------------------===//

/// A writer for tensors a (4 bytes), b (0 bytes) and c (2 bytes), started.
std::unique_ptr<SafetensorsStreamWriter> startABC(StringRef path) {
  auto writer = std::make_unique<SafetensorsStreamWriter>();
  EXPECT_FALSE(bool(writer->declare("c", DType::I8, {2})));
  EXPECT_FALSE(bool(writer->declare("b", DType::F32, {0})));
  EXPECT_FALSE(bool(writer->declare("a", DType::F32, {1})));
  EXPECT_FALSE(bool(writer->begin(path)));
  return writer;
}

TEST_F(SafetensorsStream, MissingBytesAreAnErrorAtFinish) {
  std::string path = pathTo("out.safetensors");
  auto writer = startABC(path);
  ASSERT_FALSE(bool(writer->write("a", std::vector<char>(4))));
  ASSERT_FALSE(bool(writer->write("c", std::vector<char>(1))));
  std::string message = errorOf(writer->finish());
  EXPECT_CONTAINS(message, "cannot write '" + path + "'");
  EXPECT_CONTAINS(message,
                  "tensor 'c' got 1 of the 2 bytes its header entry announced");
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsStream, UnwrittenTensorIsAnErrorAtFinish) {
  std::string path = pathTo("out.safetensors");
  auto writer = startABC(path);
  std::string message = errorOf(writer->finish());
  EXPECT_CONTAINS(message,
                  "tensor 'a' got 0 of the 4 bytes its header entry announced");
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsStream, TooManyBytes) {
  std::string path = pathTo("out.safetensors");
  auto writer = startABC(path);
  ASSERT_FALSE(bool(writer->write("a", std::vector<char>(3))));
  std::string message = errorOf(writer->write("a", std::vector<char>(2)));
  EXPECT_CONTAINS(message, "cannot write '" + path + "'");
  EXPECT_CONTAINS(message,
                  "tensor 'a' gets 5 bytes, its header entry announced 4");
  // The writer has given up: nothing more is accepted, nothing is left.
  EXPECT_TRUE(listDir().empty());
  EXPECT_CONTAINS(errorOf(writer->write("c", std::vector<char>(2))),
                  "not started or has failed");
  EXPECT_CONTAINS(errorOf(writer->finish()), "not started or has failed");
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsStream, OutOfOrder) {
  std::string path = pathTo("out.safetensors");
  auto writer = startABC(path);
  ASSERT_FALSE(bool(writer->write("a", std::vector<char>(2))));
  EXPECT_CONTAINS(errorOf(writer->write("c", std::vector<char>(2))),
                  "tensor 'c' is written before tensor 'a' is complete (2 of "
                  "4 bytes)");
  EXPECT_TRUE(listDir().empty());

  writer = startABC(path);
  ASSERT_FALSE(bool(writer->write("a", std::vector<char>(4))));
  ASSERT_FALSE(bool(writer->write("c", std::vector<char>(2))));
  EXPECT_CONTAINS(errorOf(writer->write("a", {})),
                  "tensor 'a' is written after its data ended");
  EXPECT_TRUE(listDir().empty());

  writer = startABC(path);
  EXPECT_CONTAINS(errorOf(writer->write("d", {})),
                  "tensor 'd' was not declared");
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsStream, ZeroSizeTensorsMayBeSkippedOrWritten) {
  std::string path = pathTo("out.safetensors");
  auto writer = startABC(path);
  ASSERT_FALSE(bool(writer->write("a", std::vector<char>(4))));
  ASSERT_FALSE(bool(writer->write("b", {})));
  ASSERT_FALSE(bool(writer->write("c", std::vector<char>(2))));
  ASSERT_FALSE(bool(writer->finish()));
  writer = startABC(path);
  ASSERT_FALSE(bool(writer->write("a", std::vector<char>(4))));
  ASSERT_FALSE(bool(writer->write("c", std::vector<char>(2))));
  ASSERT_FALSE(bool(writer->finish()));
  EXPECT_EQ(listDir(), (std::vector<std::string>{"out.safetensors"}));
}

TEST_F(SafetensorsStream, DestroyedBeforeFinishLeavesTheOldFile) {
  std::string path = pathTo("out.safetensors");
  ASSERT_FALSE(
      bool(streamTensors(path, {{"w", DType::U8, {1}, {'x'}}}, {}, 0)));
  std::string before = readWholeFile(path);
  {
    auto writer = startABC(path);
    ASSERT_FALSE(bool(writer->write("a", std::vector<char>(4))));
    EXPECT_EQ(listDir().size(), 2u); // The temporary is there meanwhile.
  }
  EXPECT_EQ(readWholeFile(path), before);
  EXPECT_EQ(listDir(), (std::vector<std::string>{"out.safetensors"}));
}

TEST_F(SafetensorsStream, DeclarationErrorsMatchSafetensorsWriter) {
  SafetensorsStreamWriter writer;
  EXPECT_EQ(errorOf(writer.declare("", DType::F32, {1})),
            "tensor name is empty");
  EXPECT_CONTAINS(errorOf(writer.declare("__metadata__", DType::F32, {1})),
                  "reserved");
  EXPECT_CONTAINS(errorOf(writer.declare("bad\xff", DType::F32, {1})),
                  "not valid UTF-8");
  ASSERT_FALSE(bool(writer.declare("w", DType::F32, {1})));
  EXPECT_EQ(errorOf(writer.declare("w", DType::F32, {1})),
            "tensor 'w' is added twice");
  EXPECT_EQ(errorOf(writer.declare("x", DType::F32, {2, -2})),
            "tensor 'x': shape dimension 1 is negative (-2)");
  EXPECT_CONTAINS(errorOf(writer.declare("x", DType::F32,
                                         {int64_t(1) << 40, int64_t(1) << 40})),
                  "too many elements");
  ASSERT_FALSE(bool(writer.begin(pathTo("out.safetensors"))));
  EXPECT_CONTAINS(errorOf(writer.declare("late", DType::F32, {1})),
                  "declared after the header was written");
  writer.discard();
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsStream, BadMetadataOrDirectoryNamesThePath) {
  std::string path = pathTo("out.safetensors");
  SafetensorsStreamWriter writer;
  writer.setMetadata("key", "bad\xff");
  std::string message = errorOf(writer.begin(path));
  EXPECT_CONTAINS(message, "cannot write '" + path + "'");
  EXPECT_CONTAINS(message, "metadata value for key 'key' is not valid UTF-8");

  std::string missing = pathTo("no/such/dir/out.safetensors");
  SafetensorsStreamWriter other;
  EXPECT_CONTAINS(errorOf(other.begin(missing)),
                  "cannot write '" + missing + "'");
  EXPECT_TRUE(listDir().empty());
}

//===----------------------------------------------------------------------===//
// Dropping resident pages
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsStream, DroppedPagesReadBackTheSameBytes) {
  // Big enough to be mapped rather than read (MemoryBuffer maps files of
  // 16 KiB and more), with tensors that do not start on page boundaries.
  std::vector<TestTensor> tensors;
  std::mt19937 rng(3);
  for (int i = 0; i < 4; ++i) {
    TestTensor t{"t" + std::to_string(i), DType::U8, {12345 + i}, {}};
    t.data.resize(12345 + i);
    for (char &c : t.data)
      c = char(rng());
    tensors.push_back(std::move(t));
  }
  std::string path = pathTo("big.safetensors");
  ASSERT_FALSE(bool(streamTensors(path, tensors, {}, 4096)));
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  for (const TestTensor &t : tensors) {
    const TensorView *view = file->find(t.name);
    ASSERT_NE(view, nullptr);
    EXPECT_TRUE(llvm::equal(view->data, t.data));
    file->dropResidentPages(view->data);
    file->dropResidentPages(view->data.slice(100, 5000));
    file->dropResidentPages({});
    EXPECT_TRUE(llvm::equal(view->data, t.data));
  }
}

//===----------------------------------------------------------------------===//
// Double to half and bfloat16: one rounding
//===----------------------------------------------------------------------===//

/// `value` rounded to nearest even with `bits` significand bits (the
/// leading one included), on the double's own bits: one rounding, no float
/// in between. Only for normal results, which is all the tests use.
double roundSignificand(double value, int bits) {
  uint64_t raw = llvm::bit_cast<uint64_t>(value);
  int drop = 53 - bits;
  uint64_t half = uint64_t(1) << (drop - 1);
  uint64_t lsb = (raw >> drop) & 1;
  raw = (raw + half - 1 + lsb) >> drop << drop;
  return llvm::bit_cast<double>(raw);
}

TEST(DoubleToNarrow, RoundToOdd) {
  EXPECT_EQ(roundToOddFloat(1.0), 1.0f);
  EXPECT_EQ(roundToOddFloat(-0.0), -0.0f);
  EXPECT_TRUE(std::signbit(roundToOddFloat(-0.0)));
  // Just above one: truncated, then marked inexact by the last bit.
  EXPECT_EQ(llvm::bit_cast<uint32_t>(roundToOddFloat(1.0 + std::ldexp(1, -40))),
            0x3F800001u);
  EXPECT_EQ(llvm::bit_cast<uint32_t>(roundToOddFloat(1.0 - std::ldexp(1, -40))),
            0x3F7FFFFFu);
  EXPECT_EQ(
      llvm::bit_cast<uint32_t>(roundToOddFloat(-1.0 - std::ldexp(1, -40))),
      0xBF800001u);
  // Beyond float: the largest float (odd), never infinity; tiny: the
  // smallest subnormal, never zero.
  EXPECT_EQ(roundToOddFloat(1e300), std::numeric_limits<float>::max());
  EXPECT_EQ(roundToOddFloat(-1e300), -std::numeric_limits<float>::max());
  EXPECT_EQ(roundToOddFloat(1e-300), std::ldexp(1.0f, -149));
  EXPECT_EQ(roundToOddFloat(std::numeric_limits<double>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(roundToOddFloat(std::nan(""))));
}

TEST(DoubleToNarrow, DoubleRoundingCases) {
  // 1 + 2^-8 is the midpoint between bfloat16 1 and 1 + 2^-7. A double
  // slightly above it rounds to the midpoint as a float, and float-to-bf16
  // would then tie to even (down): wrong by one unit.
  double above = 1.0 + std::ldexp(1, -8) + std::ldexp(1, -30);
  ASSERT_EQ(float(above), 1.0f + std::ldexp(1.0f, -8));
  EXPECT_EQ(floatToBFloat16Bits(float(above)), 0x3F80); // the double rounding
  EXPECT_EQ(doubleToBFloat16Bits(above), 0x3F81);
  double below = 1.0 + std::ldexp(1, -8) - std::ldexp(1, -30);
  EXPECT_EQ(doubleToBFloat16Bits(below), 0x3F80);
  // Exact midpoints still tie to even.
  EXPECT_EQ(doubleToBFloat16Bits(1.0 + std::ldexp(1, -8)), 0x3F80);
  EXPECT_EQ(doubleToBFloat16Bits(1.0 + 3 * std::ldexp(1, -8)), 0x3F82);
  // The same for half: 1 + 2^-11 is the midpoint after 1.
  double halfAbove = 1.0 + std::ldexp(1, -11) + std::ldexp(1, -35);
  ASSERT_EQ(floatToHalfBits(float(halfAbove)), 0x3C00);
  EXPECT_EQ(doubleToHalfBits(halfAbove), 0x3C01);
  EXPECT_EQ(doubleToHalfBits(1.0 + std::ldexp(1, -11)), 0x3C00);
  // Overflow, underflow and specials.
  EXPECT_EQ(doubleToHalfBits(65520.0), 0x7C00);
  EXPECT_EQ(doubleToHalfBits(65519.99), 0x7BFF);
  EXPECT_EQ(doubleToHalfBits(-1e300), 0xFC00);
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1, -25)), 0x0000);
  EXPECT_EQ(doubleToHalfBits(std::ldexp(1, -25) + std::ldexp(1, -60)), 0x0001);
  EXPECT_EQ(doubleToBFloat16Bits(1e300), 0x7F80);
  EXPECT_EQ(doubleToBFloat16Bits(-std::numeric_limits<double>::infinity()),
            0xFF80);
  EXPECT_EQ(doubleToBFloat16Bits(std::nan("")) & 0x7FC0, 0x7FC0);
}

TEST(DoubleToNarrow, AgreesWithOneRoundingOnRandomDoubles) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> exponents(-14, 15);
  for (int i = 0; i < 200000; ++i) {
    // Random significand bits, often close to a midpoint of both formats.
    uint64_t mantissa = rng() & ((uint64_t(1) << 52) - 1);
    if (i % 2)
      mantissa = (mantissa & ~((uint64_t(1) << 45) - 1)) | (uint64_t(1) << 44) |
                 (rng() & 0xFF);
    double magnitude =
        llvm::bit_cast<double>((uint64_t(1023) << 52) | mantissa);
    double value = std::ldexp(magnitude, exponents(rng));
    if (rng() & 1)
      value = -value;
    double bf16 = roundSignificand(value, 8);
    ASSERT_EQ(doubleToBFloat16Bits(value), floatToBFloat16Bits(float(bf16)))
        << value;
    double half = roundSignificand(value, 11);
    if (std::fabs(half) <= 65504.0)
      ASSERT_EQ(doubleToHalfBits(value), floatToHalfBits(float(half))) << value;
  }
}

} // namespace
