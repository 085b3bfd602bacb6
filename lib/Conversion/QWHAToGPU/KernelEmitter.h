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

#include "qwha/Quant/GpuPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/FormatVariadic.h"

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
  /// (value & mask) | other as one lop3. ptxas turns an and and an or
  /// with two immediates into two LOP3s (SASS takes one immediate), one
  /// instruction per weight more in the GEMV's inner loop; an explicit lop3
  /// with `other` in a register is one.
  Value maskOr(Value value, uint32_t mask, Value other) {
    std::string ptx =
        llvm::formatv("lop3.b32 $0, $1, {0:x8}, $2, 0xEA;", mask).str();
    return mlir::LLVM::InlineAsmOp::create(
               b, b.getI32Type(), ValueRange{value, other}, ptx, "=r,r,r",
               /*has_side_effects=*/false, /*is_align_stack=*/false,
               mlir::LLVM::tailcallkind::TailCallKind::None,
               mlir::LLVM::AsmDialectAttr::get(
                   b.getContext(), mlir::LLVM::AsmDialect::AD_ATT),
               /*operand_attrs=*/mlir::ArrayAttr())
        .getResult(0);
  }

  /// m(q) of column `i` of a run of packed columns that starts on a word
  /// boundary, from its words per plane (GpuPacking.h), as
  /// quant::getMantissaBits computes it on the host; the float's bits for
  /// 32-bit weights. Two instructions per code: a shift and a lop3.
  Value mantissa(unsigned bits, ArrayRef<SmallVector<Value>> words,
                 int64_t i) {
    // The field of `word` at `from` moved to `to`, or-ed into `into`.
    auto place = [&](Value word, unsigned from, unsigned width, unsigned to,
                     Value into) {
      quant::BitFieldMove move = quant::getBitFieldMove(from, width, to);
      Value value = word;
      if (move.shiftLeft)
        value = arith::ShLIOp::create(b, value, this->word(move.shiftLeft));
      else if (move.shiftRight)
        value = arith::ShRUIOp::create(b, value, this->word(move.shiftRight));
      return maskOr(value, move.mask, into);
    };
    if (bits == 32)
      return arith::BitcastOp::create(b, f32, words[0][i]);
    const unsigned top = 23 - bits;
    Value one = word(0x3F800000u);
    Value bitsOfFloat;
    if (bits == 3) {
      Value low = place(words[0][i / 16], 2 * (i % 16), 2, top, one);
      bitsOfFloat = place(words[1][i / 32], i % 32, 1, top + 2, low);
    } else {
      const int64_t perWord = 32 / bits;
      bitsOfFloat =
          place(words[0][i / perWord], bits * (i % perWord), bits, top, one);
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
