//===- TensorCoreKernel.cpp - Tensor-core path of the row kernels ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// For batches large enough that the warp-per-rows GEMV would re-read the
// weight once per tile of 8 inputs, the weight is dequantized once per
// block into shared memory and multiplied on the tensor cores:
//
//   for each chunk of 32 packed columns:
//     the block loads its inputs' chunk        -> input tile [B][32]
//     thread t dequantizes row t's chunk       -> weight tile [32 warps][32]
//     barrier
//     warp w: D[its 32 rows][B] += W_tile[its rows] X_tile^T
//             (2 x B/8 mma.sync m16n8k8 per 8 columns)
//     adapter (packed columns are input columns): warp w overwrites its own
//     rows of the weight tile with F's chunk, densified from the sorted CSR
//     row the thread walks with a cursor, and multiplies it with the
//     transform's chunk into the same D
//     barrier
//
// Operands are TF32 (10-bit mantissa, rounded to nearest here rather than
// truncated by the hardware), accumulation f32: like torch with TF32
// matmuls allowed, results differ from the f32 row path by about 1e-3 of
// their scale.
//
//===----------------------------------------------------------------------===//

#include "GpuKernels.h"
#include "KernelEmitter.h"
#include "qwha/Conversion/QWHAToGPU/TensorCoreFragments.h"
#include "qwha/Quant/GpuPacking.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace qwha::cuda;

namespace {

class TensorCoreKernelBuilder : KernelEmitter {
public:
  TensorCoreKernelBuilder(ImplicitLocOpBuilder &b, const RowKernelSpec &spec)
      : KernelEmitter(b), spec(spec),
        blockRows(spec.getTensorCoreRowsPerBlock()),
        batchTile(spec.mmaBatchTile), outputTiles(batchTile / kMmaN) {}

  void build(Value x, Value h, Value y);

private:
  /// Output rows of a warp: two m16 tiles.
  static constexpr int64_t kWarpRows = 32;

  const RowKernelSpec &spec;
  const int64_t blockRows, batchTile, outputTiles;
  Value thread, lane, warp, laneGroup, laneInGroup;
  Value batch, firstRow, firstInput, lastInput;
  /// The output row whose weight (and adapter) chunks this thread writes,
  /// clamped to the last row.
  Value ownRow;
  /// Shared tiles, [rows][kTensorCoreTileStride] f32.
  Value weightTile, inputTile, transformTile;

  Value sharedTile(Value bytes, int64_t firstRowOfTile, int64_t rows);
  Value roundToTF32(Value value);
  /// Column `index` of `table` entry `coord` for this lane, plus `offset`.
  Value fragmentRow(const FragmentCoord &coord, int64_t offset);
  Value fragmentCol(const FragmentCoord &coord, int64_t offset);

  /// Fills `tile` with columns [firstColumn, firstColumn + 32) of the
  /// block's input rows of `source`: through `columnOf` (packed columns of
  /// `columns` in all) when given, else directly; zero past the end.
  void loadInputTile(Value tile, Value source, Value firstColumn,
                     Value columnOf, int64_t columns);
  /// Writes chunk `chunk` of ownRow's weight, dequantized, into the weight
  /// tile's row `thread`.
  void dequantizeOwnRow(Value chunk);
  /// Overwrites the weight tile's row `thread` with F[ownRow, firstColumn
  /// ...+ 32), consuming entries from `cursor` (below `end`); returns the
  /// cursor after them.
  Value fillAdapterRow(Value firstColumn, Value cursor, Value end);
  /// acc += left[warp's rows] right^T over the 32 columns of the tiles.
  SmallVector<Value> multiply(Value left, Value right, ValueRange acc);
  void storeOutputs(Value y, ValueRange acc);
  void warpBarrier();
};

Value TensorCoreKernelBuilder::sharedTile(Value bytes, int64_t firstRowOfTile,
                                          int64_t rows) {
  auto workgroup = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  return memref::ViewOp::create(
      b,
      MemRefType::get({rows, kTensorCoreTileStride}, f32,
                      MemRefLayoutAttrInterface(), workgroup),
      bytes, index(firstRowOfTile * kTensorCoreTileStride * 4), ValueRange{});
}

Value TensorCoreKernelBuilder::roundToTF32(Value value) {
  // Round half away from zero into the top 19 bits (cvt.rna.tf32.f32);
  // works on scalars and vectors alike.
  Type bitsType = b.getI32Type();
  if (auto vector = dyn_cast<VectorType>(value.getType()))
    bitsType = vector.clone(b.getI32Type());
  auto splat = [&](uint32_t word) -> Value {
    if (auto vector = dyn_cast<VectorType>(bitsType))
      return arith::ConstantOp::create(
          b, DenseElementsAttr::get(vector, b.getI32IntegerAttr(int32_t(word))));
    return this->word(word);
  };
  Value bits = arith::BitcastOp::create(b, bitsType, value);
  bits = arith::AddIOp::create(b, bits, splat(0x1000u));
  bits = arith::AndIOp::create(b, bits, splat(0xFFFFE000u));
  return arith::BitcastOp::create(b, value.getType(), bits);
}

Value TensorCoreKernelBuilder::fragmentRow(const FragmentCoord &coord,
                                           int64_t offset) {
  return add(add(mul(laneGroup, coord.rowPerGroup),
                 mul(laneInGroup, coord.rowPerThread)),
             coord.rowOffset + offset);
}

Value TensorCoreKernelBuilder::fragmentCol(const FragmentCoord &coord,
                                           int64_t offset) {
  return add(add(mul(laneGroup, coord.colPerGroup),
                 mul(laneInGroup, coord.colPerThread)),
             coord.colOffset + offset);
}

void TensorCoreKernelBuilder::warpBarrier() {
  // Lanes of a warp run independently (Volta and later): the shared rows a
  // warp rewrites must be read by all its lanes first, and the other way.
  NVVM::SyncWarpOp::create(b, word(0xFFFFFFFFu));
}

void TensorCoreKernelBuilder::loadInputTile(Value tile, Value source,
                                            Value firstColumn, Value columnOf,
                                            int64_t columns) {
  const int64_t chunk = kTensorCoreChunk;
  Value stride = index(spec.getBlockSize());
  if (!columnOf && columns % 4 == 0) {
    // 128-bit loads and stores, eight per input row.
    auto vectorType = VectorType::get({4}, f32);
    // A partial last chunk reads its last full vector again, unused.
    const bool partial = columns % chunk != 0;
    loop(thread, index(batchTile * chunk / 4), stride, {},
         [&](Value i, ValueRange) {
           Value j = div(i, chunk / 4), q = mul(rem(i, chunk / 4), 4);
           Value row = min(add(firstInput, j), lastInput);
           Value column = add(firstColumn, q);
           Value safe = partial ? min(column, index(columns - 4)) : column;
           Value values = roundToTF32(vector::LoadOp::create(
               b, vectorType, source, ValueRange{row, safe},
               /*nontemporal=*/false, llvm::MaybeAlign(16)));
           if (partial)
             values = arith::SelectOp::create(
                 b, less(column, index(columns)), values,
                 arith::ConstantOp::create(
                     b, DenseElementsAttr::get(vectorType,
                                               b.getF32FloatAttr(0.0f))));
           vector::StoreOp::create(b, values, tile, ValueRange{j, q},
                                   /*nontemporal=*/false,
                                   llvm::MaybeAlign(16));
           return SmallVector<Value>();
         });
    return;
  }
  loop(thread, index(batchTile * chunk), stride, {}, [&](Value i, ValueRange) {
    Value j = div(i, chunk), c = rem(i, chunk);
    Value row = min(add(firstInput, j), lastInput);
    Value column = add(firstColumn, c);
    Value inBounds = less(column, index(columns));
    Value safe = min(column, index(columns - 1));
    Value sourceColumn = safe;
    if (columnOf) {
      // Padding columns map to -1.
      Value mapped = memref::LoadOp::create(b, columnOf, safe);
      Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::sge,
                                          mapped, word(0));
      inBounds = arith::AndIOp::create(b, inBounds, valid);
      sourceColumn =
          toIndex(arith::SelectOp::create(b, valid, mapped, word(0)));
    }
    Value value = memref::LoadOp::create(b, source, ValueRange{row, sourceColumn});
    value = arith::SelectOp::create(b, inBounds, roundToTF32(value),
                                    floatConstant(0.0f));
    memref::StoreOp::create(b, value, tile, ValueRange{j, c});
    return SmallVector<Value>();
  });
}

void TensorCoreKernelBuilder::dequantizeOwnRow(Value chunk) {
  const RowKernelWeight &weight = *spec.weight;
  const bool isFloat = weight.bits == 32;
  const int64_t chunkColumns = kTensorCoreChunk;
  Value firstColumn = mul(chunk, chunkColumns);

  // The chunk's words of each plane: bits-per-column words, starting on a
  // word boundary (32 columns), in loads of at most 128 bits.
  SmallVector<SmallVector<Value>> words;
  for (auto [p, global] : llvm::enumerate(weight.planes)) {
    const int64_t planeBits = weight.bits == 3 ? (p == 0 ? 2 : 1) : weight.bits;
    Value plane = getGlobal(global);
    Value firstWord = mul(chunk, planeBits);
    SmallVector<Value> planeWords;
    if (planeBits == 1) {
      planeWords.push_back(
          memref::LoadOp::create(b, plane, ValueRange{ownRow, firstWord}));
      words.push_back(std::move(planeWords));
      continue;
    }
    const int64_t width = std::min<int64_t>(planeBits, 4);
    auto type = VectorType::get({width}, b.getI32Type());
    for (int64_t w = 0; w < planeBits; w += width) {
      Value wordIndex = add(firstWord, w);
      Value loaded;
      if (isFloat && weight.packedCols % chunkColumns != 0) {
        // Float rows end on a multiple of 4 columns: the last chunk is
        // partial.
        Value inBounds = less(wordIndex, index(weight.packedCols));
        Value safe = min(wordIndex, index(weight.packedCols - width));
        loaded = vector::LoadOp::create(b, type, plane,
                                        ValueRange{ownRow, safe}, false,
                                        llvm::MaybeAlign(4 * width));
        Value zeros = arith::ConstantOp::create(
            b, DenseElementsAttr::get(type, b.getI32IntegerAttr(0)));
        loaded = arith::SelectOp::create(b, inBounds, loaded, zeros);
      } else {
        loaded = vector::LoadOp::create(b, type, plane,
                                        ValueRange{ownRow, wordIndex}, false,
                                        llvm::MaybeAlign(4 * width));
      }
      for (int64_t e = 0; e < width; ++e)
        planeWords.push_back(vector::ExtractOp::create(b, loaded, e));
    }
    words.push_back(std::move(planeWords));
  }

  Value scale, offset;
  if (!isFloat) {
    Value group = div(firstColumn, weight.groupStride);
    scale = memref::LoadOp::create(b, getGlobal(weight.scales),
                                   ValueRange{ownRow, group});
    offset = memref::LoadOp::create(b, getGlobal(weight.offsets),
                                    ValueRange{ownRow, group});
  }
  auto vectorType = VectorType::get({4}, f32);
  for (int64_t q = 0; q < chunkColumns; q += 4) {
    SmallVector<Value> values;
    for (int64_t e = 0; e < 4; ++e) {
      Value m = mantissa(weight.bits, words, q + e);
      values.push_back(isFloat ? m : fma(m, scale, offset));
    }
    Value vector = roundToTF32(
        vector::FromElementsOp::create(b, vectorType, values));
    vector::StoreOp::create(b, vector, weightTile, ValueRange{thread, index(q)},
                            false, llvm::MaybeAlign(16));
  }
}

Value TensorCoreKernelBuilder::fillAdapterRow(Value firstColumn, Value cursor,
                                              Value end) {
  const RowKernelAdapter &adapter = *spec.adapter;
  Value cols = getGlobal(adapter.cols);
  Value values = getGlobal(adapter.values);
  auto vectorType = VectorType::get({4}, f32);
  Value zeros = arith::ConstantOp::create(
      b, DenseElementsAttr::get(vectorType, b.getF32FloatAttr(0.0f)));
  for (int64_t q = 0; q < kTensorCoreChunk; q += 4)
    vector::StoreOp::create(b, zeros, weightTile, ValueRange{thread, index(q)},
                            false, llvm::MaybeAlign(16));

  // Entries of a row are sorted by column (convert-qwha-to-gpu sorts
  // them), so the chunk's are the next ones below its last column.
  memref::GlobalOp colsGlobal = adapter.cols;
  Value lastEntry = index(colsGlobal.getType().getDimSize(0) - 1);
  Value chunkEnd = add(firstColumn, kTensorCoreChunk);
  auto whileOp = scf::WhileOp::create(
      b, TypeRange{b.getIndexType()}, ValueRange{cursor},
      [&](OpBuilder &nested, Location, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        Value p = args[0];
        Value column = toIndex(
            memref::LoadOp::create(b, cols, min(p, lastEntry)));
        Value more = arith::AndIOp::create(b, less(p, end),
                                           less(column, chunkEnd));
        scf::ConditionOp::create(b, more, ValueRange{p});
      },
      [&](OpBuilder &nested, Location, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        Value p = args[0];
        Value column = arith::SubIOp::create(
            b, toIndex(memref::LoadOp::create(b, cols, p)), firstColumn);
        // Duplicate (row, column) entries add up, as in the CSR product.
        Value sum = fadd(
            memref::LoadOp::create(b, weightTile, ValueRange{thread, column}),
            memref::LoadOp::create(b, values, p));
        memref::StoreOp::create(b, roundToTF32(sum), weightTile,
                                ValueRange{thread, column});
        scf::YieldOp::create(b, ValueRange{add(p, 1)});
      });
  return whileOp.getResult(0);
}

SmallVector<Value> TensorCoreKernelBuilder::multiply(Value left, Value right,
                                                     ValueRange carried) {
  SmallVector<Value> acc(carried);
  auto aType = VectorType::get({4, 1}, f32);
  auto bType = VectorType::get({2, 1}, f32);
  Value warpRow = mul(warp, kWarpRows);
  for (int64_t k = 0; k < kTensorCoreChunk; k += kMmaK) {
    SmallVector<Value> aFragments, bFragments;
    for (int64_t m = 0; m < kWarpRows; m += kMmaM) {
      SmallVector<Value> values;
      for (const FragmentCoord &coord : kTF32FragmentA)
        values.push_back(memref::LoadOp::create(
            b, left,
            ValueRange{add(warpRow, fragmentRow(coord, m)),
                       fragmentCol(coord, k)}));
      aFragments.push_back(vector::FromElementsOp::create(b, aType, values));
    }
    for (int64_t n = 0; n < batchTile; n += kMmaN) {
      // B(k, n) is input n's column k.
      SmallVector<Value> values;
      for (const FragmentCoord &coord : kTF32FragmentB)
        values.push_back(memref::LoadOp::create(
            b, right, ValueRange{fragmentCol(coord, n), fragmentRow(coord, k)}));
      bFragments.push_back(vector::FromElementsOp::create(b, bType, values));
    }
    for (auto [mi, a] : llvm::enumerate(aFragments))
      for (auto [ni, bFragment] : llvm::enumerate(bFragments)) {
        Value &c = acc[mi * outputTiles + ni];
        c = nvgpu::MmaSyncOp::create(b, a, bFragment, c,
                                     ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK},
                                     /*tf32Enabled=*/true);
      }
  }
  return acc;
}

void TensorCoreKernelBuilder::storeOutputs(Value y, ValueRange acc) {
  Value warpRow = add(firstRow, mul(warp, kWarpRows));
  for (int64_t mi = 0; mi < kWarpRows / kMmaM; ++mi)
    for (int64_t ni = 0; ni < outputTiles; ++ni)
      for (auto [v, coord] : llvm::enumerate(kF32FragmentC)) {
        Value row = add(warpRow, fragmentRow(coord, mi * kMmaM));
        Value input = add(firstInput, fragmentCol(coord, ni * kMmaN));
        Value value = vector::ExtractOp::create(
            b, acc[mi * outputTiles + ni],
            ArrayRef<int64_t>{int64_t(v / 2), int64_t(v % 2)});
        when(arith::AndIOp::create(b, less(row, index(spec.outputs)),
                                   less(input, batch)),
             [&] {
               memref::StoreOp::create(b, value, y, ValueRange{input, row});
             });
      }
}

void TensorCoreKernelBuilder::build(Value x, Value h, Value y) {
  const int64_t n = spec.outputs;
  thread = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  lane = rem(thread, 32);
  warp = div(thread, 32);
  laneGroup = div(lane, 4);
  laneInGroup = rem(lane, 4);
  batch = memref::DimOp::create(b, x, 0);
  firstRow = mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), blockRows);
  firstInput = mul(gpu::BlockIdOp::create(b, gpu::Dimension::y), batchTile);

  // The grid has one tile even when there are no input rows.
  when(less(firstInput, batch), [&] {
    lastInput = arith::SubIOp::create(b, batch, index(1));
    Value ownRowUnclamped = add(firstRow, thread);
    Value ownRowValid = less(ownRowUnclamped, index(n));
    ownRow = min(ownRowUnclamped, index(n - 1));

    auto workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    Value bytes = gpu::DynamicSharedMemoryOp::create(
        b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                           MemRefLayoutAttrInterface(), workgroup));
    weightTile = sharedTile(bytes, 0, blockRows);
    inputTile = sharedTile(bytes, blockRows, batchTile);
    if (spec.fusesAdapter())
      transformTile = sharedTile(bytes, blockRows + batchTile, batchTile);

    auto accType = VectorType::get({2, 2}, f32);
    Value zero = arith::ConstantOp::create(
        b, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0f)));
    SmallVector<Value> acc((kWarpRows / kMmaM) * outputTiles, zero);

    // The thread's adapter row as a cursor range; empty past the last row.
    Value cursor, end;
    if (spec.adapter) {
      Value rowOffsets = getGlobal(spec.adapter->rowOffsets);
      Value begin = toIndex(memref::LoadOp::create(b, rowOffsets, ownRow));
      end = toIndex(memref::LoadOp::create(b, rowOffsets, add(ownRow, 1)));
      end = arith::SelectOp::create(b, ownRowValid, end, begin);
      cursor = begin;
    }
    Value adapterSource = spec.adapter && spec.adapter->readsInput ? x : h;

    if (spec.weight) {
      const RowKernelWeight &weight = *spec.weight;
      Value columnOf = weight.columnOf ? getGlobal(weight.columnOf) : Value();
      const bool fused = spec.fusesAdapter();
      SmallVector<Value> init(acc);
      if (fused)
        init.push_back(cursor);
      SmallVector<Value> results = loop(
          index(0), index(llvm::divideCeil(weight.packedCols, kTensorCoreChunk)),
          index(1), init, [&](Value chunk, ValueRange carried) {
            Value firstColumn = mul(chunk, kTensorCoreChunk);
            loadInputTile(inputTile, x, firstColumn, columnOf,
                          columnOf ? weight.packedCols : spec.inputs);
            if (fused)
              loadInputTile(transformTile, adapterSource, firstColumn,
                            Value(), spec.inputs);
            dequantizeOwnRow(chunk);
            gpu::BarrierOp::create(b);
            SmallVector<Value> next =
                multiply(weightTile, inputTile, carried.take_front(acc.size()));
            if (fused) {
              warpBarrier();
              Value after = fillAdapterRow(firstColumn, carried.back(), end);
              warpBarrier();
              next = multiply(weightTile, transformTile, next);
              next.push_back(after);
            }
            // Before the next chunk overwrites the tiles.
            gpu::BarrierOp::create(b);
            return next;
          });
      acc.assign(results.begin(), results.begin() + acc.size());
    }
    if (spec.adapter && !spec.fusesAdapter()) {
      SmallVector<Value> init(acc);
      init.push_back(cursor);
      SmallVector<Value> results = loop(
          index(0), index(llvm::divideCeil(spec.inputs, kTensorCoreChunk)),
          index(1), init, [&](Value chunk, ValueRange carried) {
            Value firstColumn = mul(chunk, kTensorCoreChunk);
            loadInputTile(inputTile, adapterSource, firstColumn, Value(),
                          spec.inputs);
            Value after = fillAdapterRow(firstColumn, carried.back(), end);
            gpu::BarrierOp::create(b);
            SmallVector<Value> next =
                multiply(weightTile, inputTile, carried.drop_back());
            gpu::BarrierOp::create(b);
            next.push_back(after);
            return next;
          });
      acc.assign(results.begin(), results.end() - 1);
    }
    storeOutputs(y, acc);
  });
}

} // namespace

void qwha::cuda::emitTensorCoreRowKernel(ImplicitLocOpBuilder &b,
                                         const RowKernelSpec &spec, Value x,
                                         Value h, Value y) {
  TensorCoreKernelBuilder(b, spec).build(x, h, y);
}
