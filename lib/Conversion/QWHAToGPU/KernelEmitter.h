//===- KernelEmitter.h - IR building helpers of the GPU kernels -*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What the row, tensor-core and FWHT kernels of convert-qwha-to-gpu share:
// arithmetic that reads like the formulas it computes, loops, warp sums,
// and the dequantization of packed codes (GpuPacking.h) in registers.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_CONVERSION_QWHATOGPU_KERNELEMITTER_H
#define QWHA_LIB_CONVERSION_QWHATOGPU_KERNELEMITTER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace qwha::cuda {

using mlir::ArrayRef;
using mlir::function_ref;
using mlir::ImplicitLocOpBuilder;
using mlir::Location;
using mlir::OpBuilder;
using mlir::SmallVector;
using mlir::StringRef;
using mlir::Type;
using mlir::TypeRange;
using mlir::Value;
using mlir::ValueRange;
namespace arith = mlir::arith;
namespace gpu = mlir::gpu;
namespace memref = mlir::memref;
namespace scf = mlir::scf;

/// Index and float arithmetic that reads like the formulas it computes.
class KernelEmitter {
public:
  explicit KernelEmitter(ImplicitLocOpBuilder &b) : b(b), f32(b.getF32Type()) {}

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
  /// m(q) of column `i` of a run of packed columns that starts on a word
  /// boundary, from its words per plane (GpuPacking.h); the float's bits
  /// for 32-bit weights.
  Value mantissa(unsigned bits, ArrayRef<SmallVector<Value>> words,
                 int64_t i) {
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

  /// `thenBody` under `condition`, `elseBody` otherwise, no results.
  void ifElse(Value condition, function_ref<void()> thenBody,
              function_ref<void()> elseBody) {
    auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    thenBody();
    b.setInsertionPointToStart(ifOp.elseBlock());
    elseBody();
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
inline Value warpSum(ImplicitLocOpBuilder &b, Value value) {
  for (int32_t offset = 16; offset >= 1; offset /= 2) {
    auto shuffle =
        gpu::ShuffleOp::create(b, value, offset, 32, gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, value, shuffle.getShuffleResult());
  }
  return value;
}

inline gpu::GPUFuncOp createKernel(gpu::GPUModuleOp module, Location loc,
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

} // namespace qwha::cuda

#endif // QWHA_LIB_CONVERSION_QWHATOGPU_KERNELEMITTER_H
