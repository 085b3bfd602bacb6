//===- AdapterKernels.cpp - Walsh-Hadamard and sparse CPU kernels ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "AdapterKernels.h"
#include "KernelEmitter.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace qwha;

/// Rows of `cols` f32 values with unit inner stride: what the kernels read
/// with vector loads, and what any row-major tensor buffer casts to.
static MemRefType getRowsType(MLIRContext *context, int64_t cols) {
  const int64_t dynamic = ShapedType::kDynamic;
  return MemRefType::get(
      {dynamic, cols}, Float32Type::get(context),
      StridedLayoutAttr::get(context, dynamic, {dynamic, 1}));
}

//===----------------------------------------------------------------------===//
// FWHT
//===----------------------------------------------------------------------===//

FWHTKernelSpec FWHTKernelSpec::get(int64_t powerOfTwo, int64_t baseOrder,
                                   bool normalized, int64_t requestedLanes) {
  FWHTKernelSpec spec;
  spec.powerOfTwo = powerOfTwo;
  spec.baseOrder = baseOrder;
  spec.normalized = normalized;
  spec.lanes = requestedLanes;
  while (spec.lanes > 1 && spec.lanes > spec.getSize())
    spec.lanes /= 2;
  return spec;
}

std::string FWHTKernelSpec::getFunctionName() const {
  return llvm::formatv("qwha_cpu_fwht_d{0}_{1}x{2}{3}_v{4}", getSize(),
                       powerOfTwo, baseOrder, normalized ? "_normalized" : "",
                       lanes)
      .str();
}

namespace {

class FWHTKernelBuilder : public cpu::KernelEmitter {
public:
  FWHTKernelBuilder(const FWHTKernelSpec &spec, MLIRContext *context)
      : KernelEmitter(context, spec.lanes), spec(spec), d(spec.getSize()),
        m(spec.baseOrder),
        scale(spec.normalized ? float(1.0 / std::sqrt(double(d))) : 1.0f) {}

  FunctionType getFunctionType(MLIRContext *context) const {
    const int64_t dynamic = ShapedType::kDynamic;
    SmallVector<Type> inputs = {getRowsType(context, d)};
    if (m > 1) {
      inputs.push_back(MemRefType::get({dynamic}, f32));
      inputs.push_back(MemRefType::get({dynamic}, f32));
    }
    inputs.push_back(MemRefType::get({dynamic, d}, f32));
    return FunctionType::get(context, inputs, {});
  }

  void build(ImplicitLocOpBuilder &b, Block *entry) {
    unsigned arg = 0;
    x = entry->getArgument(arg++);
    if (m > 1) {
      baseT = entry->getArgument(arg++);
      work = entry->getArgument(arg++);
    }
    y = entry->getArgument(arg++);
    Value rows = memref::DimOp::create(b, x, 0);
    forEach(b, index(b, 0), rows, 1, [&](ImplicitLocOpBuilder &b, Value r) {
      copyRow(b, r);
      if (m > 1)
        applyBase(b, r);
      for (int64_t half = 1; half < spec.powerOfTwo; half *= 2)
        applyButterflies(b, r, half,
                         /*stageScale=*/m == 1 && 2 * half == spec.powerOfTwo
                             ? scale
                             : 1.0f);
    });
    func::ReturnOp::create(b);
  }

private:
  const FWHTKernelSpec &spec;
  const int64_t d, m;
  const float scale;
  Value x, baseT, work, y;

  /// `count` values from `from[fromIndex]` to `to[toIndex]`, a vector at a
  /// time, the last one masked when `count` is not a multiple of lanes.
  void copy(ImplicitLocOpBuilder &b, Value from, ValueRange fromIndex, Value to,
            ValueRange toIndex, int64_t count) {
    forEach(b, index(b, 0), index(b, count), lanes,
            [&](ImplicitLocOpBuilder &b, Value i) {
              SmallVector<Value> src(fromIndex), dst(toIndex);
              src.back() = add(b, src.back(), i);
              dst.back() = add(b, dst.back(), i);
              if (count % lanes == 0) {
                vector::StoreOp::create(
                    b, vector::LoadOp::create(b, floatVector, from, src), to,
                    dst);
                return;
              }
              Value mask = prefixMask(b, sub(b, index(b, count), i));
              Value v = vector::MaskedLoadOp::create(b, floatVector, from, src,
                                                     mask, zeroVector(b));
              vector::MaskedStoreOp::create(b, to, dst, mask, v);
            });
  }

  void copyRow(ImplicitLocOpBuilder &b, Value r) {
    copy(b, x, {r, index(b, 0)}, y, {r, index(b, 0)}, d);
  }

  /// H_m (scaled) on each run of m values: the run is copied to the
  /// workspace, then each vector of outputs is a sum of m broadcasts times
  /// rows of H_m^T.
  void applyBase(ImplicitLocOpBuilder &b, Value r) {
    const int64_t padded = spec.getPaddedBaseOrder();
    forEach(b, index(b, 0), index(b, spec.powerOfTwo), 1,
            [&](ImplicitLocOpBuilder &b, Value a) {
              Value start = mul(b, a, m);
              copy(b, y, {r, start}, work, {index(b, 0)}, m);
              forEach(
                  b, index(b, 0), index(b, padded), lanes,
                  [&](ImplicitLocOpBuilder &b, Value out) {
                    Value sum = loop(
                        b, index(b, 0), index(b, m), 1, {zeroVector(b)},
                        [&](ImplicitLocOpBuilder &b, Value c, ValueRange acc) {
                          Value xc = vector::BroadcastOp::create(
                              b, floatVector,
                              memref::LoadOp::create(b, work, c));
                          Value column = vector::LoadOp::create(
                              b, floatVector, baseT,
                              add(b, mul(b, c, padded), out));
                          return SmallVector<Value>{
                              vector::FMAOp::create(b, xc, column, acc[0])};
                        })[0];
                    SmallVector<Value> at = {r, add(b, start, out)};
                    if (m % lanes == 0) {
                      vector::StoreOp::create(b, sum, y, at);
                      return;
                    }
                    Value mask = prefixMask(b, sub(b, index(b, m), out));
                    vector::MaskedStoreOp::create(b, y, at, mask, sum);
                  });
            });
  }

  /// (u, v) -> (u + v, u - v) * stageScale for u, v the runs [start,
  /// start + half) and [start + half, start + 2 half) of m values.
  void applyButterflies(ImplicitLocOpBuilder &b, Value r, int64_t half,
                        float stageScale) {
    const int64_t span = half * m;
    auto combine = [&](ImplicitLocOpBuilder &b, Value u, Value v) {
      Value sum = arith::AddFOp::create(b, u, v);
      Value diff = arith::SubFOp::create(b, u, v);
      if (stageScale != 1.0f) {
        Value factor = floatSplat(b, stageScale);
        sum = arith::MulFOp::create(b, sum, factor);
        diff = arith::MulFOp::create(b, diff, factor);
      }
      return std::pair{sum, diff};
    };

    if (span < lanes && lanes % (2 * span) == 0 && d % lanes == 0) {
      // Partners within one vector: lane l pairs with l ^ span; the lower
      // lane of a pair keeps u + v, the upper one u - v = partner - self.
      SmallVector<int64_t> partner;
      SmallVector<bool> upper;
      for (int64_t l = 0; l < lanes; ++l) {
        partner.push_back(l ^ span);
        upper.push_back((l & span) != 0);
      }
      Value upperLanes = arith::ConstantOp::create(
          b, maskVector, DenseElementsAttr::get(maskVector, upper));
      forEach(b, index(b, 0), index(b, d), lanes,
              [&](ImplicitLocOpBuilder &b, Value j) {
                Value self =
                    vector::LoadOp::create(b, floatVector, y, ValueRange{r, j});
                Value other = vector::ShuffleOp::create(b, self, self, partner);
                auto [sum, diff] = combine(b, self, other);
                // For upper lanes, self is v and other is u: u - v is
                // other - self = -diff.
                Value negated = arith::NegFOp::create(b, diff);
                Value result =
                    arith::SelectOp::create(b, upperLanes, negated, sum);
                vector::StoreOp::create(b, result, y, ValueRange{r, j});
              });
      return;
    }

    forEach(b, index(b, 0), index(b, spec.powerOfTwo), 2 * half,
            [&](ImplicitLocOpBuilder &b, Value start) {
              Value base = mul(b, start, m);
              forEach(
                  b, index(b, 0), index(b, span), lanes,
                  [&](ImplicitLocOpBuilder &b, Value i) {
                    SmallVector<Value> uAt = {r, add(b, base, i)};
                    SmallVector<Value> vAt = {r, add(b, add(b, base, i), span)};
                    if (span % lanes == 0) {
                      Value u = vector::LoadOp::create(b, floatVector, y, uAt);
                      Value v = vector::LoadOp::create(b, floatVector, y, vAt);
                      auto [sum, diff] = combine(b, u, v);
                      vector::StoreOp::create(b, sum, y, uAt);
                      vector::StoreOp::create(b, diff, y, vAt);
                      return;
                    }
                    Value mask = prefixMask(b, sub(b, index(b, span), i));
                    Value u = vector::MaskedLoadOp::create(
                        b, floatVector, y, uAt, mask, zeroVector(b));
                    Value v = vector::MaskedLoadOp::create(
                        b, floatVector, y, vAt, mask, zeroVector(b));
                    auto [sum, diff] = combine(b, u, v);
                    vector::MaskedStoreOp::create(b, y, uAt, mask, sum);
                    vector::MaskedStoreOp::create(b, y, vAt, mask, diff);
                  });
            });
  }
};

} // namespace

func::FuncOp qwha::getOrCreateFWHTKernel(ModuleOp module,
                                         const FWHTKernelSpec &spec) {
  MLIRContext *context = module.getContext();
  FWHTKernelBuilder kernel(spec, context);
  return cpu::getOrCreateKernel(
      module, spec.getFunctionName(), kernel.getFunctionType(context),
      [&](ImplicitLocOpBuilder &b, Block *entry) { kernel.build(b, entry); });
}

//===----------------------------------------------------------------------===//
// Sparse product
//===----------------------------------------------------------------------===//

std::string SparseKernelSpec::getFunctionName() const {
  return llvm::formatv("qwha_cpu_spmm_n{0}_k{1}_v{2}", outputs, inputs, lanes)
      .str();
}

namespace {

class SparseKernelBuilder : public cpu::KernelEmitter {
public:
  SparseKernelBuilder(const SparseKernelSpec &spec, MLIRContext *context)
      : KernelEmitter(context, spec.lanes), spec(spec) {}

  FunctionType getFunctionType(MLIRContext *context) const {
    const int64_t dynamic = ShapedType::kDynamic;
    auto i32 = IntegerType::get(context, 32);
    return FunctionType::get(
        context,
        {getRowsType(context, spec.inputs), MemRefType::get({dynamic}, i32),
         MemRefType::get({dynamic}, i32), MemRefType::get({dynamic}, f32),
         MemRefType::get({dynamic}, f32),
         MemRefType::get({dynamic, spec.outputs}, f32)},
        {});
  }

  void build(ImplicitLocOpBuilder &b, Block *entry) {
    h = entry->getArgument(0);
    rowOffsets = entry->getArgument(1);
    cols = entry->getArgument(2);
    values = entry->getArgument(3);
    work = entry->getArgument(4);
    y = entry->getArgument(5);
    Value rows = memref::DimOp::create(b, h, 0);
    Value tiled = mul(
        b, arith::DivUIOp::create(b, rows, index(b, lanes)).getResult(), lanes);
    forEach(b, index(b, 0), tiled, lanes,
            [&](ImplicitLocOpBuilder &b, Value first) { buildTile(b, first); });
    forEach(b, tiled, rows, 1,
            [&](ImplicitLocOpBuilder &b, Value r) { buildRow(b, r); });
    func::ReturnOp::create(b);
  }

private:
  const SparseKernelSpec &spec;
  Value h, rowOffsets, cols, values, work, y;

  Value offsetAt(ImplicitLocOpBuilder &b, Value n) {
    return arith::IndexCastOp::create(b, b.getIndexType(),
                                      memref::LoadOp::create(b, rowOffsets, n));
  }

  /// Independent accumulators over a row's entries in the tile kernel, so
  /// that FMAs do not wait on each other's latency.
  static constexpr int64_t kChains = 4;

  /// `lanes` input rows at once, with the rows in the lanes: the tile of h
  /// is transposed into the workspace, every entry of F is then one
  /// broadcast, one contiguous load and one FMA for all the rows, and the
  /// outputs are transposed back.
  void buildTile(ImplicitLocOpBuilder &b, Value first) {
    const int64_t outBase = spec.inputs * lanes;
    forEach(b, index(b, 0), index(b, spec.inputs), 1,
            [&](ImplicitLocOpBuilder &b, Value k) {
              forEach(b, index(b, 0), index(b, lanes), 1,
                      [&](ImplicitLocOpBuilder &b, Value l) {
                        Value v = memref::LoadOp::create(
                            b, h, ValueRange{add(b, first, l), k});
                        memref::StoreOp::create(b, v, work,
                                                add(b, mul(b, k, lanes), l));
                      });
            });
    forEach(b, index(b, 0), index(b, spec.outputs), 1,
            [&](ImplicitLocOpBuilder &b, Value n) {
              Value begin = offsetAt(b, n), end = offsetAt(b, add(b, n, 1));
              auto term = [&](ImplicitLocOpBuilder &b, Value p, Value acc) {
                Value value = vector::BroadcastOp::create(
                    b, floatVector, memref::LoadOp::create(b, values, p));
                Value col = arith::IndexCastOp::create(
                    b, b.getIndexType(), memref::LoadOp::create(b, cols, p));
                Value input = vector::LoadOp::create(b, floatVector, work,
                                                     mul(b, col, lanes));
                return vector::FMAOp::create(b, value, input, acc).getResult();
              };
              Value count = sub(b, end, begin);
              Value chained = add(
                  b, begin,
                  mul(b, arith::DivUIOp::create(b, count, index(b, kChains)),
                      kChains));
              SmallVector<Value> chains =
                  loop(b, begin, chained, kChains,
                       SmallVector<Value>(kChains, zeroVector(b)),
                       [&](ImplicitLocOpBuilder &b, Value p, ValueRange acc) {
                         SmallVector<Value> next;
                         for (int64_t c = 0; c < kChains; ++c)
                           next.push_back(term(b, add(b, p, c), acc[c]));
                         return next;
                       });
              Value sum = chains[0];
              for (int64_t c = 1; c < kChains; ++c)
                sum = arith::AddFOp::create(b, sum, chains[c]);
              sum = loop(b, chained, end, 1, {sum},
                         [&](ImplicitLocOpBuilder &b, Value p, ValueRange acc) {
                           return SmallVector<Value>{term(b, p, acc[0])};
                         })[0];
              vector::StoreOp::create(b, sum, work,
                                      add(b, mul(b, n, lanes), outBase));
            });
    forEach(b, index(b, 0), index(b, spec.outputs), 1,
            [&](ImplicitLocOpBuilder &b, Value n) {
              forEach(b, index(b, 0), index(b, lanes), 1,
                      [&](ImplicitLocOpBuilder &b, Value l) {
                        Value v = memref::LoadOp::create(
                            b, work,
                            add(b, add(b, mul(b, n, lanes), l), outBase));
                        memref::StoreOp::create(
                            b, v, y, ValueRange{add(b, first, l), n});
                      });
            });
  }

  /// One input row: each output gathers its row's entries a vector at a
  /// time, then reduces.
  void buildRow(ImplicitLocOpBuilder &b, Value r) {
    Value zeroWords = wordSplat(b, 0);
    forEach(
        b, index(b, 0), index(b, spec.outputs), 1,
        [&](ImplicitLocOpBuilder &b, Value n) {
          Value begin = offsetAt(b, n), end = offsetAt(b, add(b, n, 1));
          Value acc = loop(
              b, begin, end, lanes, {zeroVector(b)},
              [&](ImplicitLocOpBuilder &b, Value p, ValueRange acc) {
                Value mask = prefixMask(b, sub(b, end, p));
                Value col = vector::MaskedLoadOp::create(
                    b, wordVector, cols, ValueRange{p}, mask, zeroWords);
                Value value = vector::MaskedLoadOp::create(
                    b, floatVector, values, ValueRange{p}, mask, zeroVector(b));
                Value input = vector::GatherOp::create(
                    b, floatVector, h, ValueRange{r, index(b, 0)}, col, mask,
                    zeroVector(b));
                return SmallVector<Value>{
                    vector::FMAOp::create(b, input, value, acc[0])};
              })[0];
          Value sum =
              vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc);
          memref::StoreOp::create(b, sum, y, ValueRange{r, n});
        });
  }
};

} // namespace

func::FuncOp qwha::getOrCreateSparseKernel(ModuleOp module,
                                           const SparseKernelSpec &spec) {
  MLIRContext *context = module.getContext();
  SparseKernelBuilder kernel(spec, context);
  return cpu::getOrCreateKernel(
      module, spec.getFunctionName(), kernel.getFunctionType(context),
      [&](ImplicitLocOpBuilder &b, Block *entry) { kernel.build(b, entry); });
}
