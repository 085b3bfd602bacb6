//===- CalibrationStoreTest.cpp - Tests of the calibration file -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A store loaded from a file hands out views into the mapping, and copies
// only what cannot be read in place (a tensor at an address not aligned for
// floats). Both ways must give the values that were saved, stay valid when
// the store moves, and reject the same bad files.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/CalibrationStore.h"
#include "qwha/Support/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace qwha;

namespace {

/// A symmetric features x features matrix with distinct entries.
std::vector<float> makeHessian(int64_t features, float seed) {
  std::vector<float> h(features * features);
  for (int64_t i = 0; i < features; ++i)
    for (int64_t j = 0; j < features; ++j)
      h[i * features + j] = seed + float(std::min(i, j)) * 0.5f +
                            float(std::max(i, j)) * 0.25f;
  return h;
}

class CalibrationStoreFile : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qwha-calib", dir));
    llvm::sys::path::append(path, dir, "calib.safetensors");
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  llvm::SmallString<128> dir, path;
};

TEST_F(CalibrationStoreFile, LoadedViewsHoldTheSavedValuesInTheMapping) {
  CalibrationStore saved;
  // 64 x 64 floats (16 KiB) is mapped rather than read; the 3 x 3 layer
  // lies in the same file.
  saved.set("big", 64, 100, makeHessian(64, 1));
  saved.set("small", 3, 7, makeHessian(3, -2));
  ASSERT_FALSE(saved.save(path));

  llvm::Expected<CalibrationStore> loaded = CalibrationStore::load(path);
  ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
  EXPECT_EQ(loaded->getPath(), path.str());
  // A moved store keeps its views: they point into storage it owns.
  CalibrationStore store = std::move(*loaded);
  for (const auto &[name, expected] : saved.getEntries()) {
    const CalibrationStore::Entry *entry = store.find(name);
    ASSERT_NE(entry, nullptr) << name;
    EXPECT_EQ(entry->features, expected.features);
    EXPECT_EQ(entry->samples, expected.samples);
    EXPECT_EQ(entry->hessian.vec(), expected.hessian.vec()) << name;
    // Dropping pages only costs a re-read from the file.
    store.dropResidentPages(name);
    EXPECT_EQ(entry->hessian.vec(), expected.hessian.vec()) << name;
  }
  EXPECT_EQ(store.find("absent"), nullptr);
  store.dropResidentPages("absent"); // no-op
}

TEST(CalibrationStore, UnalignedTensorsAreCopiedWithTheSameValues) {
  CalibrationStore saved;
  saved.set("layer", 5, 3, makeHessian(5, 0.5f));
  llvm::SmallString<128> dir, path;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qwha-calib", dir));
  llvm::sys::path::append(path, dir, "calib.safetensors");
  ASSERT_FALSE(saved.save(path));
  auto file = llvm::MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(file));
  llvm::StringRef bytes = (*file)->getBuffer();
  llvm::sys::fs::remove_directories(dir);

  // The same bytes at an odd address: the Hessian cannot be viewed as
  // floats there.
  std::vector<char> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  auto buffer = llvm::MemoryBuffer::getMemBuffer(
      llvm::StringRef(shifted.data() + 1, bytes.size()), "shifted",
      /*RequiresNullTerminator=*/false);
  llvm::Expected<CalibrationStore> store =
      CalibrationStore::fromBuffer(std::move(buffer));
  ASSERT_TRUE(bool(store)) << llvm::toString(store.takeError());
  const CalibrationStore::Entry *entry = store->find("layer");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(entry->hessian.data()) % alignof(float),
            0u);
  EXPECT_EQ(entry->hessian.vec(), makeHessian(5, 0.5f));
  EXPECT_EQ(entry->samples, 3);
}

TEST(CalibrationStore, SetReplacesAndOwnsItsValues) {
  CalibrationStore store;
  std::vector<float> first = makeHessian(2, 1);
  store.set("layer", 2, 4, first);
  store.set("layer", 3, 9, makeHessian(3, 2));
  const CalibrationStore::Entry *entry = store.find("layer");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->features, 3);
  EXPECT_EQ(entry->samples, 9);
  EXPECT_EQ(entry->hessian.vec(), makeHessian(3, 2));
  EXPECT_EQ(store.getEntries().size(), 1u);
}

TEST_F(CalibrationStoreFile, NonFiniteValuesAreRejectedInPlaceToo) {
  std::vector<float> h = makeHessian(64, 1);
  h[64 * 10 + 3] = std::numeric_limits<float>::infinity();
  CalibrationStore saved;
  saved.set("layer", 64, 2, h);
  ASSERT_FALSE(saved.save(path));
  llvm::Expected<CalibrationStore> loaded = CalibrationStore::load(path);
  ASSERT_FALSE(bool(loaded));
  std::string message = llvm::toString(loaded.takeError());
  EXPECT_NE(message.find("'layer.hessian' has a non-finite value at index 643"),
            std::string::npos)
      << message;
}

} // namespace
