//===- GpuKernels.cpp - gpu.func kernels of convert-qwha-to-gpu -----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "GpuKernels.h"
#include "KernelEmitter.h"

#include "qwha/Quant/GpuPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <numeric>

using namespace mlir;
using namespace qwha::cuda;

namespace {

/// Builds the body of a row kernel.
class RowKernelBuilder : KernelEmitter {
public:
  RowKernelBuilder(ImplicitLocOpBuilder &b, const RowKernelSpec &spec)
      : KernelEmitter(b), spec(spec), rowsPerWarp(spec.rowsPerWarp),
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
          Value m = mantissa(weight.bits, words[r], c + e);
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
  // The branches are uniform: every block of the launch takes the same one.
  KernelEmitter e(b);
  Value batch = memref::DimOp::create(b, x, 0);
  auto emitRowPath = [&] {
    if (spec.staticBatch || spec.batchTile == 1) {
      RowKernelBuilder(b, spec).build(x, h, y);
      return;
    }
    // A dynamic batch of one row (a decode step) takes a path of its own:
    // the tile's other sums would about double the instructions issued per
    // weight. Its grid is the tile's: one row of blocks.
    RowKernelSpec single = spec;
    single.staticBatch = 1;
    single.batchTile = 1;
    Value one = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, batch,
                                      e.index(1));
    e.ifElse(
        one, [&] { RowKernelBuilder(b, single).build(x, h, y); },
        [&] { RowKernelBuilder(b, spec).build(x, h, y); });
  };
  if (spec.hasRowPath() && spec.hasTensorCorePath()) {
    Value large = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, batch,
                                        e.index(spec.mmaMinBatch));
    e.ifElse(
        large, [&] { emitTensorCoreRowKernel(b, spec, x, h, y); },
        emitRowPath);
  } else if (spec.hasTensorCorePath()) {
    emitTensorCoreRowKernel(b, spec, x, h, y);
  } else {
    emitRowPath();
  }
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
  KernelEmitter e(b);
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
