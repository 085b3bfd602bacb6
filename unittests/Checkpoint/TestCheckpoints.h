//===- TestCheckpoints.h - Checkpoints for the Checkpoint tests -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Small checkpoints written with SafetensorsWriter (which the Support tests
// check against hand-assembled bytes) into a fresh directory per test.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_UNITTESTS_CHECKPOINT_TESTCHECKPOINTS_H
#define QWHA_UNITTESTS_CHECKPOINT_TESTCHECKPOINTS_H

#include "qwha/Checkpoint/Checkpoint.h"
#include "qwha/Support/Safetensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <map>
#include <string>
#include <vector>

namespace qwha::testing {

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

/// A tensor by value: floats given as doubles (rounded to the dtype once),
/// integers as int64.
struct Tensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<double> values;
};

/// Little-endian bytes of `values` in `dtype`.
inline std::vector<char> encode(DType dtype,
                                const std::vector<double> &values) {
  std::vector<char> bytes(values.size() * getDTypeSize(dtype));
  char *out = bytes.data();
  for (double value : values) {
    using namespace llvm::support::endian;
    switch (dtype) {
    case DType::F64:
      write64le(out, llvm::bit_cast<uint64_t>(value));
      break;
    case DType::F32:
      write32le(out, llvm::bit_cast<uint32_t>(float(value)));
      break;
    case DType::F16:
      write16le(out, doubleToHalfBits(value));
      break;
    case DType::BF16:
      write16le(out, doubleToBFloat16Bits(value));
      break;
    case DType::I64:
      write64le(out, uint64_t(int64_t(value)));
      break;
    case DType::I32:
      write32le(out, uint32_t(int32_t(value)));
      break;
    case DType::I16:
      write16le(out, uint16_t(int16_t(value)));
      break;
    case DType::I8:
    case DType::U8:
    case DType::Bool:
      *out = char(int(value));
      break;
    }
    out += getDTypeSize(dtype);
  }
  return bytes;
}

inline std::string readWholeFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    ADD_FAILURE() << "cannot read " << path.str();
    return "";
  }
  return (*buffer)->getBuffer().str();
}

inline std::string errorOf(llvm::Error error) {
  if (!error) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(std::move(error));
}

template <typename T> std::string errorOf(llvm::Expected<T> &&value) {
  if (value) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(value.takeError());
}

/// A fresh directory per test, removed afterwards. Public, so that helper
/// functions of the tests can use it.
class CheckpointTest : public ::testing::Test {
public:
  void SetUp() override {
    std::string base = ::testing::TempDir();
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory(base + "qwha-ckpt", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string pathTo(llvm::StringRef name) const {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }

  /// Names in a directory (the test's own by default), sorted.
  std::vector<std::string> listDir(llvm::StringRef name = "") const {
    std::vector<std::string> names;
    std::error_code ec;
    std::string path = name.empty() ? std::string(dir) : pathTo(name);
    for (llvm::sys::fs::directory_iterator it(path, ec), end; !ec && it != end;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    llvm::sort(names);
    return names;
  }

  void writeFile(llvm::StringRef name, llvm::StringRef text) {
    std::error_code ec;
    llvm::raw_fd_ostream os(pathTo(name), ec);
    ASSERT_FALSE(ec) << name.str();
    os << text;
  }

  /// Writes `tensors` to the safetensors file `name`.
  void writeTensors(llvm::StringRef name, const std::vector<Tensor> &tensors,
                    const std::map<std::string, std::string> &metadata = {
                        {"format", "pt"}}) {
    SafetensorsWriter writer;
    for (const Tensor &t : tensors)
      ASSERT_FALSE(
          bool(writer.add(t.name, t.dtype, t.shape, encode(t.dtype, t.values))))
          << t.name;
    for (const auto &[key, value] : metadata)
      writer.setMetadata(key, value);
    ASSERT_FALSE(bool(writer.writeFile(pathTo(name))));
  }

  /// A checkpoint directory `name` with model.safetensors.
  std::string makeCheckpoint(llvm::StringRef name,
                             const std::vector<Tensor> &tensors) {
    EXPECT_FALSE(llvm::sys::fs::create_directories(pathTo(name)));
    writeTensors((name + "/model.safetensors").str(), tensors);
    return pathTo(name);
  }

  /// Raw bytes of tensor `tensor` of the safetensors file at `path`.
  std::string tensorBytes(llvm::StringRef path, llvm::StringRef tensor) {
    auto file = SafetensorsFile::open(path);
    if (!file) {
      ADD_FAILURE() << llvm::toString(file.takeError());
      return "";
    }
    const TensorView *view = file->find(tensor);
    if (!view) {
      ADD_FAILURE() << "no tensor " << tensor.str() << " in " << path.str();
      return "";
    }
    return std::string(view->data.data(), view->data.size());
  }

  llvm::SmallString<256> dir;
};

/// Opens checkpoints, failing the test on error, and keeps them alive.
struct Opened {
  std::vector<Checkpoint> owned;
  std::vector<const Checkpoint *> pointers;

  explicit Opened(const std::vector<std::string> &paths) {
    owned.reserve(paths.size());
    for (const std::string &path : paths) {
      llvm::Expected<Checkpoint> checkpoint = Checkpoint::open(path);
      if (!checkpoint) {
        ADD_FAILURE() << llvm::toString(checkpoint.takeError());
        continue;
      }
      owned.push_back(std::move(*checkpoint));
    }
    for (const Checkpoint &checkpoint : owned)
      pointers.push_back(&checkpoint);
  }
};

inline std::string bitsOf(float value) {
  std::string bytes(4, '\0');
  llvm::support::endian::write32le(bytes.data(),
                                   llvm::bit_cast<uint32_t>(value));
  return bytes;
}

inline std::string bits16(std::initializer_list<uint16_t> values) {
  std::string bytes;
  for (uint16_t value : values) {
    bytes.push_back(char(value & 0xff));
    bytes.push_back(char(value >> 8));
  }
  return bytes;
}

} // namespace qwha::testing

#endif // QWHA_UNITTESTS_CHECKPOINT_TESTCHECKPOINTS_H
