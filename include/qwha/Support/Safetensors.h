//===- Safetensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Checkpoints come from and go back to the Python ecosystem as safetensors
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header size N, N bytes of JSON describing every tensor, then the tensors'
// bytes. Files come from outside, so the reader validates everything before
// handing out views; after open() succeeds, every view is in bounds and has
// exactly the bytes its dtype and shape need.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_SUPPORT_SAFETENSORS_H
#define QWHA_SUPPORT_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qwha {

/// The element types this project reads and writes; the safetensors format
/// knows more (F8 variants, unsigned wide integers), which are rejected.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/// The dtype's spelling in a safetensors header ("F32", "BF16", "BOOL", ...).
llvm::StringRef getDTypeName(DType dtype);
/// Inverse of getDTypeName (case-sensitive, as the format is); nullopt for
/// anything else.
std::optional<DType> parseDType(llvm::StringRef name);
/// Bytes per element.
size_t getDTypeSize(DType dtype);
/// F64, F32, F16 and BF16.
bool isFloatDType(DType dtype);

/// One tensor of a safetensors file: a view into the file's bytes.
struct TensorView {
  std::string name;
  DType dtype;
  llvm::SmallVector<int64_t> shape;
  llvm::ArrayRef<char> data; // little-endian, row-major
  /// Offsets of `data` relative to the start of the data region, as in the
  /// header; useful for diagnostics and for copying files without parsing.
  uint64_t beginOffset = 0;
  uint64_t endOffset = 0;

  /// Product of the shape (1 for a scalar). Cannot overflow for a validated
  /// file.
  int64_t getNumElements() const;
};

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
public:
  /// Maps and validates `path`.
  static llvm::Expected<SafetensorsFile> open(llvm::StringRef path);
  /// Validates a buffer already in memory (tests, fuzzers); messages use
  /// the buffer's identifier as the file name.
  static llvm::Expected<SafetensorsFile>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  SafetensorsFile(SafetensorsFile &&) = default;
  SafetensorsFile &operator=(SafetensorsFile &&) = default;
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  /// The path given to open(), or the buffer identifier.
  llvm::StringRef getPath() const;
  /// Tensors in the order of their data offsets (ties, which only zero-size
  /// tensors can have, broken by name).
  llvm::ArrayRef<TensorView> getTensors() const { return tensors; }
  /// nullptr if absent.
  const TensorView *find(llvm::StringRef name) const;
  /// Error "tensor 'x' not found in 'file'" if absent.
  llvm::Expected<const TensorView &> get(llvm::StringRef name) const;
  /// The "__metadata__" object; empty if the file has none.
  const std::map<std::string, std::string> &getMetadata() const {
    return metadata;
  }

private:
  SafetensorsFile() = default;

  // Heap-allocated, so views stay valid when the object moves.
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorView> tensors;
  llvm::StringMap<size_t> indexByName;
  std::map<std::string, std::string> metadata;
};

/// Float values of a floating-point tensor (F64/F32/F16/BF16 converted to
/// float, f16 subnormals, inf and nan handled exactly; F64 rounds to
/// nearest). Error naming the tensor for non-float dtypes.
llvm::Expected<std::vector<float>> readFloat32(const TensorView &tensor);
/// Same for integer tensors (I64/I32/I16/I8/U8/Bool) as int64. A BOOL byte
/// other than 0 or 1 is an error.
llvm::Expected<std::vector<int64_t>> readInt64(const TensorView &tensor);

/// Builds a safetensors file. Output is deterministic: tensors in
/// lexicographic name order (bytewise), header JSON with sorted keys and no
/// whitespace, padded with spaces to a multiple of 8 bytes (as the Python
/// library does), data of consecutive tensors back to back. "__metadata__"
/// is present only when some metadata was set.
class SafetensorsWriter {
public:
  /// Copies the data. Error if the name is empty, repeated, "__metadata__"
  /// or not UTF-8, if a dimension is negative, or if
  /// data.size() != product(shape) * dtype size.
  llvm::Error add(llvm::StringRef name, DType dtype,
                  llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<char> data);
  /// Sets or replaces one metadata entry. Keys and values must be UTF-8;
  /// write() reports those that are not.
  void setMetadata(llvm::StringRef key, llvm::StringRef value);
  /// Serializes to a stream. Nothing is written when an error is returned.
  llvm::Error write(llvm::raw_ostream &os) const;
  /// Writes atomically (writeFileAtomically).
  llvm::Error writeFile(llvm::StringRef path) const;

private:
  struct Entry {
    DType dtype;
    llvm::SmallVector<int64_t> shape;
    std::vector<char> data;
  };
  std::map<std::string, Entry> entries;
  std::map<std::string, std::string> metadata;
};

/// Float32 to IEEE half / bfloat16 bits (round to nearest even; overflow
/// gives infinity, nan stays a quiet nan of the same sign), for writers.
uint16_t floatToHalfBits(float value);
uint16_t floatToBFloat16Bits(float value);
/// Exact: every half and bfloat16 value is a float.
float halfBitsToFloat(uint16_t bits);
float bfloat16BitsToFloat(uint16_t bits);

} // namespace qwha

#endif // QWHA_SUPPORT_SAFETENSORS_H
