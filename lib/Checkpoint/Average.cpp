//===- Average.cpp - Weight averaging of checkpoints ----------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Checkpoint/Average.h"

#include "qwha/Support/AtomicFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Errc.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace llvm;
using namespace qwha;

static Error makeError(const Twine &message) {
  return createStringError(errc::invalid_argument, message);
}

static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string result = "[";
  raw_string_ostream os(result);
  interleaveComma(shape, os);
  os << "]";
  return result;
}

static std::string joinPath(StringRef directory, StringRef name) {
  SmallString<256> path(directory);
  sys::path::append(path, name);
  return std::string(path);
}

static std::string formatNumber(double value) {
  std::string text;
  raw_string_ostream(text) << format("%g", value);
  return text;
}

std::string qwha::formatByteSize(uint64_t bytes) {
  if (bytes < 1024)
    return (Twine(bytes) + " B").str();
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = double(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return formatv("{0:f1} {1}", value, units[unit]).str();
}

//===----------------------------------------------------------------------===//
// Checks
//===----------------------------------------------------------------------===//

Error qwha::checkCompatible(ArrayRef<const Checkpoint *> checkpoints) {
  if (checkpoints.empty())
    return Error::success();
  const Checkpoint &first = *checkpoints.front();
  for (const Checkpoint *other : checkpoints.drop_front()) {
    // Both maps are in name order: walk them side by side, so that the
    // first difference in that order is the one reported.
    auto a = first.getTensors().begin(), aEnd = first.getTensors().end();
    auto b = other->getTensors().begin(), bEnd = other->getTensors().end();
    while (a != aEnd || b != bEnd) {
      if (b == bEnd || (a != aEnd && a->first < b->first))
        return makeError("tensor '" + a->first + "' is in '" +
                         a->second.file->getPath() + "' but not in '" +
                         other->getPath() + "'");
      if (a == aEnd || b->first < a->first)
        return makeError("tensor '" + b->first + "' is in '" +
                         b->second.file->getPath() + "' but not in '" +
                         first.getPath() + "'");
      const TensorView &x = *a->second.view, &y = *b->second.view;
      if (x.dtype != y.dtype)
        return makeError(
            "tensor '" + a->first + "' is " + getDTypeName(x.dtype) + " in '" +
            a->second.file->getPath() + "' but " + getDTypeName(y.dtype) +
            " in '" + b->second.file->getPath() + "'");
      if (x.shape != y.shape)
        return makeError(
            "tensor '" + a->first + "' has shape " + formatShape(x.shape) +
            " in '" + a->second.file->getPath() + "' but " +
            formatShape(y.shape) + " in '" + b->second.file->getPath() + "'");
      ++a;
      ++b;
    }
  }
  return Error::success();
}

Error qwha::checkWeights(ArrayRef<double> weights, size_t checkpoints) {
  if (weights.size() != checkpoints)
    return makeError(Twine(weights.size()) + " weights for " +
                     Twine(checkpoints) +
                     " checkpoints: give one weight per checkpoint");
  bool anyPositive = false;
  for (auto [index, weight] : llvm::enumerate(weights)) {
    if (!std::isfinite(weight))
      return makeError("weight " + Twine(index + 1) + " (" +
                       formatNumber(weight) + ") is not a finite number");
    if (weight < 0)
      return makeError("weight " + Twine(index + 1) + " is negative (" +
                       formatNumber(weight) + ")");
    anyPositive |= weight > 0;
  }
  if (!anyPositive)
    return makeError("all weights are zero: at least one must be positive");
  return Error::success();
}

Expected<std::vector<double>> qwha::parseWeights(StringRef list,
                                                 size_t checkpoints) {
  SmallVector<StringRef> items;
  list.split(items, ',');
  std::vector<double> weights;
  for (auto [index, item] : llvm::enumerate(items)) {
    double weight;
    if (item.trim().getAsDouble(weight))
      return makeError("weight " + Twine(index + 1) + " ('" + item +
                       "') is not a number");
    weights.push_back(weight);
  }
  if (Error error = checkWeights(weights, checkpoints))
    return std::move(error);
  return weights;
}

Expected<std::vector<size_t>>
qwha::selectLastAtStride(size_t count, int64_t last, int64_t stride) {
  if (last < 1)
    return makeError("the number of checkpoints to average must be at least "
                     "1, not " +
                     Twine(last));
  if (stride < 1)
    return makeError("the stride must be at least 1, not " + Twine(stride));
  // (last - 1) * stride + 1 checkpoints are spanned; compare without
  // overflow.
  if (uint64_t(last - 1) > (count == 0 ? 0 : (count - 1) / uint64_t(stride)) ||
      count == 0) {
    // The span itself overflows int64 (last = 2^62, stride = 4), and can
    // exceed 64 bits.
    bool overflow = false;
    uint64_t span = llvm::SaturatingMultiplyAdd(
        uint64_t(last - 1), uint64_t(stride), uint64_t(1), &overflow);
    return makeError("the last " + Twine(last) + " checkpoints at stride " +
                     Twine(stride) + " span " +
                     (overflow ? Twine("more than 2^64") : Twine(span)) +
                     " checkpoints, but " + Twine(count) +
                     (count == 1 ? " was" : " were") + " given");
  }
  std::vector<size_t> positions;
  for (int64_t j = last - 1; j >= 0; --j)
    positions.push_back(count - 1 - size_t(j) * size_t(stride));
  return positions;
}

bool qwha::isFileOutput(StringRef output) {
  return output.ends_with(".safetensors");
}

//===----------------------------------------------------------------------===//
// Element loops
//===----------------------------------------------------------------------===//

namespace {

// The element loops below run over every byte of every checkpoint, so the
// conversions are written here to be inlined (and vectorized where the
// compiler can): the out-of-line helpers of Safetensors.h cost a call per
// element. The tests compare them with those helpers on every half and
// bfloat16 value.

float decodeBFloat16(uint16_t bits) {
  return llvm::bit_cast<float>(uint32_t(bits) << 16);
}

/// halfBitsToFloat without branches: shifted into place, the exponent and
/// mantissa of a half are those of a float 2^112 times smaller, subnormals
/// included (the product is exact); only infinities and nans need their
/// exponent set by hand.
float decodeHalf(uint16_t bits) {
  uint32_t shifted = uint32_t(bits & 0x7fff) << 13;
  float magnitude = llvm::bit_cast<float>(shifted) * 0x1p112f;
  if ((bits & 0x7c00) == 0x7c00)
    magnitude = llvm::bit_cast<float>(shifted | 0x7f800000);
  return llvm::bit_cast<float>(llvm::bit_cast<uint32_t>(magnitude) |
                               uint32_t(bits & 0x8000) << 16);
}

/// `bits` (of a double) rounded to nearest even at bit `drop`: the low
/// `drop` bits cleared, a carry into the exponent included.
uint64_t roundBits(uint64_t bits, int drop) {
  uint64_t half = uint64_t(1) << (drop - 1);
  bits += half - 1 + ((bits >> drop) & 1);
  return bits & ~((uint64_t(1) << drop) - 1);
}

/// doubleToBFloat16Bits, rounding the double's own bits once where the
/// result is a normal bfloat16 (or zero); the helper does the rest.
uint16_t encodeBFloat16(double value) {
  uint64_t bits = llvm::bit_cast<uint64_t>(value);
  uint64_t exponent = (bits >> 52) & 0x7ff;
  // 2^-126 to below 2^128: bfloat16's normal range is float's.
  if (exponent >= 1023 - 126 && exponent <= 1023 + 127) {
    // The rounded double is a bfloat16 (or 2^128, which float makes
    // infinity), so narrowing it to float is exact.
    float rounded = float(llvm::bit_cast<double>(roundBits(bits, 45)));
    return uint16_t(llvm::bit_cast<uint32_t>(rounded) >> 16);
  }
  if ((bits & 0x7fffffffffffffff) == 0)
    return uint16_t(bits >> 48);
  return doubleToBFloat16Bits(value);
}

/// doubleToHalfBits, likewise for normal halves (and zero).
uint16_t encodeHalf(double value) {
  uint64_t bits = llvm::bit_cast<uint64_t>(value);
  uint64_t exponent = (bits >> 52) & 0x7ff;
  uint16_t sign = uint16_t(bits >> 48) & 0x8000;
  if (exponent >= 1023 - 14 && exponent <= 1023 + 15) {
    uint64_t rounded = roundBits(bits, 42);
    uint64_t roundedExponent = (rounded >> 52) & 0x7ff;
    if (roundedExponent > 1023 + 15)
      return sign | 0x7c00; // Rounded up past 65504.
    return sign | uint16_t((roundedExponent - (1023 - 15)) << 10) |
           uint16_t((rounded >> 42) & 0x3ff);
  }
  if ((bits & 0x7fffffffffffffff) == 0)
    return sign;
  return doubleToHalfBits(value);
}

/// Adds weight * x to sums[j] for each element x of `bytes`; returns the
/// index of the first non-finite element, or -1.
template <typename Bits, typename Decode>
int64_t accumulate(ArrayRef<char> bytes, double weight,
                   MutableArrayRef<double> sums, Decode decode) {
  const char *data = bytes.data();
  bool finite = true;
  for (size_t j = 0, e = sums.size(); j < e; ++j) {
    double x = double(decode(support::endian::read<Bits, endianness::little>(
        data + j * sizeof(Bits))));
    // One flag for the whole piece keeps the loop free of early exits.
    finite &= std::isfinite(x);
    sums[j] += weight * x;
  }
  if (finite)
    return -1;
  for (size_t j = 0, e = sums.size(); j < e; ++j)
    if (!std::isfinite(
            double(decode(support::endian::read<Bits, endianness::little>(
                data + j * sizeof(Bits))))))
      return int64_t(j);
  return -1;
}

int64_t accumulate(DType dtype, ArrayRef<char> bytes, double weight,
                   MutableArrayRef<double> sums) {
  switch (dtype) {
  case DType::F64:
    return accumulate<uint64_t>(bytes, weight, sums, [](uint64_t bits) {
      return llvm::bit_cast<double>(bits);
    });
  case DType::F32:
    return accumulate<uint32_t>(bytes, weight, sums, [](uint32_t bits) {
      return llvm::bit_cast<float>(bits);
    });
  case DType::F16:
    return accumulate<uint16_t>(bytes, weight, sums, decodeHalf);
  case DType::BF16:
    return accumulate<uint16_t>(bytes, weight, sums, decodeBFloat16);
  default:
    llvm_unreachable("not a float dtype");
  }
}

/// The value of element `index` of float data, for messages.
double floatElement(DType dtype, const char *data, size_t index) {
  switch (dtype) {
  case DType::F64:
    return llvm::bit_cast<double>(support::endian::read64le(data + 8 * index));
  case DType::F32:
    return llvm::bit_cast<float>(support::endian::read32le(data + 4 * index));
  case DType::F16:
    return decodeHalf(support::endian::read16le(data + 2 * index));
  case DType::BF16:
    return decodeBFloat16(support::endian::read16le(data + 2 * index));
  default:
    llvm_unreachable("not a float dtype");
  }
}

/// The value of element `index` of integer data, for messages.
int64_t intElement(DType dtype, const char *data, size_t index) {
  using namespace support::endian;
  switch (dtype) {
  case DType::I64:
    return int64_t(read64le(data + 8 * index));
  case DType::I32:
    return int32_t(read32le(data + 4 * index));
  case DType::I16:
    return int16_t(read16le(data + 2 * index));
  case DType::I8:
    return int8_t(data[index]);
  case DType::U8:
  case DType::Bool:
    return uint8_t(data[index]);
  default:
    llvm_unreachable("not an integer dtype");
  }
}

/// sum / total as a double that F32, F16 and BF16 round correctly from:
/// the nearest double, unless that is a midpoint of those types while the
/// exact quotient is not, in which case the quotient is rounded to odd
/// instead (see roundToOddFloat). Rounding the nearest double again would
/// tie the wrong way there. `shortTotal` says that `total` has at most 28
/// significant bits.
double divideForNarrow(double sum, double total, bool shortTotal) {
  double quotient = sum / total;
  // A midpoint of F32, F16 or BF16 has at most 25 significant bits, so a
  // quotient with any of its 28 low mantissa bits set is none. This is
  // almost every element when the division is inexact.
  if (llvm::bit_cast<uint64_t>(quotient) & 0x0fffffff)
    return quotient;
  // Which side of the quotient the exact one lies on, if not on it: the
  // sign of the remainder sum - quotient * total. With at most 25 bits in
  // the quotient and 28 in the total, the product is exact in double;
  // otherwise fma gets the remainder exactly (but costs a library call
  // without -mfma).
  bool above;
  if (shortTotal) {
    double product = quotient * total;
    if (product == sum)
      return quotient;
    above = sum > product;
  } else {
    double remainder = std::fma(-quotient, total, sum);
    if (remainder == 0)
      return quotient;
    above = remainder > 0;
  }
  // The quotient is even (its last bit is among the 28 clear ones), so the
  // odd neighbour on the exact quotient's side is the one rounded to odd.
  return std::nextafter(quotient,
                        above ? std::numeric_limits<double>::infinity()
                              : -std::numeric_limits<double>::infinity());
}

/// Whether the double `bits` could be a midpoint between two values of
/// `dtype` (F32, F16 or BF16): for results in the normal range, exactly
/// the rounding bit set below the dtype's mantissa; elsewhere (subnormal
/// results) at least 28 low zero bits, as any midpoint of those types has
/// at most 25 significant bits. Exact quotients with few bits, common with
/// narrow inputs, thus pass only when they are midpoints indeed.
struct MidpointTest {
  uint64_t lowestExponent, exponentSpan, mask, half;

  explicit MidpointTest(DType dtype) {
    int mantissaBits = dtype == DType::F32 ? 23 : dtype == DType::F16 ? 10 : 7;
    int minExponent = dtype == DType::F16 ? -14 : -126;
    int maxExponent = dtype == DType::F16 ? 15 : 127;
    lowestExponent = uint64_t(1023 + minExponent);
    exponentSpan = uint64_t(maxExponent - minExponent);
    int drop = 52 - mantissaBits;
    mask = (uint64_t(1) << drop) - 1;
    half = uint64_t(1) << (drop - 1);
  }

  bool operator()(double value) const {
    uint64_t bits = llvm::bit_cast<uint64_t>(value);
    bool normal = ((bits >> 52) & 0x7ff) - lowestExponent <= exponentSpan;
    return normal ? (bits & mask) == half : (bits & 0x0fffffff) == 0;
  }
};

/// Fills `means` with sums[j] / total, rounded as `dtype` needs: for F32,
/// F16 and BF16 a quotient that they can be rounded from once
/// (divideForNarrow), for F64 the double nearest the exact quotient. The
/// loops are written to vectorize: the division (a product, exact, when
/// the total is a power of two, as for 2, 4, 8, ... checkpoints averaged
/// uniformly) in one pass, the rare quotients that could be midpoints
/// redone in another.
void computeMeans(DType dtype, ArrayRef<double> sums, double total,
                  MutableArrayRef<double> means) {
  const size_t n = sums.size();
  int exponent;
  if (std::frexp(total, &exponent) == 0.5) {
    const double scale = 1 / total;
    for (size_t j = 0; j < n; ++j)
      means[j] = sums[j] * scale;
    return;
  }
  if (dtype == DType::F64) {
    for (size_t j = 0; j < n; ++j)
      means[j] = sums[j] / total;
    return;
  }
  const MidpointTest maybeMidpoint(dtype);
  bool suspicious = false;
  for (size_t j = 0; j < n; ++j) {
    means[j] = sums[j] / total;
    suspicious |= maybeMidpoint(means[j]);
  }
  if (!suspicious)
    return;
  const bool shortTotal =
      (llvm::bit_cast<uint64_t>(total) & ((uint64_t(1) << 25) - 1)) == 0;
  for (size_t j = 0; j < n; ++j)
    if (maybeMidpoint(means[j]))
      means[j] = divideForNarrow(sums[j], total, shortTotal);
}

/// Stores fast(means[j]) for every element, where `fast` also says whether
/// its result may be wrong (values outside the range it handles); those
/// elements are then stored again with `exact`. The first loop has no
/// branches, so that it vectorizes.
template <typename Bits, typename Fast, typename Exact>
void storeNarrow(ArrayRef<double> means, char *out, Fast fast, Exact exact) {
  bool any = false;
  for (size_t j = 0, e = means.size(); j < e; ++j) {
    bool redo = false;
    support::endian::write<Bits, endianness::little>(out + j * sizeof(Bits),
                                                     fast(means[j], redo));
    any |= redo;
  }
  if (!any)
    return;
  for (size_t j = 0, e = means.size(); j < e; ++j) {
    bool redo = false;
    (void)fast(means[j], redo);
    if (redo)
      support::endian::write<Bits, endianness::little>(out + j * sizeof(Bits),
                                                       exact(means[j]));
  }
}

/// Writes sums[j] / total in `dtype`, rounded to nearest even, to `out`,
/// using `means` (as long as `sums`) as scratch. When the sums are exact
/// (see Average.h), the result is the exact weighted mean correctly
/// rounded. Returns the index of the first mean that is not finite (only
/// F64 sums near the top of the double range can overflow), or -1.
int64_t encode(DType dtype, ArrayRef<double> sums, double total,
               MutableArrayRef<double> means, char *out) {
  using namespace support::endian;
  computeMeans(dtype, sums, total, means);
  bool finite = true;
  for (double mean : means)
    finite &= std::isfinite(mean);
  if (!finite)
    return llvm::find_if(means, [](double m) { return !std::isfinite(m); }) -
           means.begin();

  const size_t n = means.size();
  switch (dtype) {
  case DType::F64:
    for (size_t j = 0; j < n; ++j)
      write64le(out + 8 * j, llvm::bit_cast<uint64_t>(means[j]));
    break;
  case DType::F32:
    for (size_t j = 0; j < n; ++j)
      write32le(out + 4 * j, llvm::bit_cast<uint32_t>(float(means[j])));
    break;
  case DType::F16:
    // Normal halves: round the double's bits once at bit 42 and rebias
    // the exponent; overflow, subnormals and zeros go to the helper.
    storeNarrow<uint16_t>(
        means, out,
        [](double mean, bool &redo) {
          uint64_t bits = llvm::bit_cast<uint64_t>(mean);
          uint64_t exponent = (bits >> 52) & 0x7ff;
          uint64_t rounded = roundBits(bits, 42);
          uint64_t roundedExponent = (rounded >> 52) & 0x7ff;
          redo = exponent - (1023 - 14) > 29 || roundedExponent > 1023 + 15;
          return uint16_t(((bits >> 48) & 0x8000) |
                          ((roundedExponent - (1023 - 15)) & 0x1f) << 10 |
                          ((rounded >> 42) & 0x3ff));
        },
        encodeHalf);
    break;
  case DType::BF16:
    // Normal bfloat16s: round the double's bits once at bit 45; the result
    // narrows to float exactly. Subnormals and zeros go to the helper.
    storeNarrow<uint16_t>(
        means, out,
        [](double mean, bool &redo) {
          uint64_t bits = llvm::bit_cast<uint64_t>(mean);
          uint64_t exponent = (bits >> 52) & 0x7ff;
          redo = exponent - (1023 - 126) > 253;
          float rounded = float(llvm::bit_cast<double>(roundBits(bits, 45)));
          return uint16_t(llvm::bit_cast<uint32_t>(rounded) >> 16);
        },
        encodeBFloat16);
    break;
  default:
    llvm_unreachable("not a float dtype");
  }
  return -1;
}

std::string formatValue(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  return formatNumber(value);
}

//===----------------------------------------------------------------------===//
// Averager
//===----------------------------------------------------------------------===//

/// Writes output files one tensor at a time, one piece of a tensor at a
/// time, and counts what it did.
class Averager {
public:
  Averager(ArrayRef<const Checkpoint *> checkpoints,
           const AverageOptions &options)
      : checkpoints(checkpoints), options(options) {
    // Scaling by a power of two keeps the weights exact (uniform weights
    // stay 1, so sums of a few narrow floats are exact) while bounding the
    // products, whatever scale the user chose.
    double largest = *llvm::max_element(options.weights);
    for (double weight : options.weights) {
      scaled.push_back(std::ldexp(weight, -std::ilogb(largest)));
      total += scaled.back();
    }
    tensorCount = checkpoints.front()->getTensors().size();
  }

  /// Writes the tensors `names` (a subset of the checkpoints' tensors) to
  /// the safetensors file `path`.
  Error writeFile(StringRef path, ArrayRef<std::string> names,
                  const std::map<std::string, std::string> &metadata) {
    SafetensorsStreamWriter writer;
    for (const std::string &name : names) {
      const TensorView &view = *checkpoints.front()->find(name)->view;
      if (Error error = writer.declare(name, view.dtype, view.shape))
        return error;
    }
    for (const auto &[key, value] : metadata)
      writer.setMetadata(key, value);
    if (Error error = writer.begin(path))
      return error;
    for (const SafetensorsStreamWriter::Tensor &tensor : writer.getTensors())
      if (Error error = writeTensor(writer, tensor))
        return error;
    return writer.finish();
  }

  AverageSummary summary;

private:
  Error writeTensor(SafetensorsStreamWriter &writer,
                    const SafetensorsStreamWriter::Tensor &tensor) {
    std::vector<const CheckpointEntry *> inputs;
    for (const Checkpoint *checkpoint : checkpoints)
      inputs.push_back(checkpoint->find(tensor.name));
    const size_t elementSize = getDTypeSize(tensor.dtype);
    const int64_t count = inputs.front()->view->getNumElements();
    const bool isFloat = isFloatDType(tensor.dtype);
    const int64_t chunk = std::max<int64_t>(1, options.chunkElements);

    // One piece at least, so that empty tensors go through the writer too.
    int64_t begin = 0;
    do {
      const size_t n = size_t(std::min(chunk, count - begin));
      Piece piece{tensor, begin, n, size_t(begin) * elementSize,
                  n * elementSize};
      Error error = isFloat ? averagePiece(writer, inputs, piece)
                            : copyPiece(writer, inputs, piece);
      if (error)
        return error;
      begin += int64_t(n);
    } while (begin < count);

    ++summary.tensors;
    summary.averagedTensors += isFloat;
    summary.bytesWritten += tensor.size;
    if (options.progress)
      *options.progress << "[" << summary.tensors << "/" << tensorCount << "] "
                        << (isFloat ? "averaged" : "copied") << " '"
                        << tensor.name << "' " << getDTypeName(tensor.dtype)
                        << " " << formatShape(tensor.shape) << " ("
                        << formatByteSize(tensor.size) << ")\n";
    return Error::success();
  }

  /// Elements [begin, begin + n) of a tensor, at `offset` bytes into its
  /// data.
  struct Piece {
    const SafetensorsStreamWriter::Tensor &tensor;
    int64_t begin;
    size_t n;
    size_t offset;
    size_t bytes;
    ArrayRef<char> of(const CheckpointEntry *input) const {
      return input->view->data.slice(offset, bytes);
    }
  };

  Error averagePiece(SafetensorsStreamWriter &writer,
                     ArrayRef<const CheckpointEntry *> inputs,
                     const Piece &piece) {
    const SafetensorsStreamWriter::Tensor &tensor = piece.tensor;
    const int64_t begin = piece.begin;
    // -0 is the identity of addition (+0 + -0 is +0): checkpoints that all
    // hold -0 average to -0, as copying them would.
    sums.assign(piece.n, -0.0);
    for (auto [input, weight] : llvm::zip_equal(inputs, scaled)) {
      if (weight == 0)
        continue;
      ArrayRef<char> bytes = piece.of(input);
      int64_t bad = accumulate(tensor.dtype, bytes, weight, sums);
      if (bad >= 0)
        return makeError(
            "tensor '" + tensor.name + "' has a non-finite value (" +
            formatValue(floatElement(tensor.dtype, bytes.data(), bad)) +
            ") at element " + Twine(begin + bad) + " in '" +
            input->file->getPath() + "'");
      summary.bytesRead += bytes.size();
      // Read once: let the pages go, so that memory holds one piece.
      input->file->dropResidentPages(bytes);
    }
    out.resize(piece.bytes);
    means.resize(piece.n);
    int64_t bad = encode(tensor.dtype, sums, total, means, out.data());
    if (bad >= 0)
      return makeError("tensor '" + tensor.name +
                       "': the weighted average overflows at element " +
                       Twine(begin + bad));
    return writer.write(tensor.name, out);
  }

  Error copyPiece(SafetensorsStreamWriter &writer,
                  ArrayRef<const CheckpointEntry *> inputs,
                  const Piece &piece) {
    const SafetensorsStreamWriter::Tensor &tensor = piece.tensor;
    const int64_t begin = piece.begin;
    ArrayRef<char> first = piece.of(inputs.front());
    const size_t elementSize = getDTypeSize(tensor.dtype);
    for (const CheckpointEntry *input : inputs.drop_front()) {
      ArrayRef<char> bytes = piece.of(input);
      summary.bytesRead += bytes.size();
      if (std::memcmp(first.data(), bytes.data(), bytes.size()) != 0) {
        size_t j = 0;
        while (std::memcmp(first.data() + j * elementSize,
                           bytes.data() + j * elementSize, elementSize) == 0)
          ++j;
        return makeError(
            "integer tensor '" + tensor.name + "' differs between '" +
            inputs.front()->file->getPath() + "' and '" +
            input->file->getPath() + "' at element " + Twine(begin + j) + " (" +
            Twine(intElement(tensor.dtype, first.data(), j)) + " vs " +
            Twine(intElement(tensor.dtype, bytes.data(), j)) +
            "): integer tensors are copied, not averaged, so they must be "
            "identical");
      }
      input->file->dropResidentPages(bytes);
    }
    summary.bytesRead += first.size();
    Error error = writer.write(tensor.name, first);
    inputs.front()->file->dropResidentPages(first);
    return error;
  }

  ArrayRef<const Checkpoint *> checkpoints;
  const AverageOptions &options;
  std::vector<double> scaled;
  double total = 0;
  size_t tensorCount = 0;
  std::vector<double> sums;
  std::vector<double> means;
  std::vector<char> out;
};

} // namespace

//===----------------------------------------------------------------------===//
// writeAverage
//===----------------------------------------------------------------------===//

namespace {
/// Removes a directory tree when it goes out of scope, unless released.
class DirectoryRemover {
public:
  explicit DirectoryRemover(std::string path) : path(std::move(path)) {}
  ~DirectoryRemover() {
    if (!path.empty())
      (void)sys::fs::remove_directories(path);
  }
  void release() { path.clear(); }

private:
  std::string path;
};
} // namespace

Expected<std::string> qwha::createDirectoryBeside(StringRef path,
                                                  StringRef tag) {
  SmallString<256> model(path);
  while (model.size() > 1 && sys::path::is_separator(model.back()))
    model.pop_back();
  if (std::error_code ec = sys::fs::make_absolute(model))
    return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                             ec.message().c_str());
  model += ("." + tag + "-%%%%%%%%").str();
  for (int attempt = 0;; ++attempt) {
    SmallString<256> directory;
    sys::fs::createUniquePath(model, directory, /*MakeAbsolute=*/false);
    // The permissions mkdir(1) would give: the directory becomes the output.
    std::error_code ec = sys::fs::create_directory(
        directory, /*IgnoreExisting=*/false, sys::fs::all_all);
    if (!ec)
      return std::string(directory);
    if (ec != errc::file_exists || attempt == 100)
      return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                               ec.message().c_str());
  }
}

Error qwha::checkOutput(StringRef output) {
  // The directory that will hold the output (or its temporary) must exist.
  SmallString<256> parent(output);
  while (parent.size() > 1 && sys::path::is_separator(parent.back()))
    parent.pop_back();
  if (std::error_code ec = sys::fs::make_absolute(parent))
    return createStringError(ec, "cannot write '%s': %s", output.str().c_str(),
                             ec.message().c_str());
  sys::path::remove_filename(parent);
  if (!sys::fs::is_directory(parent))
    return createStringError(
        std::make_error_code(std::errc::no_such_file_or_directory),
        "cannot write '%s': %s", output.str().c_str(),
        std::make_error_code(std::errc::no_such_file_or_directory)
            .message()
            .c_str());
  if (isFileOutput(output))
    return Error::success();

  // A directory is renamed onto `output`: nothing may be there but an empty
  // directory.
  sys::fs::file_status status;
  if (sys::fs::status(output, status))
    return Error::success(); // Does not exist (or the rename will say why).
  if (!sys::fs::is_directory(status))
    return makeError("cannot write the checkpoint directory '" + output +
                     "': a file of that name exists (name a .safetensors "
                     "file to write a single file)");
  std::error_code ec;
  sys::fs::directory_iterator it(output, ec);
  if (!ec && it != sys::fs::directory_iterator())
    return makeError("cannot write the checkpoint directory '" + output +
                     "': it exists and is not empty; remove it or choose "
                     "another path");
  return Error::success();
}

Expected<AverageSummary>
qwha::writeAverage(ArrayRef<const Checkpoint *> checkpoints, StringRef output,
                   const AverageOptions &options) {
  if (checkpoints.empty())
    return makeError("no checkpoints to average");
  if (Error error = checkWeights(options.weights, checkpoints.size()))
    return std::move(error);
  if (options.reference >= checkpoints.size())
    return makeError("the reference checkpoint is not one of the inputs");
  if (Error error = checkCompatible(checkpoints))
    return std::move(error);
  if (Error error = checkOutput(output))
    return std::move(error);

  const Checkpoint &reference = *checkpoints[options.reference];
  std::map<std::string, std::string> metadata = reference.getMetadata();
  for (const auto &[key, value] : options.metadata)
    metadata[key] = value;
  Averager averager(checkpoints, options);

  if (isFileOutput(output)) {
    std::vector<std::string> names;
    for (const auto &entry : reference.getTensors())
      names.push_back(entry.first);
    if (Error error = averager.writeFile(output, names, metadata))
      return std::move(error);
    averager.summary.files.push_back(sys::path::filename(output).str());
    return std::move(averager.summary);
  }

  // Built beside the output and renamed onto it at the end.
  Expected<std::string> temporary = createDirectoryBeside(output, "tmp");
  if (!temporary)
    return temporary.takeError();
  DirectoryRemover remover(*temporary);

  // The reference's layout: the same shard for each tensor, or one file.
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto &[name, tensor] : reference.getTensors())
    shards[reference.isSharded() ? tensor.shard : "model.safetensors"]
        .push_back(name);
  if (shards.empty())
    shards["model.safetensors"];
  for (const auto &[shard, names] : shards) {
    if (Error error =
            averager.writeFile(joinPath(*temporary, shard), names, metadata))
      return std::move(error);
    averager.summary.files.push_back(shard);
  }

  if (reference.isSharded()) {
    // As transformers writes it: sorted keys, two-space indent.
    json::Object weightMap;
    for (const auto &[name, tensor] : reference.getTensors())
      weightMap[name] = tensor.shard;
    json::Value index = json::Object{
        {"metadata",
         json::Object{{"total_size", int64_t(averager.summary.bytesWritten)}}},
        {"weight_map", std::move(weightMap)}};
    std::string path = joinPath(*temporary, "model.safetensors.index.json");
    if (Error error = writeFileAtomically(path, [&](raw_ostream &os) {
          os << formatv("{0:2}", index) << "\n";
          return Error::success();
        }))
      return std::move(error);
    averager.summary.files.push_back("model.safetensors.index.json");
  }

  Expected<std::vector<std::string>> modelFiles = reference.listModelFiles();
  if (!modelFiles)
    return modelFiles.takeError();
  for (const std::string &name : *modelFiles) {
    std::string from = joinPath(reference.getPath(), name);
    if (std::error_code ec =
            sys::fs::copy_file(from, joinPath(*temporary, name)))
      return createStringError(ec, "cannot copy '%s' into '%s': %s",
                               from.c_str(), output.str().c_str(),
                               ec.message().c_str());
    averager.summary.files.push_back(name);
  }

  StringRef target = output;
  while (target.size() > 1 && sys::path::is_separator(target.back()))
    target = target.drop_back();
  if (std::error_code ec = sys::fs::rename(*temporary, target))
    return createStringError(ec, "cannot write '%s': %s", output.str().c_str(),
                             ec.message().c_str());
  remover.release();
  return std::move(averager.summary);
}
