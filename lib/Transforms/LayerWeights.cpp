//===- LayerWeights.cpp - Constant weights of qwha layers -----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "qwha/Transforms/LayerWeights.h"
#include "qwha/Support/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/TypeUtilities.h"

#include <cstring>

using namespace mlir;
using namespace qwha;

namespace {

/// Raw row-major bytes of a constant, expanding splats.
FailureOr<std::vector<char>> getConstantBytes(Value value, Operation *user,
                                              StringRef what) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  if (!constant)
    return user->emitError() << what << " is not a constant";
  auto type = cast<ShapedType>(value.getType());
  const size_t elementBytes =
      std::max<size_t>(1, type.getElementType().getIntOrFloatBitWidth() / 8);
  Attribute attr = constant.getValue();
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return user->emitError()
             << what << " has no data: its dense_resource blob is missing or "
                        "elided";
    ArrayRef<char> data = blob->getData();
    if (data.size() != size_t(type.getNumElements()) * elementBytes)
      return user->emitError() << what << " has " << data.size()
                               << " bytes of data, expected "
                               << type.getNumElements() * elementBytes;
    return std::vector<char>(data.begin(), data.end());
  }
  auto dense = dyn_cast<DenseIntOrFPElementsAttr>(attr);
  if (!dense)
    return user->emitError() << what
                             << " is neither a dense nor a dense_resource "
                                "constant";
  ArrayRef<char> raw = dense.getRawData();
  if (!dense.isSplat())
    return std::vector<char>(raw.begin(), raw.end());
  std::vector<char> bytes;
  bytes.reserve(type.getNumElements() * elementBytes);
  for (int64_t i = 0; i < type.getNumElements(); ++i)
    bytes.insert(bytes.end(), raw.begin(), raw.begin() + elementBytes);
  return bytes;
}

template <typename T>
T load(const char *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

} // namespace

FailureOr<std::vector<float>> qwha::readConstantFloats(Value value,
                                                       Operation *user,
                                                       StringRef what) {
  Type element = getElementTypeOrSelf(value);
  if (!element.isF32() && !element.isF16() && !element.isBF16() &&
      !element.isF64())
    return user->emitError() << what << " has element type " << element
                             << "; expected f32, f16, bf16 or f64";
  FailureOr<std::vector<char>> bytes = getConstantBytes(value, user, what);
  if (failed(bytes))
    return failure();
  const size_t elementBytes = element.getIntOrFloatBitWidth() / 8;
  const size_t count = bytes->size() / elementBytes;
  std::vector<float> values(count);
  const char *p = bytes->data();
  for (size_t i = 0; i < count; ++i, p += elementBytes) {
    if (element.isF32())
      values[i] = load<float>(p);
    else if (element.isF64())
      values[i] = float(load<double>(p));
    else if (element.isF16())
      values[i] = halfBitsToFloat(load<uint16_t>(p));
    else
      values[i] = bfloat16BitsToFloat(load<uint16_t>(p));
  }
  return values;
}

FailureOr<std::vector<int64_t>> qwha::readConstantIntegers(Value value,
                                                           Operation *user,
                                                           StringRef what) {
  auto element = dyn_cast<IntegerType>(getElementTypeOrSelf(value));
  if (!element || element.getWidth() > 32)
    return user->emitError() << what << " is not an integer tensor of at "
                                        "most 32 bits";
  FailureOr<std::vector<char>> bytes = getConstantBytes(value, user, what);
  if (failed(bytes))
    return failure();
  const unsigned width = element.getWidth();
  const size_t elementBytes = std::max(1u, width / 8);
  std::vector<int64_t> values(bytes->size() / elementBytes);
  const char *p = bytes->data();
  const uint64_t mask = width == 64 ? ~0ull : ((1ull << width) - 1);
  for (size_t i = 0; i < values.size(); ++i, p += elementBytes) {
    uint64_t raw = 0;
    std::memcpy(&raw, p, elementBytes);
    values[i] = int64_t(raw & mask);
  }
  return values;
}

QLinearOp qwha::replaceWithQLinear(LinearOp layer,
                                   const quant::QuantizedMatrix &q,
                                   FloatType scaleType, bool keepFloatWeight) {
  OpBuilder b(layer);
  Location loc = layer.getLoc();
  MLIRContext *context = b.getContext();
  const int64_t groups = q.getNumGroups();
  auto codeType = IntegerType::get(context, q.bits);

  // Sub-byte integers take one byte per element in a dense attribute.
  auto codesType = RankedTensorType::get({q.rows, q.cols}, codeType);
  auto codes = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::getFromRawBuffer(
          codesType, ArrayRef<char>(reinterpret_cast<const char *>(q.codes.data()),
                                    q.codes.size())));

  std::vector<uint8_t> zeroCodes(q.zeros.size());
  for (size_t i = 0; i < q.zeros.size(); ++i)
    zeroCodes[i] = uint8_t(q.zeros[i]);
  auto gridType = RankedTensorType::get({q.rows, groups}, codeType);
  auto zeros = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::getFromRawBuffer(
          gridType, ArrayRef<char>(reinterpret_cast<const char *>(zeroCodes.data()),
                                   zeroCodes.size())));

  auto scalesType = RankedTensorType::get({q.rows, groups}, scaleType);
  SmallVector<APFloat> scaleValues;
  scaleValues.reserve(q.scales.size());
  for (float s : q.scales) {
    APFloat v(s);
    bool losesInfo;
    v.convert(scaleType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
              &losesInfo);
    scaleValues.push_back(v);
  }
  auto scales = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(scalesType, scaleValues));

  Value gIdx;
  if (!q.gIdx.empty())
    gIdx = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({q.cols}, b.getI32Type()),
            ArrayRef<int32_t>(q.gIdx)));

  int64_t groupSize = q.groupSize == q.cols ? -1 : q.groupSize;
  auto qlinear = QLinearOp::create(
      b, loc, layer.getResult().getType(), layer.getNameAttr(),
      layer.getInput(), codes, scales, zeros, gIdx,
      b.getI64IntegerAttr(groupSize));
  if (keepFloatWeight)
    if (auto constant = layer.getWeight().getDefiningOp<arith::ConstantOp>())
      qlinear->setAttr(QWHADialect::getFloatWeightAttrName(),
                       constant.getValue());
  layer.getResult().replaceAllUsesWith(qlinear.getResult());
  Value weight = layer.getWeight();
  layer.erase();
  if (Operation *def = weight.getDefiningOp(); def && def->use_empty())
    def->erase();
  return qlinear;
}

FailureOr<quant::QuantizedMatrix> qwha::readQuantizedWeight(QuantizedWeightOpInterface layer) {
  Operation *op = layer.getOperation();
  quant::QuantizedMatrix q;
  RankedTensorType codesType = layer.getCodes().getType();
  q.rows = codesType.getDimSize(0);
  q.cols = codesType.getDimSize(1);
  q.bits = layer.getBits();
  q.groupSize = layer.getEffectiveGroupSize();
  FailureOr<std::vector<int64_t>> codes =
      readConstantIntegers(layer.getCodes(), op, "codes");
  FailureOr<std::vector<float>> scales =
      readConstantFloats(layer.getScales(), op, "scales");
  if (failed(codes) || failed(scales))
    return failure();
  q.codes.assign(codes->begin(), codes->end());
  q.scales = std::move(*scales);
  if (isa<IntegerType>(layer.getZeros().getType().getElementType())) {
    FailureOr<std::vector<int64_t>> zeros =
        readConstantIntegers(layer.getZeros(), op, "zeros");
    if (failed(zeros))
      return failure();
    q.zeros.assign(zeros->begin(), zeros->end());
  } else {
    FailureOr<std::vector<float>> zeros =
        readConstantFloats(layer.getZeros(), op, "zeros");
    if (failed(zeros))
      return failure();
    q.zeros = std::move(*zeros);
  }
  if (layer.getGIdx()) {
    FailureOr<std::vector<int64_t>> gIdx =
        readConstantIntegers(layer.getGIdx(), op, "g_idx");
    if (failed(gIdx))
      return failure();
    q.gIdx.assign(gIdx->begin(), gIdx->end());
  }
  return q;
}

FailureOr<std::vector<float>> qwha::readKeptFloatWeight(QLinearOp layer) {
  Attribute attr = layer->getAttr(QWHADialect::getFloatWeightAttrName());
  if (!attr)
    return layer.emitError("layer '")
           << layer.getName()
           << "' has no float weight to measure its quantization error: "
              "quantize it with keep-float-weight=true";
  // Read through a temporary constant, sharing the weight reader.
  OpBuilder builder(layer);
  auto constant =
      arith::ConstantOp::create(builder, layer.getLoc(), cast<TypedAttr>(attr));
  FailureOr<std::vector<float>> values = readConstantFloats(
      constant, layer, "the float weight of layer '" + layer.getName().str() +
                           "'");
  constant.erase();
  return values;
}
