//===- GpuKernels.cpp - gpu.func kernels of convert-qwha-to-gpu -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "GpuKernels.h"

#include "qwha/Quant/GpuPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <numeric>

using namespace mlir;
using namespace qwha::cuda;

namespace {

/// Index and float arithmetic that reads like the formulas it computes.
class Emitter {
public:
  explicit Emitter(ImplicitLocOpBuilder &b) : b(b), f32(b.getF32Type()) {}

  ImplicitLocOpBuilder &b;
  Type f32;

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value add(Value lhs, Value rhs) { return arith::AddIOp::create(b, lhs, rhs); }
  Value add(Value lhs, int64_t rhs) {
    return rhs == 0 ? lhs : add(lhs, index(rhs));
  }
  Value mul(Value lhs, int64_t rhs) {
    return rhs == 1 ? lhs : arith::MulIOp::create(b, lhs, index(rhs));
  }
  Value div(Value lhs, int64_t rhs) {
    return rhs == 1 ? lhs : arith::DivUIOp::create(b, lhs, index(rhs));
  }
  Value rem(Value lhs, int64_t rhs) {
    return arith::RemUIOp::create(b, lhs, index(rhs));
  }
  Value min(Value lhs, Value rhs) { return arith::MinUIOp::create(b, lhs, rhs); }
  Value less(Value lhs, Value rhs) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, lhs, rhs);
  }
  Value floatConstant(float value) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  }
  Value word(uint32_t value) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(int32_t(value)));
  }
  /// a * x + acc, fused by the backend: arith has no fma, and NVPTX
  /// contracts mul + add only under fast-math flags, which the kernels do
  /// not want on every operation.
  Value fma(Value a, Value x, Value acc) {
    Value product =
        arith::MulFOp::create(b, a, x, arith::FastMathFlags::contract);
    return arith::AddFOp::create(b, product, acc,
                                 arith::FastMathFlags::contract);
  }
  Value fadd(Value lhs, Value rhs) { return arith::AddFOp::create(b, lhs, rhs); }
  Value fsub(Value lhs, Value rhs) { return arith::SubFOp::create(b, lhs, rhs); }
  Value fmul(Value lhs, Value rhs) { return arith::MulFOp::create(b, lhs, rhs); }
  Value toIndex(Value i32) {
    return arith::IndexCastOp::create(b, b.getIndexType(), i32);
  }
  Value getGlobal(memref::GlobalOp global) {
    return memref::GetGlobalOp::create(b, global.getType(),
                                       global.getSymName());
  }

  /// A loop from `lower` to `upper` by `step` carrying `init`; `body` gets
  /// the induction variable and the carried values and returns the next.
  SmallVector<Value>
  loop(Value lower, Value upper, Value step, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, lower, upper, step, init,
        [&](OpBuilder &nested, Location loc, Value iv, ValueRange carried) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          scf::YieldOp::create(b, body(iv, carried));
        });
    return SmallVector<Value>(forOp.getResults());
  }
  /// `body` under `condition`, no results.
  void when(Value condition, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    body();
  }
};

/// Sum over the 32 lanes of a warp, in every lane.
Value warpSum(ImplicitLocOpBuilder &b, Value value) {
  for (int32_t offset = 16; offset >= 1; offset /= 2) {
    auto shuffle =
        gpu::ShuffleOp::create(b, value, offset, 32, gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, value, shuffle.getShuffleResult());
  }
  return value;
}

gpu::GPUFuncOp createKernel(gpu::GPUModuleOp module, Location loc,
                            StringRef name, TypeRange arguments,
                            int64_t blockSize) {
  OpBuilder top(module.getBodyRegion());
  top.setInsertionPointToEnd(module.getBody());
  auto function = gpu::GPUFuncOp::create(
      top, loc, name, top.getFunctionType(arguments, {}));
  function->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                    top.getUnitAttr());
  function.setKnownBlockSizeAttr(
      top.getDenseI32ArrayAttr({int32_t(blockSize), 1, 1}));
  return function;
}

/// Builds the body of a row kernel.
class RowKernelBuilder : Emitter {
public:
  RowKernelBuilder(ImplicitLocOpBuilder &b, const RowKernelSpec &spec)
      : Emitter(b), spec(spec), rowsPerWarp(spec.rowsPerWarp),
        batchTile(spec.batchTile) {}

  void build(Value x, Value h, Value y);

private:
  const RowKernelSpec &spec;
  const int64_t rowsPerWarp, batchTile;
  Value x, h, lane;
  SmallVector<Value> rows;      ///< clamped output rows n_r
  SmallVector<Value> inputRows; ///< clamped input rows of the tile
  SmallVector<Value> planes;
  Value scales, offsets, columnOf;

  Value &acc(MutableArrayRef<Value> sums, int64_t r, int64_t j) {
    return sums[r * batchTile + j];
  }
  SmallVector<Value> step(Value s, ValueRange sums);
  SmallVector<Value> addAdapter(ValueRange sums);
  /// m(q) of column `i` of a step, from the step's plane words of a row.
  Value mantissa(ArrayRef<SmallVector<Value>> words, int64_t i);
};

void RowKernelBuilder::build(Value xArg, Value hArg, Value y) {
  x = xArg;
  h = hArg;
  const int64_t n = spec.outputs;
  Value thread = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  lane = rem(thread, 32);
  Value warp = div(thread, 32);
  Value batch = memref::DimOp::create(b, x, 0);
  Value firstInput = mul(gpu::BlockIdOp::create(b, gpu::Dimension::y),
                         batchTile);
  // The grid has one tile even when there are no input rows.
  when(less(firstInput, batch), [&] {
    Value firstRow =
        mul(add(mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), spec.warps),
                warp),
            rowsPerWarp);
    // Out-of-range rows and inputs repeat the last one: every load stays in
    // bounds and the loops stay uniform; their sums are not stored.
    Value lastRow = index(n - 1);
    for (int64_t r = 0; r < rowsPerWarp; ++r)
      rows.push_back(min(add(firstRow, r), lastRow));
    Value lastInput = arith::SubIOp::create(b, batch, index(1));
    for (int64_t j = 0; j < batchTile; ++j)
      inputRows.push_back(min(add(firstInput, j), lastInput));

    SmallVector<Value> sums(rowsPerWarp * batchTile, floatConstant(0.0f));
    if (spec.weight) {
      for (memref::GlobalOp plane : spec.weight->planes)
        planes.push_back(getGlobal(plane));
      if (spec.weight->scales) {
        scales = getGlobal(spec.weight->scales);
        offsets = getGlobal(spec.weight->offsets);
      }
      if (spec.weight->columnOf)
        columnOf = getGlobal(spec.weight->columnOf);
      sums = loop(lane, index(spec.weight->numSteps), index(32), sums,
                  [&](Value s, ValueRange carried) { return step(s, carried); });
    }
    if (spec.adapter)
      sums = addAdapter(sums);

    for (Value &sum : sums)
      sum = warpSum(b, sum);
    when(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, index(0)),
         [&] {
           for (int64_t r = 0; r < rowsPerWarp; ++r)
             for (int64_t j = 0; j < batchTile; ++j) {
               Value row = add(firstRow, r), input = add(firstInput, j);
               Value inBounds = arith::AndIOp::create(
                   b, less(row, index(n)), less(input, batch));
               when(inBounds, [&] {
                 memref::StoreOp::create(b, acc(sums, r, j), y,
                                         ValueRange{input, row});
               });
             }
         });
  });
}

Value RowKernelBuilder::mantissa(ArrayRef<SmallVector<Value>> words,
                                 int64_t i) {
  const unsigned bits = spec.weight->bits;
  auto field = [&](Value word, int64_t shift, uint32_t mask, int64_t to) {
    Value value = word;
    if (shift)
      value = arith::ShRUIOp::create(b, value, this->word(uint32_t(shift)));
    value = arith::AndIOp::create(b, value, this->word(mask));
    return arith::ShLIOp::create(b, value, this->word(uint32_t(to)));
  };
  Value bitsOfFloat;
  if (bits == 32) {
    bitsOfFloat = words[0][i];
  } else if (bits == 3) {
    Value low = field(words[0][i / 16], 2 * (i % 16), 3u, 20);
    Value high = field(words[1][i / 32], i % 32, 1u, 22);
    bitsOfFloat = arith::OrIOp::create(
        b, arith::OrIOp::create(b, low, high), word(0x3F800000u));
  } else {
    const int64_t perWord = 32 / bits;
    Value code = field(words[0][i / perWord], bits * (i % perWord),
                       (1u << bits) - 1, 23 - bits);
    bitsOfFloat = arith::OrIOp::create(b, code, word(0x3F800000u));
  }
  return arith::BitcastOp::create(b, f32, bitsOfFloat);
}

SmallVector<Value> RowKernelBuilder::step(Value s, ValueRange carried) {
  const RowKernelWeight &weight = *spec.weight;
  const bool isFloat = weight.bits == 32;
  const int64_t stepColumns =
      qwha::quant::GpuPackedWeight::getStepColumns(weight.bits);
  SmallVector<Value> sums(carried);

  // One 128-bit (or 64-bit) load per plane and row, all issued first.
  SmallVector<SmallVector<SmallVector<Value>>> words(rowsPerWarp);
  for (int64_t r = 0; r < rowsPerWarp; ++r)
    for (auto [p, plane] : llvm::enumerate(planes)) {
      const int64_t stepWords =
          weight.bits == 3 && p == 1 ? 2 : 4;
      auto type = VectorType::get({stepWords}, b.getI32Type());
      Value vector = vector::LoadOp::create(
          b, type, plane, ValueRange{rows[r], mul(s, stepWords)},
          /*nontemporal=*/false, llvm::MaybeAlign(4 * stepWords));
      SmallVector<Value> lanes;
      for (int64_t w = 0; w < stepWords; ++w)
        lanes.push_back(vector::ExtractOp::create(b, vector, w));
      words[r].push_back(std::move(lanes));
    }

  Value firstColumn = mul(s, stepColumns);
  // A segment lies in one group: scales apply once per segment.
  const int64_t segment =
      isFloat ? stepColumns : std::gcd(stepColumns, weight.groupStride);
  for (int64_t start = 0; start < stepColumns; start += segment) {
    SmallVector<Value> dots(rowsPerWarp * batchTile, floatConstant(0.0f));
    SmallVector<Value> inputSums(batchTile, floatConstant(0.0f));
    for (int64_t c = start; c < start + segment; c += 4) {
      Value column = add(firstColumn, c);
      // x[input, column + e], zero for padding columns.
      SmallVector<SmallVector<Value>> xs(batchTile);
      SmallVector<Value> sources;
      if (columnOf) {
        Value map = vector::LoadOp::create(
            b, VectorType::get({4}, b.getI32Type()), columnOf,
            ValueRange{column}, false, llvm::MaybeAlign(16));
        for (int64_t e = 0; e < 4; ++e)
          sources.push_back(vector::ExtractOp::create(b, map, e));
      }
      for (int64_t j = 0; j < batchTile; ++j) {
        if (!columnOf) {
          Value vector = vector::LoadOp::create(
              b, VectorType::get({4}, f32), x, ValueRange{inputRows[j], column},
              false, llvm::MaybeAlign(16));
          for (int64_t e = 0; e < 4; ++e)
            xs[j].push_back(vector::ExtractOp::create(b, vector, e));
          continue;
        }
        for (int64_t e = 0; e < 4; ++e) {
          Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::sge,
                                              sources[e], word(0));
          Value safe = toIndex(arith::SelectOp::create(b, valid, sources[e],
                                                       word(0)));
          Value loaded =
              memref::LoadOp::create(b, x, ValueRange{inputRows[j], safe});
          xs[j].push_back(arith::SelectOp::create(b, valid, loaded,
                                                  floatConstant(0.0f)));
        }
      }
      for (int64_t r = 0; r < rowsPerWarp; ++r)
        for (int64_t e = 0; e < 4; ++e) {
          Value m = mantissa(words[r], c + e);
          for (int64_t j = 0; j < batchTile; ++j)
            acc(dots, r, j) = fma(xs[j][e], m, acc(dots, r, j));
        }
      if (!isFloat)
        for (int64_t j = 0; j < batchTile; ++j)
          for (int64_t e = 0; e < 4; ++e)
            inputSums[j] = fadd(inputSums[j], xs[j][e]);
    }
    if (isFloat) {
      for (int64_t i = 0; i < rowsPerWarp * batchTile; ++i)
        sums[i] = fadd(sums[i], dots[i]);
      continue;
    }
    // sum (m scale + offset) x = scale sum m x + offset sum x.
    Value group = div(add(firstColumn, start), weight.groupStride);
    for (int64_t r = 0; r < rowsPerWarp; ++r) {
      Value scale = memref::LoadOp::create(b, scales, ValueRange{rows[r], group});
      Value offset =
          memref::LoadOp::create(b, offsets, ValueRange{rows[r], group});
      for (int64_t j = 0; j < batchTile; ++j) {
        Value &sum = acc(sums, r, j);
        sum = fma(scale, acc(dots, r, j), sum);
        sum = fma(offset, inputSums[j], sum);
      }
    }
  }
  return sums;
}

SmallVector<Value> RowKernelBuilder::addAdapter(ValueRange carried) {
  const RowKernelAdapter &adapter = *spec.adapter;
  Value rowOffsets = getGlobal(adapter.rowOffsets);
  Value cols = getGlobal(adapter.cols);
  Value values = getGlobal(adapter.values);
  Value source = adapter.readsInput ? x : h;
  SmallVector<Value> sums(carried);
  for (int64_t r = 0; r < rowsPerWarp; ++r) {
    Value begin = toIndex(memref::LoadOp::create(b, rowOffsets, rows[r]));
    Value end =
        toIndex(memref::LoadOp::create(b, rowOffsets, add(rows[r], 1)));
    SmallVector<Value> rowSums(sums.begin() + r * batchTile,
                               sums.begin() + (r + 1) * batchTile);
    rowSums = loop(add(begin, lane), end, index(32), rowSums,
                   [&](Value p, ValueRange partial) {
                     Value column =
                         toIndex(memref::LoadOp::create(b, cols, p));
                     Value value = memref::LoadOp::create(b, values, p);
                     SmallVector<Value> next;
                     for (int64_t j = 0; j < batchTile; ++j)
                       next.push_back(fma(
                           value,
                           memref::LoadOp::create(
                               b, source, ValueRange{inputRows[j], column}),
                           partial[j]));
                     return next;
                   });
    std::copy(rowSums.begin(), rowSums.end(), sums.begin() + r * batchTile);
  }
  return sums;
}

} // namespace

gpu::GPUFuncOp qwha::cuda::buildRowKernel(gpu::GPUModuleOp module, Location loc,
                                         StringRef name,
                                         const RowKernelSpec &spec) {
  const int64_t dynamic = ShapedType::kDynamic;
  Type f32 = Float32Type::get(module.getContext());
  auto inputType = MemRefType::get({dynamic, spec.inputs}, f32);
  auto outputType = MemRefType::get({dynamic, spec.outputs}, f32);
  SmallVector<Type> arguments = {inputType};
  if (spec.takesTransform())
    arguments.push_back(inputType);
  arguments.push_back(outputType);
  gpu::GPUFuncOp function =
      createKernel(module, loc, name, arguments, spec.getBlockSize());

  Block *entry = &function.getBody().front();
  ImplicitLocOpBuilder b(loc, entry, entry->end());
  Value x = entry->getArgument(0);
  Value h = spec.takesTransform() ? entry->getArgument(1) : Value();
  Value y = entry->getArguments().back();
  RowKernelBuilder(b, spec).build(x, h, y);
  gpu::ReturnOp::create(b);
  return function;
}

int64_t FWHTKernelSpec::getBlockSize() const {
  // Enough threads for one butterfly pair each, in whole warps.
  int64_t pairs = std::max<int64_t>(getSize() / 2, 1);
  return std::min<int64_t>(1024, (pairs + 31) / 32 * 32);
}

gpu::GPUFuncOp qwha::cuda::buildFWHTKernel(gpu::GPUModuleOp module, Location loc,
                                          StringRef name,
                                          const FWHTKernelSpec &spec) {
  const int64_t d = spec.getSize(), m = spec.baseOrder;
  const int64_t threads = spec.getBlockSize();
  Type f32 = Float32Type::get(module.getContext());
  auto rowsType = MemRefType::get({ShapedType::kDynamic, d}, f32);
  gpu::GPUFuncOp function =
      createKernel(module, loc, name, {rowsType, rowsType}, threads);

  Block *entry = &function.getBody().front();
  ImplicitLocOpBuilder b(loc, entry, entry->end());
  Emitter e(b);
  Value x = entry->getArgument(0), y = entry->getArgument(1);
  Value thread = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value rowCount = memref::DimOp::create(b, x, 0);
  Value zero = e.index(0), stride = e.index(threads);

  e.when(e.less(row, rowCount), [&] {
    auto workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    Value bytes = gpu::DynamicSharedMemoryOp::create(
        b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                           MemRefLayoutAttrInterface(), workgroup));
    Value shared = memref::ViewOp::create(
        b, MemRefType::get({d}, f32, MemRefLayoutAttrInterface(), workgroup),
        bytes, zero, ValueRange{});

    // Butterfly stages over the power-of-two factor, strides in units of m;
    // for m = 1 and whole warps, strides below 32 are done while loading.
    int64_t firstSharedStride = 1;
    const bool shuffles = m == 1 && d >= 64;
    if (shuffles) {
      // Thread t holds elements t, t + T, ...: bits 0-4 of the index are
      // the lane, so stride s < 32 pairs lanes l and l ^ s.
      Value lane = e.rem(thread, 32);
      e.loop(thread, e.index(d), stride, {}, [&](Value i, ValueRange) {
        Value value = memref::LoadOp::create(b, x, ValueRange{row, i});
        for (int32_t s = 1; s < 32; s *= 2) {
          Value partner = gpu::ShuffleOp::create(b, value, s, 32,
                                                 gpu::ShuffleMode::XOR)
                              .getShuffleResult();
          Value upper = arith::CmpIOp::create(
              b, arith::CmpIPredicate::ne,
              arith::AndIOp::create(b, lane, e.index(s)), zero);
          // The lower element becomes u + v, the upper u - v.
          value = arith::SelectOp::create(b, upper, e.fsub(partner, value),
                                          e.fadd(value, partner));
        }
        memref::StoreOp::create(b, value, shared, i);
        return SmallVector<Value>();
      });
      firstSharedStride = 32;
    } else if (m == 1) {
      e.loop(thread, e.index(d), stride, {}, [&](Value i, ValueRange) {
        memref::StoreOp::create(
            b, memref::LoadOp::create(b, x, ValueRange{row, i}), shared, i);
        return SmallVector<Value>();
      });
    } else {
      // H_m on each block of m values: out[a m + c] = sum_c' H_m[c, c']
      // x[a m + c'].
      Value table = e.getGlobal(spec.baseMatrix);
      e.loop(thread, e.index(d), stride, {}, [&](Value i, ValueRange) {
        Value base = e.mul(e.div(i, m), m);
        Value tableRow = e.mul(e.rem(i, m), m);
        Value sum = e.loop(zero, e.index(m), e.index(1),
                           {e.floatConstant(0.0f)},
                           [&](Value c, ValueRange partial) {
                             Value sign = memref::LoadOp::create(
                                 b, table, e.add(tableRow, c));
                             Value value = memref::LoadOp::create(
                                 b, x, ValueRange{row, e.add(base, c)});
                             return SmallVector<Value>{
                                 e.fma(sign, value, partial[0])};
                           })[0];
        memref::StoreOp::create(b, sum, shared, i);
        return SmallVector<Value>();
      });
    }
    gpu::BarrierOp::create(b);

    for (int64_t s = firstSharedStride; s < spec.powerOfTwo; s *= 2) {
      e.loop(thread, e.index(d / 2), stride, {}, [&](Value p, ValueRange) {
        // Pair p: column c of the m-blocks, block index q among the lower
        // halves, i.e. blocks (q / s) 2s + q % s and that + s.
        Value c = m == 1 ? Value() : e.rem(p, m);
        Value q = e.div(p, m);
        Value block = e.add(e.mul(e.mul(e.div(q, s), 2), s), e.rem(q, s));
        Value i = e.mul(block, m);
        if (c)
          i = e.add(i, c);
        Value j = e.add(i, s * m);
        Value u = memref::LoadOp::create(b, shared, i);
        Value v = memref::LoadOp::create(b, shared, j);
        memref::StoreOp::create(b, e.fadd(u, v), shared, i);
        memref::StoreOp::create(b, e.fsub(u, v), shared, j);
        return SmallVector<Value>();
      });
      gpu::BarrierOp::create(b);
    }

    Value scale =
        e.floatConstant(spec.normalized ? float(1.0 / std::sqrt(double(d)))
                                        : 1.0f);
    e.loop(thread, e.index(d), stride, {}, [&](Value i, ValueRange) {
      Value value = memref::LoadOp::create(b, shared, i);
      memref::StoreOp::create(b, e.fmul(value, scale), y, ValueRange{row, i});
      return SmallVector<Value>();
    });
  });
  gpu::ReturnOp::create(b);
  return function;
}
