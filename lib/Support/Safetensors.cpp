//===- Safetensors.cpp - Reading and writing safetensors files ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Support/Safetensors.h"
#include "qwha/Support/JSONLimits.h"

#include "qwha/Support/AtomicFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Errc.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Process.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <tuple>

#if LLVM_ON_UNIX
#include <sys/mman.h>
#endif

using namespace llvm;
using namespace qwha;

namespace {

struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};

constexpr DTypeInfo dtypeInfos[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
};

const DTypeInfo &getInfo(DType dtype) {
  for (const DTypeInfo &info : dtypeInfos)
    if (info.dtype == dtype)
      return info;
  llvm_unreachable("unknown DType");
}

/// The Python library's limit: a bigger header is an attack or corruption,
/// and parsing it would cost that much memory several times over.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

constexpr StringLiteral kMetadataKey = "__metadata__";

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string result = "[";
  raw_string_ostream os(result);
  interleaveComma(shape, os);
  os << "]";
  return result;
}

std::string formatOffsets(uint64_t begin, uint64_t end) {
  return ("[" + Twine(begin) + ", " + Twine(end) + "]").str();
}

Error makeError(const Twine &message) {
  return make_error<StringError>(message,
                                 make_error_code(errc::invalid_argument));
}

/// Element count of `shape`, or nullopt when a dimension is negative or when
/// the product of the non-zero dimensions overflows int64. Zero dimensions
/// are skipped in the overflow test because they would otherwise hide it:
/// consumers compute strides from the other dimensions, and those must fit
/// even when the tensor is empty.
std::optional<int64_t> checkedNumElements(ArrayRef<int64_t> shape) {
  int64_t nonZeroProduct = 1;
  bool hasZero = false;
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim == 0) {
      hasZero = true;
      continue;
    }
    if (MulOverflow(nonZeroProduct, dim, nonZeroProduct))
      return std::nullopt;
  }
  return hasZero ? 0 : nonZeroProduct;
}

/// Bytes a tensor of `shape` and `dtype` needs, or nullopt on overflow.
std::optional<int64_t> checkedByteSize(ArrayRef<int64_t> shape, DType dtype) {
  std::optional<int64_t> count = checkedNumElements(shape);
  if (!count)
    return std::nullopt;
  int64_t bytes;
  if (MulOverflow(*count, int64_t(getDTypeSize(dtype)), bytes))
    return std::nullopt;
  return bytes;
}

/// Finds a key that occurs twice in one object of `text`, which must be valid
/// JSON. llvm::json silently keeps one of them, so without this check the
/// meaning of such a header would depend on the parser.
std::optional<std::string> findDuplicateKey(StringRef text) {
  // One entry per open container; only objects have keys.
  std::vector<std::pair<bool, StringSet<>>> open;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      open.emplace_back(c == '{', StringSet<>());
      continue;
    }
    if ((c == '}' || c == ']') && !open.empty()) {
      open.pop_back();
      continue;
    }
    if (c != '"')
      continue;
    size_t end = i + 1;
    bool escaped = false;
    while (end < e && text[end] != '"') {
      if (text[end] == '\\') {
        escaped = true;
        ++end;
      }
      ++end;
    }
    StringRef literal = text.slice(i, end + 1);
    i = end;
    size_t next = text.find_first_not_of(" \t\r\n", end + 1);
    if (open.empty() || !open.back().first || next == StringRef::npos ||
        text[next] != ':')
      continue;
    // Escapes can spell one key in several ways; decode those keys.
    std::string key = literal.drop_front().drop_back().str();
    if (escaped) {
      if (Expected<json::Value> decoded = json::parse(literal))
        key = decoded->getAsString().value_or(key).str();
      else
        consumeError(decoded.takeError());
    }
    if (!open.back().second.insert(key).second)
      return key;
  }
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Header validation
//===----------------------------------------------------------------------===//

/// Prefixes every message with the file name, and the tensor name where one
/// is given, so that a failure in a multi-gigabyte checkpoint can be located.
class HeaderParser {
public:
  HeaderParser(StringRef file, uint64_t dataSize)
      : file(file), dataSize(dataSize) {}

  Error fail(const Twine &message) const {
    return makeError(file + ": " + message);
  }
  Error fail(StringRef tensor, const Twine &message) const {
    return fail("tensor '" + tensor + "': " + message);
  }

  Error parseMetadata(const json::Value &value,
                      std::map<std::string, std::string> &metadata) const {
    const json::Object *object = value.getAsObject();
    if (!object)
      return fail("'__metadata__' is not a JSON object");
    // Sorted, so that of several bad values the same one is reported.
    for (const json::Object::value_type *entry :
         json::sortedElements(*object)) {
      StringRef key = entry->first;
      std::optional<StringRef> text = entry->second.getAsString();
      if (!text)
        return fail("'__metadata__' value for key '" + key +
                    "' is not a string");
      metadata[key.str()] = text->str();
    }
    return Error::success();
  }

  Expected<TensorView> parseTensor(StringRef name,
                                   const json::Value &value) const {
    TensorView tensor;
    tensor.name = name.str();
    const json::Object *entry = value.getAsObject();
    if (!entry)
      return fail(name, "entry is not a JSON object");

    const json::Value *dtypeValue = entry->get("dtype");
    if (!dtypeValue)
      return fail(name, "missing 'dtype'");
    std::optional<StringRef> dtypeName = dtypeValue->getAsString();
    if (!dtypeName)
      return fail(name, "'dtype' is not a string");
    std::optional<DType> dtype = parseDType(*dtypeName);
    if (!dtype)
      return fail(name, "unknown dtype '" + *dtypeName + "'");
    tensor.dtype = *dtype;

    const json::Value *shapeValue = entry->get("shape");
    if (!shapeValue)
      return fail(name, "missing 'shape'");
    const json::Array *shape = shapeValue->getAsArray();
    if (!shape)
      return fail(name, "'shape' is not an array");
    for (auto [index, dimValue] : llvm::enumerate(*shape)) {
      // getAsUINT64 accepts only integer literals: getAsInteger would let
      // 2.0 through, which the Python library rejects.
      std::optional<uint64_t> dim = dimValue.getAsUINT64();
      if (!dim || *dim > uint64_t(std::numeric_limits<int64_t>::max()))
        return fail(name, "'shape' dimension " + Twine(index) +
                              " is not a non-negative integer");
      tensor.shape.push_back(int64_t(*dim));
    }

    const json::Value *offsetsValue = entry->get("data_offsets");
    if (!offsetsValue)
      return fail(name, "missing 'data_offsets'");
    const json::Array *offsets = offsetsValue->getAsArray();
    std::optional<uint64_t> begin, end;
    if (offsets && offsets->size() == 2) {
      begin = (*offsets)[0].getAsUINT64();
      end = (*offsets)[1].getAsUINT64();
    }
    if (!begin || !end)
      return fail(name, "'data_offsets' is not an array of two non-negative "
                        "integers");
    if (*begin > *end)
      return fail(name, "data_offsets " + formatOffsets(*begin, *end) +
                            " begin after they end");
    if (*end > dataSize)
      return fail(name, "data_offsets " + formatOffsets(*begin, *end) +
                            " extend beyond the data region of " +
                            Twine(dataSize) + " bytes");
    tensor.beginOffset = *begin;
    tensor.endOffset = *end;

    std::optional<int64_t> bytes = checkedByteSize(tensor.shape, tensor.dtype);
    if (!bytes)
      return fail(name, "shape " + formatShape(tensor.shape) +
                            " has too many elements (64-bit overflow)");
    if (uint64_t(*bytes) != *end - *begin)
      return fail(name, "data_offsets " + formatOffsets(*begin, *end) +
                            " span " + Twine(*end - *begin) +
                            " bytes but shape " + formatShape(tensor.shape) +
                            " of dtype " + getDTypeName(tensor.dtype) +
                            " needs " + Twine(*bytes));
    return tensor;
  }

  /// The format requires the data region to be exactly tiled by the
  /// tensors: overlaps would let one write clobber another, and holes are
  /// where hidden payloads go.
  Error checkTiling(ArrayRef<TensorView> sorted) const {
    uint64_t cursor = 0;
    const TensorView *previous = nullptr;
    for (const TensorView &tensor : sorted) {
      if (tensor.beginOffset < cursor)
        return fail("tensors '" + previous->name + "' (data_offsets " +
                    formatOffsets(previous->beginOffset, previous->endOffset) +
                    ") and '" + tensor.name + "' (data_offsets " +
                    formatOffsets(tensor.beginOffset, tensor.endOffset) +
                    ") overlap");
      if (tensor.beginOffset > cursor) {
        std::string where = previous ? "between tensors '" + previous->name +
                                           "' and '" + tensor.name + "'"
                                     : "before tensor '" + tensor.name + "'";
        return fail("data region has a hole: bytes [" + Twine(cursor) + ", " +
                    Twine(tensor.beginOffset) + ") " + where +
                    " are not covered by any tensor");
      }
      cursor = tensor.endOffset;
      previous = &tensor;
    }
    if (cursor != dataSize) {
      std::string where = previous
                              ? "after the last tensor '" + previous->name + "'"
                              : std::string("(no tensors)");
      return fail("data region has a hole: bytes [" + Twine(cursor) + ", " +
                  Twine(dataSize) + ") " + where +
                  " are not covered by any tensor");
    }
    return Error::success();
  }

private:
  StringRef file;
  uint64_t dataSize;
};

} // namespace

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

StringRef qwha::getDTypeName(DType dtype) { return getInfo(dtype).name; }

std::optional<DType> qwha::parseDType(StringRef name) {
  for (const DTypeInfo &info : dtypeInfos)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

size_t qwha::getDTypeSize(DType dtype) { return getInfo(dtype).size; }

bool qwha::isFloatDType(DType dtype) {
  return dtype == DType::F64 || dtype == DType::F32 || dtype == DType::F16 ||
         dtype == DType::BF16;
}

int64_t TensorView::getNumElements() const {
  // Unsigned, so that an unvalidated view cannot trigger signed overflow.
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= uint64_t(dim);
  return int64_t(count);
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

Expected<SafetensorsFile> SafetensorsFile::open(StringRef path) {
  // No null terminator: it would force a copy instead of a mapping.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(buffer.getError(), "cannot open '%s': %s",
                             path.str().c_str(),
                             buffer.getError().message().c_str());
  return fromBuffer(std::move(*buffer));
}

Expected<SafetensorsFile>
SafetensorsFile::fromBuffer(std::unique_ptr<MemoryBuffer> buffer) {
  StringRef file = buffer->getBufferIdentifier();
  StringRef bytes = buffer->getBuffer();
  HeaderParser parser(file, 0);
  if (bytes.size() < 8)
    return parser.fail("file of " + Twine(bytes.size()) +
                       " bytes is too short for the 8-byte header size");
  uint64_t headerSize = support::endian::read64le(bytes.data());
  if (headerSize > kMaxHeaderSize)
    return parser.fail("header size " + Twine(headerSize) +
                       " exceeds the limit of " + Twine(kMaxHeaderSize) +
                       " bytes");
  if (headerSize > bytes.size() - 8)
    return parser.fail("header size " + Twine(headerSize) + " exceeds the " +
                       Twine(bytes.size() - 8) + " bytes after the size field");

  StringRef headerText = bytes.substr(8, headerSize);
  if (nestsDeeperThan(headerText, kMaxJSONNesting))
    return parser.fail("header nests deeper than " + Twine(kMaxJSONNesting) +
                       " levels");
  Expected<json::Value> header = json::parse(headerText);
  if (!header)
    return parser.fail("header is not valid JSON: " +
                       toString(header.takeError()));
  const json::Object *root = header->getAsObject();
  if (!root)
    return parser.fail("header is not a JSON object");
  if (std::optional<std::string> key = findDuplicateKey(headerText))
    return parser.fail("header has duplicate key '" + *key + "'");

  ArrayRef<char> dataRegion(bytes.data() + 8 + headerSize,
                            bytes.size() - 8 - headerSize);
  parser = HeaderParser(file, dataRegion.size());

  // Visit keys in sorted order so that, of several problems, the same one is
  // always reported.
  SafetensorsFile result;
  for (const json::Object::value_type *entry : json::sortedElements(*root)) {
    StringRef key = entry->first;
    if (key == kMetadataKey) {
      if (Error error = parser.parseMetadata(entry->second, result.metadata))
        return std::move(error);
      continue;
    }
    Expected<TensorView> tensor = parser.parseTensor(key, entry->second);
    if (!tensor)
      return tensor.takeError();
    tensor->data = dataRegion.slice(tensor->beginOffset,
                                    tensor->endOffset - tensor->beginOffset);
    result.tensors.push_back(std::move(*tensor));
  }

  llvm::sort(result.tensors, [](const TensorView &a, const TensorView &b) {
    return std::tie(a.beginOffset, a.endOffset, a.name) <
           std::tie(b.beginOffset, b.endOffset, b.name);
  });
  if (Error error = parser.checkTiling(result.tensors))
    return std::move(error);

  for (auto [index, tensor] : llvm::enumerate(result.tensors))
    result.indexByName[tensor.name] = index;
  result.buffer = std::move(buffer);
  return std::move(result);
}

StringRef SafetensorsFile::getPath() const {
  return buffer->getBufferIdentifier();
}

const TensorView *SafetensorsFile::find(StringRef name) const {
  auto it = indexByName.find(name);
  return it == indexByName.end() ? nullptr : &tensors[it->second];
}

Expected<const TensorView &> SafetensorsFile::get(StringRef name) const {
  if (const TensorView *tensor = find(name))
    return *tensor;
  return createStringError(errc::invalid_argument,
                           "tensor '%s' not found in '%s'", name.str().c_str(),
                           getPath().str().c_str());
}

void SafetensorsFile::dropResidentPages(ArrayRef<char> bytes) const {
#if LLVM_ON_UNIX
  if (bytes.empty() ||
      buffer->getBufferKind() != MemoryBuffer::MemoryBuffer_MMap)
    return;
  StringRef whole = buffer->getBuffer();
  assert(bytes.data() >= whole.begin() && bytes.end() <= whole.end() &&
         "range outside the file");
  // A read fault may map more than the page read: Linux maps pages around
  // it that are in the page cache ("fault-around"), since 6.18 whole large
  // folios of up to 2 MiB. Pages of the range dropped earlier would come
  // back that way and stay, so the neighbourhood is dropped too.
  constexpr uintptr_t kNeighbourhood = uintptr_t(2) << 20;
  const uintptr_t page = sys::Process::getPageSizeEstimate();
  auto down = [&](uintptr_t p) { return p & ~(page - 1); };
  auto up = [&](uintptr_t p) { return (p + page - 1) & ~(page - 1); };
  // Whole pages, clipped to those the mapping covers (the kernel maps
  // whole pages, so the partial pages at either end of the file are mapped
  // too).
  const uintptr_t first = uintptr_t(whole.begin()),
                  last = uintptr_t(whole.end());
  uintptr_t from = uintptr_t(bytes.data()), to = uintptr_t(bytes.end());
  from = from - first > kNeighbourhood ? from - kNeighbourhood : first;
  to = last - to > kNeighbourhood ? to + kNeighbourhood : last;
  uintptr_t begin = std::max(down(from), down(first));
  uintptr_t end = std::min(up(to), up(last));
  // Advice only: if it fails, the pages stay resident and nothing is wrong.
  if (begin < end)
    (void)::madvise(reinterpret_cast<void *>(begin), end - begin,
                    MADV_DONTNEED);
#else
  (void)bytes;
#endif
}

//===----------------------------------------------------------------------===//
// Element conversion
//===----------------------------------------------------------------------===//

/// Views can be built by hand, so the size is checked again before reading.
static Error checkViewSize(const TensorView &tensor) {
  std::optional<int64_t> bytes = checkedByteSize(tensor.shape, tensor.dtype);
  if (!bytes || uint64_t(*bytes) != tensor.data.size())
    return makeError("tensor '" + tensor.name + "': data has " +
                     Twine(tensor.data.size()) + " bytes but shape " +
                     formatShape(tensor.shape) + " of dtype " +
                     getDTypeName(tensor.dtype) + " needs " +
                     (bytes ? Twine(*bytes) : Twine("more than 2^63")));
  return Error::success();
}

template <typename T, typename Result, typename Convert>
static void convertElements(ArrayRef<char> data, std::vector<Result> &out,
                            Convert convert) {
  const char *ptr = data.data();
  for (size_t i = 0, e = data.size() / sizeof(T); i < e; ++i)
    out.push_back(convert(support::endian::read<T, llvm::endianness::little>(
        ptr + i * sizeof(T))));
}

Expected<std::vector<float>> qwha::readFloat32(const TensorView &tensor) {
  if (!isFloatDType(tensor.dtype))
    return makeError("tensor '" + tensor.name + "' has dtype " +
                     getDTypeName(tensor.dtype) +
                     ", not a floating-point dtype");
  if (Error error = checkViewSize(tensor))
    return std::move(error);
  std::vector<float> values;
  values.reserve(tensor.data.size() / getDTypeSize(tensor.dtype));
  switch (tensor.dtype) {
  case DType::F64:
    convertElements<uint64_t>(tensor.data, values, [](uint64_t bits) {
      return float(llvm::bit_cast<double>(bits));
    });
    break;
  case DType::F32:
    convertElements<uint32_t>(tensor.data, values, [](uint32_t bits) {
      return llvm::bit_cast<float>(bits);
    });
    break;
  case DType::F16:
    convertElements<uint16_t>(tensor.data, values, halfBitsToFloat);
    break;
  case DType::BF16:
    convertElements<uint16_t>(tensor.data, values, bfloat16BitsToFloat);
    break;
  default:
    llvm_unreachable("not a float dtype");
  }
  return values;
}

Expected<std::vector<int64_t>> qwha::readInt64(const TensorView &tensor) {
  if (isFloatDType(tensor.dtype))
    return makeError("tensor '" + tensor.name + "' has dtype " +
                     getDTypeName(tensor.dtype) + ", not an integer dtype");
  if (Error error = checkViewSize(tensor))
    return std::move(error);
  std::vector<int64_t> values;
  values.reserve(tensor.data.size() / getDTypeSize(tensor.dtype));
  auto identity = [](auto value) { return int64_t(value); };
  switch (tensor.dtype) {
  case DType::I64:
    convertElements<int64_t>(tensor.data, values, identity);
    break;
  case DType::I32:
    convertElements<int32_t>(tensor.data, values, identity);
    break;
  case DType::I16:
    convertElements<int16_t>(tensor.data, values, identity);
    break;
  case DType::I8:
    convertElements<int8_t>(tensor.data, values, identity);
    break;
  case DType::U8:
    convertElements<uint8_t>(tensor.data, values, identity);
    break;
  case DType::Bool:
    // Anything but 0 and 1 means the file was not written by a numpy or
    // torch bool array; guessing its meaning would hide the corruption.
    for (auto [index, byte] : llvm::enumerate(tensor.data)) {
      uint8_t value = uint8_t(byte);
      if (value > 1)
        return makeError("tensor '" + tensor.name + "': BOOL element " +
                         Twine(index) + " has byte value " +
                         Twine(unsigned(value)) + ", expected 0 or 1");
      values.push_back(value);
    }
    break;
  default:
    llvm_unreachable("not an integer dtype");
  }
  return values;
}

uint16_t qwha::floatToHalfBits(float value) {
  uint32_t bits = llvm::bit_cast<uint32_t>(value);
  uint16_t sign = (bits >> 16) & 0x8000;
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {
    if (magnitude == 0x7f800000)
      return sign | 0x7c00;
    // Keep the top of the payload; the quiet bit keeps it a nan even when
    // the payload was all in the dropped low bits.
    return sign | 0x7e00 | ((magnitude >> 13) & 0x3ff);
  }
  // 65520 is the midpoint between the largest half (65504) and the next
  // power of two; ties go to the even pattern, which is infinity.
  if (magnitude >= 0x477ff000)
    return sign | 0x7c00;
  if (magnitude < 0x38800000) {
    // Below the smallest normal half (2^-14): the result is a multiple of
    // 2^-24. At most 2^-25 (half of the smallest subnormal, a tie to even)
    // rounds to zero; this also covers every float subnormal.
    if (magnitude <= 0x33000000)
      return sign;
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
    // value = mantissa * 2^(exponent - 150); in units of 2^-24 that is
    // mantissa >> (126 - exponent), with shift in [14, 24].
    uint32_t shift = 126 - exponent;
    uint32_t result = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1)))
      ++result; // May carry into the smallest normal, which is correct.
    return sign | uint16_t(result);
  }
  // Rebias the exponent from 127 to 15 and drop 13 mantissa bits; a carry
  // out of the mantissa correctly bumps the exponent.
  uint32_t result = (magnitude - 0x38000000) >> 13;
  uint32_t remainder = magnitude & 0x1fff;
  if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1)))
    ++result;
  return sign | uint16_t(result);
}

uint16_t qwha::floatToBFloat16Bits(float value) {
  uint32_t bits = llvm::bit_cast<uint32_t>(value);
  // Rounding could carry a nan's payload into infinity; force it quiet.
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t(bits >> 16) | 0x0040;
  // Adding 0x7fff rounds to nearest; the extra low result bit breaks ties
  // to even. Overflow lands on infinity, as it should.
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

float qwha::roundToOddFloat(double value) {
  float nearest = float(value);
  if (double(nearest) == value || std::isnan(value))
    return nearest;
  uint32_t bits = llvm::bit_cast<uint32_t>(nearest);
  // Round to nearest went away from zero: step back one unit in the last
  // place (from infinity this gives the largest float, as it should).
  if (std::fabs(double(nearest)) > std::fabs(value))
    --bits;
  // Inexact: the sticky last bit tells a later rounding that the value lies
  // strictly between two floats, so a tie there is no tie.
  return llvm::bit_cast<float>(bits | 1);
}

uint16_t qwha::doubleToHalfBits(double value) {
  return floatToHalfBits(roundToOddFloat(value));
}

uint16_t qwha::doubleToBFloat16Bits(double value) {
  return floatToBFloat16Bits(roundToOddFloat(value));
}

float qwha::halfBitsToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f)
    return llvm::bit_cast<float>(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) {
    // Subnormal (or zero): mantissa * 2^-24, exact in float.
    float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return llvm::bit_cast<float>(sign | ((exponent + 112) << 23) |
                               (mantissa << 13));
}

float qwha::bfloat16BitsToFloat(uint16_t bits) {
  return llvm::bit_cast<float>(uint32_t(bits) << 16);
}

//===----------------------------------------------------------------------===//
// SafetensorsWriter
//===----------------------------------------------------------------------===//

/// The rules every declared tensor follows, for both writers; returns the
/// tensor's byte size. `known` says whether a name was declared already.
static Expected<int64_t> checkDeclaration(StringRef name, DType dtype,
                                          ArrayRef<int64_t> shape,
                                          function_ref<bool(StringRef)> known) {
  if (name.empty())
    return makeError("tensor name is empty");
  if (name == kMetadataKey)
    return makeError("tensor name '__metadata__' is reserved for metadata");
  // llvm::json would silently replace invalid bytes when serializing.
  if (!json::isUTF8(name))
    return makeError("tensor name '" + name + "' is not valid UTF-8");
  if (known(name))
    return makeError("tensor '" + name + "' is added twice");
  for (auto [index, dim] : llvm::enumerate(shape))
    if (dim < 0)
      return makeError("tensor '" + name + "': shape dimension " +
                       Twine(index) + " is negative (" + Twine(dim) + ")");
  std::optional<int64_t> bytes = checkedByteSize(shape, dtype);
  if (!bytes)
    return makeError("tensor '" + name + "': shape " + formatShape(shape) +
                     " has too many elements (64-bit overflow)");
  return *bytes;
}

namespace {
/// What the header says about one tensor.
struct HeaderEntry {
  StringRef name;
  DType dtype;
  ArrayRef<int64_t> shape;
  uint64_t size;
};
} // namespace

/// The header of a file holding `entries` (in bytewise name order, which
/// fixes the data layout) and `metadata`: the 8-byte size, then the JSON
/// text padded with spaces to a multiple of 8. Shared by both writers, so
/// that their files cannot differ.
static Expected<std::string>
buildHeader(ArrayRef<HeaderEntry> entries,
            const std::map<std::string, std::string> &metadata) {
  json::Object header;
  if (!metadata.empty()) {
    json::Object object;
    for (const auto &[key, value] : metadata) {
      if (!json::isUTF8(key))
        return makeError("metadata key '" + key + "' is not valid UTF-8");
      if (!json::isUTF8(value))
        return makeError("metadata value for key '" + key +
                         "' is not valid UTF-8");
      object[key] = value;
    }
    header[kMetadataKey] = std::move(object);
  }

  int64_t offset = 0;
  for (const HeaderEntry &entry : entries) {
    json::Array shape;
    for (int64_t dim : entry.shape)
      shape.push_back(dim);
    int64_t end;
    if (entry.size > uint64_t(std::numeric_limits<int64_t>::max()) ||
        AddOverflow(offset, int64_t(entry.size), end))
      return makeError("total tensor data exceeds 2^63 bytes");
    header[entry.name] = json::Object{
        {"dtype", getDTypeName(entry.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets", json::Array{offset, end}},
    };
    offset = end;
  }

  // llvm::json prints object keys sorted and without whitespace.
  std::string text;
  raw_string_ostream(text) << json::Value(std::move(header));
  // Padding keeps the data region 8-byte aligned for readers that map it.
  text.append((8 - text.size() % 8) % 8, ' ');

  char size[8];
  support::endian::write64le(size, text.size());
  return std::string(size, sizeof(size)) + text;
}

Error SafetensorsWriter::add(StringRef name, DType dtype,
                             ArrayRef<int64_t> shape, ArrayRef<char> data) {
  Expected<int64_t> bytes =
      checkDeclaration(name, dtype, shape, [&](StringRef existing) {
        return entries.count(existing.str()) != 0;
      });
  if (!bytes)
    return bytes.takeError();
  if (uint64_t(*bytes) != data.size())
    return makeError("tensor '" + name + "': data has " + Twine(data.size()) +
                     " bytes but shape " + formatShape(shape) + " of dtype " +
                     getDTypeName(dtype) + " needs " + Twine(*bytes));
  entries[name.str()] = Entry{dtype, SmallVector<int64_t>(shape),
                              std::vector<char>(data.begin(), data.end())};
  return Error::success();
}

void SafetensorsWriter::setMetadata(StringRef key, StringRef value) {
  metadata[key.str()] = value.str();
}

Error SafetensorsWriter::write(raw_ostream &os) const {
  // std::map iterates in bytewise name order, which fixes the data layout.
  std::vector<HeaderEntry> headerEntries;
  for (const auto &[name, entry] : entries)
    headerEntries.push_back(
        {name, entry.dtype, entry.shape, uint64_t(entry.data.size())});
  Expected<std::string> header = buildHeader(headerEntries, metadata);
  if (!header)
    return header.takeError();
  os << *header;
  for (const auto &entry : llvm::make_second_range(entries))
    os.write(entry.data.data(), entry.data.size());
  return Error::success();
}

Error SafetensorsWriter::writeFile(StringRef path) const {
  return writeFileAtomically(path, [&](raw_ostream &os) { return write(os); });
}

//===----------------------------------------------------------------------===//
// SafetensorsStreamWriter
//===----------------------------------------------------------------------===//

SafetensorsStreamWriter::SafetensorsStreamWriter() = default;
SafetensorsStreamWriter::SafetensorsStreamWriter(
    SafetensorsStreamWriter &&other) {
  *this = std::move(other);
}
SafetensorsStreamWriter &
SafetensorsStreamWriter::operator=(SafetensorsStreamWriter &&other) {
  if (this != &other) {
    discard();
    declared = std::move(other.declared);
    metadata = std::move(other.metadata);
    tensors = std::move(other.tensors);
    path = std::move(other.path);
    temp = std::move(other.temp);
    other.temp.reset();
    os = std::move(other.os);
    current = other.current;
    currentBytes = other.currentBytes;
    expectedFileSize = other.expectedFileSize;
    failed = other.failed;
  }
  return *this;
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() { discard(); }

Error SafetensorsStreamWriter::declare(StringRef name, DType dtype,
                                       ArrayRef<int64_t> shape) {
  if (temp || failed)
    return makeError("tensor '" + name +
                     "' declared after the header was written");
  Expected<int64_t> bytes =
      checkDeclaration(name, dtype, shape, [&](StringRef existing) {
        return declared.count(existing.str()) != 0;
      });
  if (!bytes)
    return bytes.takeError();
  declared[name.str()] =
      Tensor{name.str(), dtype, SmallVector<int64_t>(shape), uint64_t(*bytes)};
  return Error::success();
}

void SafetensorsStreamWriter::setMetadata(StringRef key, StringRef value) {
  assert(!temp && "metadata set after the header was written");
  metadata[key.str()] = value.str();
}

Error SafetensorsStreamWriter::fail(const Twine &message) {
  failed = true;
  std::string text = message.str();
  discard();
  return makeError("cannot write '" + path + "': " + text);
}

Error SafetensorsStreamWriter::begin(StringRef outputPath) {
  if (temp || failed)
    return makeError("cannot write '" + outputPath +
                     "': the writer was already started");
  path = outputPath.str();
  // std::map iterates in bytewise name order, as SafetensorsWriter lays
  // tensors out.
  for (auto &entry : llvm::make_second_range(declared))
    tensors.push_back(std::move(entry));
  declared.clear();

  std::vector<HeaderEntry> headerEntries;
  uint64_t dataSize = 0;
  for (const Tensor &tensor : tensors) {
    headerEntries.push_back(
        {tensor.name, tensor.dtype, tensor.shape, tensor.size});
    dataSize += tensor.size;
  }
  Expected<std::string> header = buildHeader(headerEntries, metadata);
  if (!header)
    return fail(toString(header.takeError()));
  expectedFileSize = header->size() + dataSize;

  // Same directory as `path`, so that the final rename never crosses file
  // systems; TempFile also removes the file if the process dies from a
  // signal meanwhile.
  Expected<sys::fs::TempFile> file =
      sys::fs::TempFile::create(path + ".tmp-%%%%%%%%");
  if (!file)
    return fail(toString(file.takeError()));
  temp.emplace(std::move(*file));
  os = std::make_unique<raw_fd_ostream>(temp->FD, /*shouldClose=*/false);
  *os << *header;
  current = 0;
  currentBytes = 0;
  return Error::success();
}

Error SafetensorsStreamWriter::write(StringRef name, ArrayRef<char> bytes) {
  if (!temp)
    return makeError("cannot write tensor '" + name + "' to '" + path +
                     "': the writer is not started or has failed");
  // The next tensor may start once the current one is complete; zero-size
  // tensors in between are complete from the start.
  while (current < tensors.size() && tensors[current].name != name &&
         currentBytes == tensors[current].size) {
    ++current;
    currentBytes = 0;
  }
  if (current == tensors.size() || tensors[current].name != name) {
    auto it = llvm::find_if(
        tensors, [&](const Tensor &tensor) { return tensor.name == name; });
    if (it == tensors.end())
      return fail("tensor '" + name + "' was not declared");
    if (current == tensors.size() || it < tensors.begin() + current)
      return fail("tensor '" + name + "' is written after its data ended");
    const Tensor &open = tensors[current];
    return fail("tensor '" + name + "' is written before tensor '" + open.name +
                "' is complete (" + Twine(currentBytes) + " of " +
                Twine(open.size) + " bytes)");
  }
  const Tensor &tensor = tensors[current];
  if (bytes.size() > tensor.size - currentBytes)
    return fail("tensor '" + name + "' gets " +
                Twine(currentBytes + bytes.size()) +
                " bytes, its header entry announced " + Twine(tensor.size));
  os->write(bytes.data(), bytes.size());
  currentBytes += bytes.size();
  if (os->has_error()) {
    std::error_code ec = os->error();
    os->clear_error();
    return fail("tensor '" + name + "': " + ec.message());
  }
  return Error::success();
}

Error SafetensorsStreamWriter::finish() {
  if (!temp)
    return makeError("cannot write '" + path +
                     "': the writer is not started or has failed");
  for (size_t i = current; i < tensors.size(); ++i) {
    uint64_t written = i == current ? currentBytes : 0;
    if (written != tensors[i].size)
      return fail("tensor '" + tensors[i].name + "' got " + Twine(written) +
                  " of the " + Twine(tensors[i].size) +
                  " bytes its header entry announced");
  }
  os->flush();
  if (os->has_error()) {
    std::error_code ec = os->error();
    os->clear_error();
    return fail(ec.message());
  }
  // The counts above are this class's own; the file's size is what readers
  // will see, so check that too.
  uint64_t fileSize = os->tell();
  os.reset();
  if (fileSize != expectedFileSize)
    return fail("wrote " + Twine(fileSize) + " bytes, the header implies " +
                Twine(expectedFileSize));
  Error keepError = temp->keep(path);
  temp.reset();
  if (keepError) {
    failed = true;
    return makeError("cannot write '" + path +
                     "': " + toString(std::move(keepError)));
  }
  tensors.clear();
  return Error::success();
}

void SafetensorsStreamWriter::discard() {
  os.reset();
  if (temp) {
    // Nothing useful to do if the temporary cannot be removed: the path is
    // untouched either way, and TempFile names are unique.
    consumeError(temp->discard());
    temp.reset();
  }
}
