//===- CalibrationStore.cpp - Per-layer calibration statistics ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/CalibrationStore.h"
#include "qwha/Support/Safetensors.h"

#include "llvm/Support/SwapByteOrder.h"

#include <cmath>

using namespace qwha;

static llvm::Error fileError(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError("calibration file '" + path + "': " +
                                 message);
}

CalibrationStore::CalibrationStore() = default;
CalibrationStore::CalibrationStore(CalibrationStore &&) = default;
CalibrationStore &CalibrationStore::operator=(CalibrationStore &&) = default;
CalibrationStore::~CalibrationStore() = default;

/// Whether `tensor`'s F32 bytes can be read in place as floats.
static bool isReadableInPlace(const TensorView &tensor) {
  return llvm::sys::IsLittleEndianHost &&
         reinterpret_cast<uintptr_t>(tensor.data.data()) % alignof(float) == 0;
}

llvm::Expected<CalibrationStore> CalibrationStore::load(llvm::StringRef path) {
  return read(SafetensorsFile::open(path));
}

llvm::Expected<CalibrationStore>
CalibrationStore::fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  return read(SafetensorsFile::fromBuffer(std::move(buffer)));
}

llvm::Expected<CalibrationStore>
CalibrationStore::read(llvm::Expected<SafetensorsFile> file) {
  if (!file)
    return file.takeError();
  llvm::StringRef path = file->getPath();
  CalibrationStore store;
  store.path = path.str();
  store.file = std::make_unique<SafetensorsFile>(std::move(*file));
  std::map<std::string, const TensorView *> hessians, counts;
  for (const TensorView &tensor : store.file->getTensors()) {
    llvm::StringRef name = tensor.name;
    if (name.consume_back(".hessian"))
      hessians[name.str()] = &tensor;
    else if (name.consume_back(".nsamples"))
      counts[name.str()] = &tensor;
    else
      return fileError(path, "unexpected tensor '" + tensor.name +
                                 "' (expected <layer>.hessian and "
                                 "<layer>.nsamples)");
  }
  for (auto &[layer, count] : counts)
    if (!hessians.count(layer))
      return fileError(path, "layer '" + layer + "' has '" + layer +
                                 ".nsamples' but no '" + layer + ".hessian'");
  for (auto &[layer, hessian] : hessians) {
    auto it = counts.find(layer);
    if (it == counts.end())
      return fileError(path, "layer '" + layer + "' has '" + layer +
                                 ".hessian' but no '" + layer + ".nsamples'");
    const TensorView &count = *it->second;
    if (count.dtype != DType::I64 || !count.shape.empty())
      return fileError(path, "'" + count.name +
                                 "' must be an I64 scalar, got " +
                                 getDTypeName(count.dtype) + " of rank " +
                                 llvm::Twine(count.shape.size()));
    if (hessian->dtype != DType::F32 || hessian->shape.size() != 2 ||
        hessian->shape[0] != hessian->shape[1])
      return fileError(path, "'" + hessian->name +
                                 "' must be a square F32 matrix, got " +
                                 getDTypeName(hessian->dtype) + " of rank " +
                                 llvm::Twine(hessian->shape.size()));
    llvm::Expected<std::vector<int64_t>> samples = readInt64(count);
    if (!samples)
      return samples.takeError();
    if ((*samples)[0] < 1)
      return fileError(path, "'" + count.name + "' is " +
                                 llvm::Twine((*samples)[0]) +
                                 "; a layer needs at least one sample");
    Entry entry;
    entry.features = hessian->shape[0];
    entry.samples = (*samples)[0];
    if (isReadableInPlace(*hessian)) {
      entry.hessian = llvm::ArrayRef<float>(
          reinterpret_cast<const float *>(hessian->data.data()),
          hessian->getNumElements());
    } else {
      llvm::Expected<std::vector<float>> values = readFloat32(*hessian);
      if (!values)
        return values.takeError();
      std::vector<float> &copy = store.owned[layer] = std::move(*values);
      entry.hessian = copy;
    }
    for (size_t i = 0; i < entry.hessian.size(); ++i)
      if (!std::isfinite(entry.hessian[i]))
        return fileError(path, "'" + hessian->name +
                                   "' has a non-finite value at index " +
                                   llvm::Twine(i));
    store.file->dropResidentPages(hessian->data);
    store.entries[layer] = entry;
  }
  return store;
}

llvm::Error CalibrationStore::save(llvm::StringRef path) const {
  SafetensorsWriter writer;
  for (const auto &[layer, entry] : entries) {
    const auto *bytes = reinterpret_cast<const char *>(entry.hessian.data());
    if (llvm::Error err = writer.add(
            layer + ".hessian", DType::F32, {entry.features, entry.features},
            llvm::ArrayRef<char>(bytes, entry.hessian.size() * sizeof(float))))
      return err;
    int64_t samples = entry.samples;
    if (llvm::Error err = writer.add(
            layer + ".nsamples", DType::I64, {},
            llvm::ArrayRef<char>(reinterpret_cast<const char *>(&samples),
                                 sizeof(samples))))
      return err;
  }
  writer.setMetadata("format", "qwha-calibration");
  return writer.writeFile(path);
}

void CalibrationStore::set(llvm::StringRef layer, int64_t features,
                           int64_t samples, std::vector<float> hessian) {
  std::vector<float> &stored = owned[layer.str()] = std::move(hessian);
  entries[layer.str()] = Entry{features, samples, stored};
}

void CalibrationStore::dropResidentPages(llvm::StringRef layer) const {
  const Entry *entry = find(layer);
  if (!entry || !file || owned.count(layer.str()))
    return;
  file->dropResidentPages(llvm::ArrayRef<char>(
      reinterpret_cast<const char *>(entry->hessian.data()),
      entry->hessian.size() * sizeof(float)));
}

const CalibrationStore::Entry *
CalibrationStore::find(llvm::StringRef layer) const {
  auto it = entries.find(layer.str());
  return it == entries.end() ? nullptr : &it->second;
}
