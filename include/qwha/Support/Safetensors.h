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
#include "llvm/Support/FileSystem.h"
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

  /// Says that `bytes`, a range of this file (a view's data or a slice of
  /// it), will not be read again soon. Pages of a mapped file that were read
  /// stay resident, and count towards the process's memory, until they are
  /// unmapped; dropping them after use keeps a pass over a checkpoint larger
  /// than memory within the memory of the pieces being worked on. A later
  /// read maps them back from the file. The pages up to 2 MiB around the
  /// range are dropped too, as the kernel maps neighbours of the pages read.
  /// No-op for files that were read into memory rather than mapped (small
  /// files, fromBuffer()).
  void dropResidentPages(llvm::ArrayRef<char> bytes) const;

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

/// Writes a safetensors file whose tensors are known by name, dtype and
/// shape before their data exists: the header is written first, then each
/// tensor's bytes as they are produced, in one or several pieces. A
/// checkpoint of any size is thus written with the memory of one piece,
/// where SafetensorsWriter holds all of it. The output is byte-identical to
/// SafetensorsWriter's for the same tensors and metadata (same header, same
/// order, same padding).
///
/// The bytes go to a temporary file beside the path, renamed over it by
/// finish() only once every tensor got exactly the bytes its header entry
/// announced; on any error, or if the writer is destroyed before finish()
/// succeeded, the temporary is removed and the path is untouched.
///
///   SafetensorsStreamWriter writer;
///   writer.declare("b", DType::F32, {2});  // any order
///   writer.declare("a", DType::F16, {4});
///   writer.begin(path);                    // header written
///   for (const auto &tensor : writer.getTensors())   // "a", then "b"
///     writer.write(tensor.name, bytes...); // once or in pieces
///   writer.finish();                       // validated and renamed
class SafetensorsStreamWriter {
public:
  struct Tensor {
    std::string name;
    DType dtype;
    llvm::SmallVector<int64_t> shape;
    /// Bytes the header announces: product(shape) * dtype size.
    uint64_t size;
  };

  SafetensorsStreamWriter();
  SafetensorsStreamWriter(SafetensorsStreamWriter &&);
  SafetensorsStreamWriter &operator=(SafetensorsStreamWriter &&);
  SafetensorsStreamWriter(const SafetensorsStreamWriter &) = delete;
  SafetensorsStreamWriter &operator=(const SafetensorsStreamWriter &) = delete;
  /// Removes the temporary file unless finish() succeeded.
  ~SafetensorsStreamWriter();

  /// Announces a tensor; before begin() only. Same rules as
  /// SafetensorsWriter::add: error if the name is empty, repeated,
  /// "__metadata__" or not UTF-8, if a dimension is negative or if the byte
  /// size overflows.
  llvm::Error declare(llvm::StringRef name, DType dtype,
                      llvm::ArrayRef<int64_t> shape);
  /// Sets or replaces one metadata entry; before begin() only.
  void setMetadata(llvm::StringRef key, llvm::StringRef value);

  /// Creates the temporary file beside `path` and writes the header. Errors
  /// (bad metadata, a directory that cannot be written) name the path.
  llvm::Error begin(llvm::StringRef path);
  /// The declared tensors in the order their data must be written: bytewise
  /// name order, as in the file. Empty before begin().
  llvm::ArrayRef<Tensor> getTensors() const { return tensors; }
  /// Appends `bytes` to the data of tensor `name`, which must be the tensor
  /// being written or, once that one is complete, the next one in
  /// getTensors() order. Errors name the path and the tensor: a tensor out
  /// of order (or before the previous one is complete), more bytes than its
  /// header entry announced, a failed write. After an error the writer only
  /// discards.
  llvm::Error write(llvm::StringRef name, llvm::ArrayRef<char> bytes);
  /// Checks that every tensor got exactly its announced bytes and that the
  /// file has the size its header implies, then renames the temporary over
  /// the path. Afterwards the writer holds nothing.
  llvm::Error finish();
  /// Removes the temporary file, if any; the path is untouched.
  void discard();

private:
  llvm::Error fail(const llvm::Twine &message);

  std::map<std::string, Tensor> declared;
  std::map<std::string, std::string> metadata;
  std::vector<Tensor> tensors;
  std::string path;
  std::optional<llvm::sys::fs::TempFile> temp;
  std::unique_ptr<llvm::raw_fd_ostream> os;
  /// Tensor being written (index into `tensors`) and its bytes so far.
  size_t current = 0;
  uint64_t currentBytes = 0;
  /// 8 + header size + data size: what finish() expects the file to hold.
  uint64_t expectedFileSize = 0;
  bool failed = false;
};

/// Float32 to IEEE half / bfloat16 bits (round to nearest even; overflow
/// gives infinity, nan stays a quiet nan of the same sign), for writers.
uint16_t floatToHalfBits(float value);
uint16_t floatToBFloat16Bits(float value);
/// Double to half / bfloat16 bits, rounded once to nearest even. Rounding to
/// float first and then to the narrow type would round twice, which goes
/// wrong when the double lies just off a midpoint of the narrow type that
/// the float rounding lands on; so the double is first narrowed to float by
/// rounding to odd (toward zero, last bit set when inexact), which keeps
/// enough information for the float helpers to round correctly.
uint16_t doubleToHalfBits(double value);
uint16_t doubleToBFloat16Bits(double value);
/// `value` rounded to float toward zero, with the last mantissa bit set when
/// the result is inexact ("round to odd"). Rounding that float again to any
/// format at least two bits narrower gives the correctly rounded result.
float roundToOddFloat(double value);
/// Exact: every half and bfloat16 value is a float.
float halfBitsToFloat(uint16_t bits);
float bfloat16BitsToFloat(uint16_t bits);

} // namespace qwha

#endif // QWHA_SUPPORT_SAFETENSORS_H
