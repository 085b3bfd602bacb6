//===- QLinearKernel.cpp - Vectorized quantized matmul kernels ------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Both kernels keep V output rows in the lanes of a vector and walk the
// packed weight one chunk (kc input columns, one load per block) at a time;
// every loop-carried accumulator is an scf.for iter_arg so that LLVM keeps
// it in a register.
//
// A code becomes the float m(q) = 1 + q / 2^bits by moving it into the top
// of the mantissa of 1.0f: a shift, a mask and an or (one vpternlogd on
// AVX-512) per vector, where widening bytes and converting integers cost
// two more operations that compete with the FMAs (measured 18% slower).
//
// GEMV (one input row, bandwidth bound): per group, acc += x[k] * m(q)
// without dequantizing, then out += acc * scale + xsum[g] * offset. The
// weight is read once, with software prefetches ahead of each stream.
//
// GEMM (T input rows, compute bound): per chunk, each code vector is
// dequantized once, w = m(q) * scale + offset, and reused for the T rows:
// T x B accumulators, with B blocks of V output rows.
//
//===----------------------------------------------------------------------===//

#include "QLinearKernel.h"
#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace qwha;

QLinearKernelSpec QLinearKernelSpec::get(const quant::CpuPackedWeight &weight,
                                         int64_t gemmRows, int64_t gemmBlocks,
                                         int64_t gemvBlocks,
                                         int64_t prefetchDistance,
                                         int64_t threads) {
  QLinearKernelSpec spec;
  spec.layout = weight.layout;
  spec.rows = weight.rows;
  spec.cols = weight.cols;
  spec.numGroups = weight.numGroups;
  spec.groupStride = weight.groupStride;
  spec.paddedRows = weight.paddedRows;
  spec.gathersColumns = !weight.columnOf.empty();
  spec.gemmRows = gemmRows;
  spec.gemmBlocks = gemmBlocks;
  spec.gemvBlocks = gemvBlocks;
  spec.prefetchDistance = prefetchDistance;
  spec.threads = threads;
  return spec;
}

std::string QLinearKernelSpec::getFunctionName() const {
  return llvm::formatv(
             "qwha_cpu_qmatmul_w{0}_n{1}_k{2}_g{3}x{4}{5}_v{6}_m{7}x{8}_r{9}"
             "_p{10}{11}",
             layout.bits, rows, cols, numGroups, groupStride,
             gathersColumns ? "_gather" : "", layout.lanes, gemmRows,
             gemmBlocks, gemvBlocks, prefetchDistance,
             threads > 1 ? "_parallel" : "")
      .str();
}

namespace {

/// Independent FMA chains per block in the GEMV kernel: with one, each
/// chain waits for the previous FMA's latency (measured 15% slower at
/// 4096 x 4096, where four blocks give four chains).
constexpr int64_t kGemvChains = 2;

class KernelBuilder : public cpu::KernelEmitter {
public:
  KernelBuilder(const QLinearKernelSpec &spec, MLIRContext *context)
      : KernelEmitter(context, spec.layout.lanes), spec(spec),
        chunkColumns(spec.layout.getChunkColumns()),
        chunkWords(spec.layout.getChunkWords()),
        chunksPerGroup(spec.groupStride / chunkColumns),
        blockWords(spec.getPackedColumns() / chunkColumns * chunkWords),
        numBlocks(spec.paddedRows / spec.layout.lanes) {}

  FunctionType getFunctionType(MLIRContext *context) const;
  void build(ImplicitLocOpBuilder &b, Block *entry);

private:
  // Values of the function.
  Value x, codes, scales, offsets, columns, work, y;

  const QLinearKernelSpec &spec;
  const int64_t chunkColumns, chunkWords, chunksPerGroup, blockWords, numBlocks;

  /// The words of chunk `chunk` of the block starting at word `blockBase`:
  /// one vector per plane.
  SmallVector<Value> loadChunk(ImplicitLocOpBuilder &b, Value blockBase,
                               Value chunk) {
    Value base = add(b, blockBase, mul(b, chunk, chunkWords));
    SmallVector<Value> planes;
    for (int64_t p = 0; p < spec.layout.getPlanes(); ++p)
      planes.push_back(vector::LoadOp::create(b, wordVector, codes,
                                              add(b, base, p * lanes)));
    return planes;
  }

  /// m(q) = 1 + q / 2^bits for the codes of column `i` of a chunk.
  Value unpack(ImplicitLocOpBuilder &b, ArrayRef<Value> planes, int64_t i);

  void gatherRows(ImplicitLocOpBuilder &b, Value firstRow, int64_t count);
  void sumGroups(ImplicitLocOpBuilder &b);
  void buildGemvTile(ImplicitLocOpBuilder &b, Value row, Value firstBlock,
                     int64_t blocks);
  void buildGemmTile(ImplicitLocOpBuilder &b, Value firstRow, int64_t rows,
                     Value firstBlock, int64_t blocks);
  /// Tiles the blocks of one row tile by `blocks`, the rest one by one.
  void forEachBlockTile(
      ImplicitLocOpBuilder &b, int64_t blocks,
      function_ref<void(ImplicitLocOpBuilder &, Value, int64_t)> tile);
  void storeOutput(ImplicitLocOpBuilder &b, Value row, Value block,
                   Value value);
};

} // namespace

FunctionType KernelBuilder::getFunctionType(MLIRContext *context) const {
  Builder b(context);
  auto dynamic = ShapedType::kDynamic;
  auto strided = StridedLayoutAttr::get(context, dynamic, {dynamic, dynamic});
  SmallVector<Type> inputs = {
      MemRefType::get({dynamic, spec.cols}, f32, strided),
      MemRefType::get({dynamic}, b.getI32Type()),
      MemRefType::get({dynamic}, f32), MemRefType::get({dynamic}, f32)};
  if (spec.gathersColumns)
    inputs.push_back(MemRefType::get({dynamic}, b.getI32Type()));
  inputs.push_back(MemRefType::get({dynamic}, f32));
  inputs.push_back(MemRefType::get({dynamic, spec.rows}, f32));
  return FunctionType::get(context, inputs, {});
}

Value KernelBuilder::unpack(ImplicitLocOpBuilder &b, ArrayRef<Value> planes,
                            int64_t i) {
  const unsigned bits = spec.layout.bits;
  if (bits == 32)
    return vector::BitCastOp::create(b, floatVector, planes[0]);
  // The field at bit `from` of each word, moved to bit `to` and masked.
  auto field = [&](Value words, int64_t from, int64_t to, unsigned width) {
    Value v = words;
    if (from < to)
      v = arith::ShLIOp::create(b, v, wordSplat(b, to - from));
    else if (from > to)
      v = arith::ShRUIOp::create(b, v, wordSplat(b, from - to));
    return arith::AndIOp::create(b, v, wordSplat(b, ((1u << width) - 1) << to))
        .getResult();
  };
  // The code goes to the top `bits` bits of the 23-bit mantissa.
  const int64_t top = 23 - bits;
  Value code;
  if (bits == 3)
    code = arith::OrIOp::create(b, field(planes[i / 16], 2 * (i % 16), top, 2),
                                field(planes[2], i, top + 2, 1));
  else
    code = field(planes[0], i * bits, top, bits);
  Value one = wordSplat(b, 0x3F800000u);
  return vector::BitCastOp::create(b, floatVector,
                                   arith::OrIOp::create(b, code, one));
}

void KernelBuilder::gatherRows(ImplicitLocOpBuilder &b, Value firstRow,
                               int64_t count) {
  const int64_t packedCols = spec.getPackedColumns();
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  loop(b, index(b, 0), index(b, count), 1, {},
       [&](ImplicitLocOpBuilder &b, Value r, ValueRange) {
         Value row = add(b, firstRow, r);
         Value rowBase = mul(b, r, packedCols);
         loop(b, index(b, 0), index(b, packedCols), 1, {},
              [&](ImplicitLocOpBuilder &b, Value j, ValueRange) {
                Value value;
                if (spec.gathersColumns) {
                  Value source = arith::IndexCastOp::create(
                      b, b.getIndexType(),
                      memref::LoadOp::create(b, columns, j));
                  Value valid = arith::CmpIOp::create(
                      b, arith::CmpIPredicate::sge, source, index(b, 0));
                  Value safe =
                      arith::SelectOp::create(b, valid, source, index(b, 0));
                  Value loaded = memref::LoadOp::create(b, x, {row, safe});
                  value = arith::SelectOp::create(b, valid, loaded, zeroF);
                } else {
                  value = memref::LoadOp::create(b, x, {row, j});
                }
                memref::StoreOp::create(b, value, work, add(b, rowBase, j));
                return SmallVector<Value>();
              });
         return SmallVector<Value>();
       });
}

void KernelBuilder::sumGroups(ImplicitLocOpBuilder &b) {
  const int64_t sumsBase = spec.gemmRows * spec.getPackedColumns();
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  loop(b, index(b, 0), index(b, spec.numGroups), 1, {},
       [&](ImplicitLocOpBuilder &b, Value g, ValueRange) {
         Value groupBase = mul(b, g, spec.groupStride);
         Value sum =
             loop(b, index(b, 0), index(b, spec.groupStride), 1, {zeroF},
                  [&](ImplicitLocOpBuilder &b, Value i, ValueRange carried) {
                    Value v =
                        memref::LoadOp::create(b, work, add(b, groupBase, i));
                    return SmallVector<Value>{
                        arith::AddFOp::create(b, carried[0], v)};
                  })[0];
         memref::StoreOp::create(b, sum, work, add(b, g, sumsBase));
         return SmallVector<Value>();
       });
}

void KernelBuilder::storeOutput(ImplicitLocOpBuilder &b, Value row, Value block,
                                Value value) {
  Value n = mul(b, block, lanes);
  if (spec.rows % lanes == 0) {
    vector::StoreOp::create(b, value, y, {row, n});
    return;
  }
  // The last block may run past the N output columns.
  Value mask = prefixMask(b, sub(b, index(b, spec.rows), n));
  vector::MaskedStoreOp::create(b, y, ValueRange{row, n}, mask, value);
}

void KernelBuilder::forEachBlockTile(
    ImplicitLocOpBuilder &b, int64_t blocks,
    function_ref<void(ImplicitLocOpBuilder &, Value, int64_t)> tile) {
  const int64_t tiled = numBlocks / blocks * blocks;
  // Tiles write disjoint outputs and only read the shared workspace, so
  // with threads they are an scf.parallel, for convert-scf-to-openmp.
  if (tiled > 0 && spec.threads > 1) {
    scf::ParallelOp::create(
        b, ValueRange{index(b, 0)}, ValueRange{index(b, tiled)},
        ValueRange{index(b, blocks)},
        [&](OpBuilder &nested, Location loc, ValueRange ivs) {
          ImplicitLocOpBuilder nb(loc, nested);
          tile(nb, ivs[0], blocks);
        });
  } else if (tiled > 0) {
    loop(b, index(b, 0), index(b, tiled), blocks, {},
         [&](ImplicitLocOpBuilder &b, Value block, ValueRange) {
           tile(b, block, blocks);
           return SmallVector<Value>();
         });
  }
  if (tiled < numBlocks)
    loop(b, index(b, tiled), index(b, numBlocks), 1, {},
         [&](ImplicitLocOpBuilder &b, Value block, ValueRange) {
           tile(b, block, 1);
           return SmallVector<Value>();
         });
}

void KernelBuilder::buildGemvTile(ImplicitLocOpBuilder &b, Value row,
                                  Value firstBlock, int64_t blocks) {
  const int64_t sumsBase = spec.gemmRows * spec.getPackedColumns();
  SmallVector<Value> blockBases;
  for (int64_t t = 0; t < blocks; ++t)
    blockBases.push_back(mul(b, add(b, firstBlock, t), blockWords));

  SmallVector<Value> zeros(blocks, zeroVector(b));
  SmallVector<Value> totals = loop(
      b, index(b, 0), index(b, spec.numGroups), 1, zeros,
      [&](ImplicitLocOpBuilder &b, Value g, ValueRange totals) {
        Value firstChunk = mul(b, g, chunksPerGroup);
        // partial[t * kGemvChains + c]: block t, columns i = c mod chains.
        SmallVector<Value> init(blocks * kGemvChains, zeroVector(b));
        SmallVector<Value> chains = loop(
            b, index(b, 0), index(b, chunksPerGroup), 1, init,
            [&](ImplicitLocOpBuilder &b, Value c, ValueRange acc) {
              Value chunk = add(b, firstChunk, c);
              Value column = mul(b, chunk, chunkColumns);
              SmallVector<SmallVector<Value>> planes;
              for (int64_t t = 0; t < blocks; ++t) {
                planes.push_back(loadChunk(b, blockBases[t], chunk));
                // Prefetches never fault, so running past the end of the
                // codes is harmless.
                if (spec.prefetchDistance > 0)
                  memref::PrefetchOp::create(
                      b, codes,
                      ValueRange{add(
                          b, add(b, blockBases[t], mul(b, chunk, chunkWords)),
                          spec.prefetchDistance / 4)},
                      /*isWrite=*/false, /*localityHint=*/0,
                      /*isDataCache=*/true);
              }
              SmallVector<Value> next(acc);
              for (int64_t i = 0; i < chunkColumns; ++i) {
                Value xi = memref::LoadOp::create(b, work, add(b, column, i));
                Value xv = vector::BroadcastOp::create(b, floatVector, xi);
                for (int64_t t = 0; t < blocks; ++t) {
                  Value &chain = next[t * kGemvChains + i % kGemvChains];
                  chain = vector::FMAOp::create(b, xv, unpack(b, planes[t], i),
                                                chain);
                }
              }
              return next;
            });
        SmallVector<Value> partial;
        for (int64_t t = 0; t < blocks; ++t) {
          Value sum = chains[t * kGemvChains];
          for (int64_t c = 1; c < kGemvChains; ++c)
            sum = arith::AddFOp::create(b, sum, chains[t * kGemvChains + c]);
          partial.push_back(sum);
        }
        // Scales and zero points once per group.
        Value sum = memref::LoadOp::create(b, work, add(b, g, sumsBase));
        Value sumVector = vector::BroadcastOp::create(b, floatVector, sum);
        Value groupBase = mul(b, g, spec.paddedRows);
        SmallVector<Value> next;
        for (int64_t t = 0; t < blocks; ++t) {
          Value n = add(b, groupBase, mul(b, add(b, firstBlock, t), lanes));
          Value scale = vector::LoadOp::create(b, floatVector, scales, n);
          Value offset = vector::LoadOp::create(b, floatVector, offsets, n);
          Value total = vector::FMAOp::create(b, partial[t], scale, totals[t]);
          next.push_back(vector::FMAOp::create(b, sumVector, offset, total));
        }
        return next;
      });
  for (int64_t t = 0; t < blocks; ++t)
    storeOutput(b, row, add(b, firstBlock, t), totals[t]);
}

void KernelBuilder::buildGemmTile(ImplicitLocOpBuilder &b, Value firstRow,
                                  int64_t rows, Value firstBlock,
                                  int64_t blocks) {
  const int64_t packedCols = spec.getPackedColumns();
  SmallVector<Value> blockBases;
  for (int64_t t = 0; t < blocks; ++t)
    blockBases.push_back(mul(b, add(b, firstBlock, t), blockWords));

  // acc[r * blocks + t]: input row r, output block t.
  SmallVector<Value> zeros(rows * blocks, zeroVector(b));
  SmallVector<Value> acc = loop(
      b, index(b, 0), index(b, spec.numGroups), 1, zeros,
      [&](ImplicitLocOpBuilder &b, Value g, ValueRange carried) {
        Value groupBase = mul(b, g, spec.paddedRows);
        SmallVector<Value> groupScales, groupOffsets;
        for (int64_t t = 0; t < blocks; ++t) {
          Value n = add(b, groupBase, mul(b, add(b, firstBlock, t), lanes));
          groupScales.push_back(
              vector::LoadOp::create(b, floatVector, scales, n));
          groupOffsets.push_back(
              vector::LoadOp::create(b, floatVector, offsets, n));
        }
        Value firstChunk = mul(b, g, chunksPerGroup);
        return loop(
            b, index(b, 0), index(b, chunksPerGroup), 1, carried,
            [&](ImplicitLocOpBuilder &b, Value c, ValueRange acc) {
              Value chunk = add(b, firstChunk, c);
              Value column = mul(b, chunk, chunkColumns);
              SmallVector<SmallVector<Value>> planes;
              for (int64_t t = 0; t < blocks; ++t)
                planes.push_back(loadChunk(b, blockBases[t], chunk));
              SmallVector<Value> next(acc);
              for (int64_t i = 0; i < chunkColumns; ++i) {
                SmallVector<Value> weights;
                for (int64_t t = 0; t < blocks; ++t)
                  weights.push_back(
                      vector::FMAOp::create(b, unpack(b, planes[t], i),
                                            groupScales[t], groupOffsets[t]));
                Value k = add(b, column, i);
                for (int64_t r = 0; r < rows; ++r) {
                  Value xi = memref::LoadOp::create(b, work,
                                                    add(b, k, r * packedCols));
                  Value xv = vector::BroadcastOp::create(b, floatVector, xi);
                  for (int64_t t = 0; t < blocks; ++t)
                    next[r * blocks + t] = vector::FMAOp::create(
                        b, xv, weights[t], next[r * blocks + t]);
                }
              }
              return next;
            });
      });
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < blocks; ++t)
      storeOutput(b, add(b, firstRow, r), add(b, firstBlock, t),
                  acc[r * blocks + t]);
}

void KernelBuilder::build(ImplicitLocOpBuilder &b, Block *entry) {
  unsigned arg = 0;
  x = entry->getArgument(arg++);
  codes = entry->getArgument(arg++);
  scales = entry->getArgument(arg++);
  offsets = entry->getArgument(arg++);
  if (spec.gathersColumns)
    columns = entry->getArgument(arg++);
  work = entry->getArgument(arg++);
  y = entry->getArgument(arg++);

  // Row tiles of gemmRows, then halves of it down to 2, then single rows.
  SmallVector<int64_t> tiles;
  for (int64_t t = spec.gemmRows; t >= 2; t /= 2)
    tiles.push_back(t);
  tiles.push_back(1);

  Value rowCount = memref::DimOp::create(b, x, 0);
  Value start = index(b, 0);
  for (int64_t tile : tiles) {
    Value remaining = arith::SubIOp::create(b, rowCount, start);
    Value tiledRows =
        mul(b, arith::DivUIOp::create(b, remaining, index(b, tile)), tile);
    Value end = add(b, start, tiledRows);
    loop(b, start, end, tile, {},
         [&](ImplicitLocOpBuilder &b, Value firstRow, ValueRange) {
           gatherRows(b, firstRow, tile);
           if (tile == 1) {
             sumGroups(b);
             forEachBlockTile(
                 b, spec.gemvBlocks,
                 [&](ImplicitLocOpBuilder &b, Value block, int64_t blocks) {
                   buildGemvTile(b, firstRow, block, blocks);
                 });
           } else {
             forEachBlockTile(
                 b, spec.gemmBlocks,
                 [&](ImplicitLocOpBuilder &b, Value block, int64_t blocks) {
                   buildGemmTile(b, firstRow, tile, block, blocks);
                 });
           }
           return SmallVector<Value>();
         });
    start = end;
  }
  func::ReturnOp::create(b);
}

func::FuncOp qwha::getOrCreateQLinearKernel(ModuleOp module,
                                            const QLinearKernelSpec &spec) {
  MLIRContext *context = module.getContext();
  KernelBuilder kernel(spec, context);
  return cpu::getOrCreateKernel(
      module, spec.getFunctionName(), kernel.getFunctionType(context),
      [&](ImplicitLocOpBuilder &b, Block *entry) { kernel.build(b, entry); });
}
