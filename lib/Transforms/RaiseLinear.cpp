//===- RaiseLinear.cpp - Raise linalg contractions to qwha.linear ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Matching works on indexing maps, not on op names, so that named ops
// (matmul, batch_matmul, matvec, vecmat, matmul with transposing maps) and
// generic contractions are one case: the output's last loop is n, the one
// reduction loop is k, the activation is indexed by the output's leading
// loops then k, and the weight by n, k and (broadcast or unit) batch loops.
//
//===----------------------------------------------------------------------===//

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/Support/RawTensor.h"
#include "qwha/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"

#define DEBUG_TYPE "qwha-raise-linear"

namespace qwha {
#define GEN_PASS_DEF_RAISELINEAR
#include "qwha/Transforms/Passes.h.inc"
} // namespace qwha

using namespace mlir;
using namespace qwha;

namespace {

/// A layout change between the constant and the contraction's weight
/// operand, recorded from the constant outwards.
struct LayoutStep {
  enum Kind { Transpose, Reshape } kind;
  SmallVector<int64_t> permutation; // Transpose only
  RankedTensorType resultType;
};

/// How a contraction's weight operand derives from a constant.
struct WeightSource {
  arith::ConstantOp constant;
  /// Layout steps applied to the constant, innermost first.
  SmallVector<LayoutStep> steps;
  /// The value the steps produce (the contraction operand, minus any
  /// broadcast over batch dimensions).
  Value value;
  /// Whether, after dropping unit batch dimensions, `value` is [K, N]
  /// rather than [N, K].
  bool isInOutLayout = false;
  /// Output and input features.
  int64_t outFeatures = 0, inFeatures = 0;
};

/// A contraction recognised as a linear layer.
struct LinearMatch {
  linalg::LinalgOp op;
  /// Which input is the activation. Kept as an index: earlier rewrites may
  /// replace the value that produces it.
  unsigned inputIndex = 0;
  WeightSource weight;
  std::string name;
  /// Whether the name came from the IR rather than being generated.
  bool explicitName = false;
};

/// Result of a failed match, with the reason for `report-unmatched`.
struct NoMatch {
  std::string reason;
  bool hasConstantOperand = false;
};

/// The permutation of a linalg.transpose or of a generic that only copies its
/// input through permutation maps, in the linalg.transpose convention.
std::optional<SmallVector<int64_t>> getTransposePermutation(Operation *op) {
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op))
    return SmallVector<int64_t>(transpose.getPermutation());
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != generic.getNumParallelLoops())
    return std::nullopt;
  Block &body = generic.getRegion().front();
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!yield || body.getOperations().size() != 1 ||
      yield.getOperand(0) != body.getArgument(0))
    return std::nullopt;
  AffineMap inMap = generic.getIndexingMapsArray()[0];
  AffineMap outMap = generic.getIndexingMapsArray()[1];
  if (!inMap.isPermutation() || !outMap.isPermutation())
    return std::nullopt;
  SmallVector<int64_t> permutation;
  for (unsigned j = 0; j < outMap.getNumResults(); ++j) {
    unsigned loop = outMap.getDimPosition(j);
    permutation.push_back(*inMap.getResultPosition(
        getAffineDimExpr(loop, op->getContext())));
  }
  return permutation;
}

/// Follows `value` back to a constant through transposes and reshapes.
FailureOr<WeightSource> traceToConstant(Value value, std::string &reason) {
  WeightSource source;
  source.value = value;
  SmallVector<LayoutStep> outerFirst;
  while (true) {
    Operation *def = value.getDefiningOp();
    if (!def) {
      reason = "the weight is a function argument, not a constant";
      return failure();
    }
    if (auto constant = dyn_cast<arith::ConstantOp>(def)) {
      if (!isa<DenseElementsAttr, DenseResourceElementsAttr>(
              constant.getValue())) {
        reason = "the weight constant is neither dense nor dense_resource";
        return failure();
      }
      source.constant = constant;
      break;
    }
    auto resultType = cast<RankedTensorType>(value.getType());
    if (std::optional<SmallVector<int64_t>> permutation =
            getTransposePermutation(def)) {
      outerFirst.push_back({LayoutStep::Transpose, *permutation, resultType});
      value = cast<linalg::LinalgOp>(def).getDpsInputs()[0];
      continue;
    }
    if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def)) {
      outerFirst.push_back({LayoutStep::Reshape, {}, resultType});
      value = def->getOperand(0);
      continue;
    }
    reason = ("the weight is computed by '" + def->getName().getStringRef() +
              "', not reached from a constant through transposes and "
              "reshapes")
                 .str();
    return failure();
  }
  source.steps.assign(outerFirst.rbegin(), outerFirst.rend());
  return source;
}

/// Whether `block` is exactly `yield(acc + a * b)` on floats.
bool isMultiplyAddBody(Block &block) {
  if (block.getNumArguments() != 3 || block.getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(block.front());
  auto add = dyn_cast<arith::AddFOp>(*std::next(block.begin()));
  auto yield = dyn_cast<linalg::YieldOp>(block.getTerminator());
  if (!mul || !add || !yield || yield.getOperand(0) != add.getResult())
    return false;
  Value a = block.getArgument(0), b = block.getArgument(1),
        acc = block.getArgument(2);
  bool mulOk = (mul.getLhs() == a && mul.getRhs() == b) ||
               (mul.getLhs() == b && mul.getRhs() == a);
  bool addOk = (add.getLhs() == acc && add.getRhs() == mul.getResult()) ||
               (add.getRhs() == acc && add.getLhs() == mul.getResult());
  return mulOk && addOk;
}

bool isZeroFilled(Value init) {
  if (matchPattern(init, m_AnyZeroFloat()))
    return true;
  if (auto fill = init.getDefiningOp<linalg::FillOp>())
    return matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
  return false;
}

/// Whether `value` is a constant up to layout changes (transposes,
/// broadcasts, reshapes) or is computed directly from one: the contractions
/// worth a remark when they are not raised.
bool isWeightLike(Value value) {
  for (int depth = 0; depth < 8; ++depth) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return false;
    if (isa<arith::ConstantOp>(def))
      return cast<ShapedType>(value.getType()).getRank() >= 1;
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(def)) {
      if (linalgOp.getNumReductionLoops() != 0)
        return false;
      // Computed elementwise from a constant: a dequantized weight, say.
      for (Value input : linalgOp.getDpsInputs())
        if (input.getDefiningOp<arith::ConstantOp>() &&
            cast<ShapedType>(input.getType()).getRank() >= 2)
          return true;
      if (linalgOp.getNumDpsInputs() != 1)
        return false;
      value = linalgOp.getDpsInputs()[0];
      continue;
    }
    if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp, tensor::CastOp>(
            def))
      return false;
    value = def->getOperand(0);
  }
  return false;
}

/// Tries to see `op` as `y = x W^T` with W from a constant.
FailureOr<LinearMatch> matchLinear(linalg::LinalgOp op, NoMatch &noMatch) {
  auto fail = [&](const Twine &why) {
    noMatch.reason = why.str();
    return failure();
  };
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics())
    return fail("not a two-input contraction on tensors");
  // Elementwise ops (bias adds) are not contractions and get no remark.
  noMatch.hasConstantOperand =
      op.getNumReductionLoops() > 0 &&
      (isWeightLike(op.getDpsInputs()[0]) || isWeightLike(op.getDpsInputs()[1]));
  if (op.getNumReductionLoops() != 1)
    return fail("the contraction must have exactly one reduction dimension");
  // The body also guarantees that activation, weight and result share one
  // element type: mulf and addf take operands of a single type.
  if (!isMultiplyAddBody(*op.getBlock()))
    return fail("the body is not a multiply-add in one float type (it "
                "converts types or computes something else)");
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps)
    if (!map.isProjectedPermutation())
      return fail("an indexing map is not a projected permutation");

  SmallVector<unsigned> reductionDims;
  op.getReductionDims(reductionDims);
  const unsigned k = reductionDims.front();
  AffineMap outMap = maps[2];
  if (outMap.getNumResults() == 0)
    return fail("the result is a scalar");
  const unsigned n = outMap.getDimPosition(outMap.getNumResults() - 1);
  SmallVector<unsigned> leading;
  for (unsigned i = 0; i + 1 < outMap.getNumResults(); ++i)
    leading.push_back(outMap.getDimPosition(i));

  Value init = op.getDpsInits()[0];
  // Try each input as the weight; report why the first weight-like one
  // failed.
  std::string firstReason;
  auto reject = [&](std::string reason) {
    if (firstReason.empty())
      firstReason = std::move(reason);
  };
  for (auto [xIdx, wIdx] : {std::pair{0, 1}, std::pair{1, 0}}) {
    if (!isWeightLike(op.getDpsInputs()[wIdx]))
      continue;
    AffineMap xMap = maps[xIdx], wMap = maps[wIdx];
    // The activation is indexed by the output's leading loops, then k.
    SmallVector<unsigned> expectedX(leading);
    expectedX.push_back(k);
    SmallVector<unsigned> xDims;
    for (unsigned i = 0; i < xMap.getNumResults(); ++i)
      xDims.push_back(xMap.getDimPosition(i));
    if (xDims != expectedX) {
      reject("the activation is not indexed as [..., k] in the output's "
             "order");
      continue;
    }
    // The weight is indexed by n, k and batch loops shared with the output.
    Value weight = op.getDpsInputs()[wIdx];
    SmallVector<unsigned> wDims;
    for (unsigned i = 0; i < wMap.getNumResults(); ++i)
      wDims.push_back(wMap.getDimPosition(i));
    if (llvm::count(wDims, n) != 1 || llvm::count(wDims, k) != 1) {
      reject("the weight is not indexed by both n and k");
      continue;
    }
    SmallVector<int64_t> batchPositions;
    for (auto [pos, dim] : llvm::enumerate(wDims))
      if (dim != n && dim != k)
        batchPositions.push_back(pos);
    if (!llvm::all_of(batchPositions, [&](int64_t pos) {
          return llvm::is_contained(leading, wDims[pos]);
        })) {
      reject("the weight is indexed by a loop the output does not have");
      continue;
    }

    // A broadcast over batch loops repeats one weight for every batch.
    SmallVector<unsigned> remainingDims = wDims;
    if (auto broadcast = weight.getDefiningOp<linalg::BroadcastOp>()) {
      ArrayRef<int64_t> added = broadcast.getDimensions();
      if (!llvm::all_of(added, [&](int64_t d) {
            return llvm::is_contained(batchPositions, d);
          })) {
        reject("the weight is broadcast along n or k");
        continue;
      }
      weight = broadcast.getInput();
      remainingDims.clear();
      for (auto [pos, dim] : llvm::enumerate(wDims))
        if (!llvm::is_contained(added, int64_t(pos)))
          remainingDims.push_back(dim);
    }
    auto weightType = cast<RankedTensorType>(weight.getType());
    if (!weightType.hasStaticShape()) {
      reject("the weight has a dynamic shape");
      continue;
    }
    bool unitBatchOnly = true;
    for (auto [pos, dim] : llvm::enumerate(remainingDims))
      if (dim != n && dim != k && weightType.getDimSize(pos) != 1)
        unitBatchOnly = false;
    if (!unitBatchOnly) {
      reject("the weight differs across batch dimensions");
      continue;
    }

    std::string traceReason;
    FailureOr<WeightSource> source = traceToConstant(weight, traceReason);
    if (failed(source)) {
      reject(traceReason);
      continue;
    }
    auto nPos = llvm::find(remainingDims, n) - remainingDims.begin();
    auto kPos = llvm::find(remainingDims, k) - remainingDims.begin();
    source->isInOutLayout = kPos < nPos;
    source->outFeatures = weightType.getDimSize(nPos);
    source->inFeatures = weightType.getDimSize(kPos);

    if (!isZeroFilled(init))
      return fail("the output is not zero-filled, so the contraction "
                  "accumulates into existing values");

    LinearMatch match;
    match.op = op;
    match.inputIndex = xIdx;
    match.weight = std::move(*source);
    return match;
  }
  return fail(firstReason.empty() ? "no operand is a constant weight"
                                  : firstReason);
}

/// The name the layer is given by the IR itself, if any.
std::optional<std::string> getNameFromIR(Operation *op) {
  if (auto attr = op->getAttrOfType<StringAttr>(
          QWHADialect::getLayerNameAttrName()))
    return attr.getValue().str();
  if (auto nameLoc = op->getLoc()->findInstanceOf<NameLoc>())
    return nameLoc.getName().getValue().str();
  return std::nullopt;
}

/// Bytes per element in a dense attribute's storage: floats narrower than
/// a byte (f4E2M1FN, f6E3M2FN, ...) take a whole byte each.
size_t getElementBytes(Type elementType) {
  return std::max<size_t>(
      1, llvm::divideCeil(elementType.getIntOrFloatBitWidth(), 8));
}

/// Raw row-major bytes of a non-splat dense or a dense_resource constant,
/// checked against the constant's type: a dense_resource blob is parsed
/// without one, so it may be shorter than its type says.
FailureOr<ArrayRef<char>> getRawData(arith::ConstantOp constant,
                                     const LinearMatch &match) {
  Attribute value = constant.getValue();
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (dense) {
    assert(!dense.isSplat() && "splats are materialized as splats");
    return dense.getRawData();
  }
  auto resource = cast<DenseResourceElementsAttr>(value);
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob)
    return match.op->emitError("weight of layer '")
           << match.name
           << "' has no data: its dense_resource blob is missing or elided";
  auto type = cast<ShapedType>(constant.getType());
  const uint64_t expected =
      uint64_t(type.getNumElements()) * getElementBytes(type.getElementType());
  if (blob->getData().size() != expected)
    return match.op->emitError("weight of layer '")
           << match.name << "': its dense_resource blob has "
           << blob->getData().size() << " bytes, but " << type << " needs "
           << expected;
  return blob->getData();
}

/// Keeps resource keys readable and printable as bare identifiers.
std::string sanitizeResourceKey(StringRef name) {
  std::string key;
  for (char c : name)
    key.push_back(llvm::isAlnum(c) || c == '_' || c == '.' ? c : '_');
  if (key.empty() || llvm::isDigit(key.front()))
    key.insert(key.begin(), '_');
  return key;
}

enum class NetPermutation { Identity, NonIdentity };

/// Whether the layout steps and the final [K, N] -> [N, K] swap move any
/// element. Reshapes keep the row-major order, so only transposes count;
/// transposes around a reshape are assumed to move data.
NetPermutation netPermutation(const WeightSource &source) {
  auto constantType =
      cast<RankedTensorType>(source.constant->getResult(0).getType());
  SmallVector<int64_t> composed =
      llvm::to_vector(llvm::seq<int64_t>(0, constantType.getRank()));
  for (const LayoutStep &step : source.steps) {
    if (step.kind == LayoutStep::Reshape)
      return NetPermutation::NonIdentity;
    SmallVector<int64_t> next;
    for (int64_t j : step.permutation)
      next.push_back(composed[j]);
    composed = std::move(next);
  }
  if (source.isInOutLayout) {
    if (composed.size() != 2)
      return NetPermutation::NonIdentity;
    std::swap(composed[0], composed[1]);
  }
  for (auto [i, j] : llvm::enumerate(composed))
    if (int64_t(i) != j)
      return NetPermutation::NonIdentity;
  return NetPermutation::Identity;
}

struct RaiseLinearPass : public qwha::impl::RaiseLinearBase<RaiseLinearPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// Materializes the [N, K] weight constant of a match, once per source.
  FailureOr<Value> materializeWeight(const LinearMatch &match);

  /// Cache of folded weights, keyed by the traced value and its layout.
  DenseMap<std::pair<Value, unsigned>, Value> foldedWeights;
};

FailureOr<Value> RaiseLinearPass::materializeWeight(const LinearMatch &match) {
  const WeightSource &source = match.weight;
  auto key = std::make_pair(source.value, unsigned(source.isInOutLayout));
  if (auto it = foldedWeights.find(key); it != foldedWeights.end())
    return it->second;

  arith::ConstantOp constant = source.constant;
  auto constantType = cast<RankedTensorType>(constant.getType());
  const int64_t n = source.outFeatures, k = source.inFeatures;
  auto resultType =
      RankedTensorType::get({n, k}, constantType.getElementType());

  bool permutes = netPermutation(source) != NetPermutation::Identity;
  OpBuilder builder(constant);
  builder.setInsertionPointAfter(constant);
  Value folded;
  auto denseAttr = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!permutes && resultType == constantType) {
    folded = constant.getResult();
  } else if (denseAttr && denseAttr.isSplat()) {
    // Any layout of a splat is the same splat: expanding it first would cost
    // N x K elements of memory and time for nothing.
    folded = arith::ConstantOp::create(
        builder, constant.getLoc(),
        DenseElementsAttr::get(resultType,
                               denseAttr.getSplatValue<Attribute>()));
  } else if (!permutes && denseAttr) {
    folded = arith::ConstantOp::create(builder, constant.getLoc(),
                                       denseAttr.reshape(resultType));
  } else {
    FailureOr<ArrayRef<char>> raw = getRawData(constant, match);
    if (failed(raw))
      return failure();
    size_t elementBytes = getElementBytes(constantType.getElementType());
    std::vector<char> data(raw->begin(), raw->end());
    ArrayRef<int64_t> shape = constantType.getShape();
    SmallVector<int64_t> currentShape(shape);
    for (const LayoutStep &step : source.steps) {
      if (step.kind == LayoutStep::Transpose)
        data = transposeRaw(data, currentShape, step.permutation,
                            elementBytes);
      currentShape.assign(step.resultType.getShape().begin(),
                          step.resultType.getShape().end());
    }
    if (source.isInOutLayout)
      data = transposeRaw(data, {k, n}, {1, 0}, elementBytes);

    Attribute attr;
    if (denseAttr) {
      attr = DenseElementsAttr::getFromRawBuffer(resultType, data);
    } else {
      AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
          ArrayRef<char>(data), elementBytes);
      attr = DenseResourceElementsAttr::get(
          resultType, sanitizeResourceKey(match.name + ".weight"),
          std::move(blob));
    }
    folded = arith::ConstantOp::create(builder, constant.getLoc(),
                                       cast<TypedAttr>(attr));
  }
  foldedWeights[key] = folded;
  return folded;
}

/// Erases `op`'s producers that became dead, transitively.
void eraseDeadProducers(ArrayRef<Value> operands) {
  SmallVector<Value> worklist(operands);
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (!def || !isOpTriviallyDead(def))
      continue;
    SmallVector<Value> next(def->getOperands());
    def->erase();
    worklist.append(next);
  }
}

void RaiseLinearPass::runOnOperation() {
  ModuleOp module = getOperation();
  foldedWeights.clear();

  // Collect first, in program order, so that numbering and diagnostics do
  // not depend on the rewrite.
  SmallVector<LinearMatch> matches;
  module.walk([&](FunctionOpInterface function) {
    int64_t position = 0;
    function.walk<WalkOrder::PreOrder>([&](linalg::LinalgOp op) {
      NoMatch noMatch;
      FailureOr<LinearMatch> match = matchLinear(op, noMatch);
      if (failed(match)) {
        if (reportUnmatched && noMatch.hasConstantOperand)
          op.emitRemark("not raised to qwha.linear: ") << noMatch.reason;
        return;
      }
      if (std::optional<std::string> name = getNameFromIR(op)) {
        match->name = std::move(*name);
        match->explicitName = true;
      } else {
        match->name = (function.getName() + ".linear" + Twine(position)).str();
      }
      ++position;
      matches.push_back(std::move(*match));
    });
  });

  // Two layers may share a name only if they share the weight.
  llvm::StringMap<const LinearMatch *> byName;
  for (const LinearMatch &match : matches) {
    auto [it, inserted] = byName.try_emplace(match.name, &match);
    if (inserted)
      continue;
    const LinearMatch &first = *it->second;
    if (first.weight.value == match.weight.value &&
        first.weight.isInOutLayout == match.weight.isInOutLayout)
      continue;
    InFlightDiagnostic diag = match.op->emitError("layer name '")
                              << match.name
                              << "' is already used by a layer with a "
                                 "different weight";
    diag.attachNote(first.op->getLoc()) << "first used here";
    return signalPassFailure();
  }

  for (LinearMatch &match : matches) {
    FailureOr<Value> weight = materializeWeight(match);
    if (failed(weight))
      return signalPassFailure();

    Operation *op = match.op;
    OpBuilder builder(op);
    Value input = match.op.getDpsInputs()[match.inputIndex];
    auto inputType = cast<RankedTensorType>(input.getType());
    auto weightType = cast<RankedTensorType>(weight->getType());
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    SmallVector<int64_t> shape(inputType.getShape().drop_back());
    shape.push_back(weightType.getDimSize(0));
    auto linearType = RankedTensorType::get(shape, resultType.getElementType());
    Value result = LinearOp::create(builder, op->getLoc(), linearType,
                                    builder.getStringAttr(match.name),
                                    input, *weight);
    if (linearType != resultType)
      result = tensor::CastOp::create(builder, op->getLoc(), resultType, result);
    SmallVector<Value> operands(op->getOperands());
    op->getResult(0).replaceAllUsesWith(result);
    op->erase();
    eraseDeadProducers(operands);
  }
}

} // namespace
