//===- Passes.h - QWHA conversion passes ------------------------*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CONVERSION_PASSES_H
#define QWHA_CONVERSION_PASSES_H

#include "qwha/Conversion/QWHAToCPU/QWHAToCPU.h"
#include "qwha/Conversion/QWHAToGPU/QWHAToGPU.h"
#include "qwha/Conversion/QWHAToLinalg/QWHAToLinalg.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace qwha {

#define GEN_PASS_REGISTRATION
#include "qwha/Conversion/Passes.h.inc"

} // namespace qwha

#endif // QWHA_CONVERSION_PASSES_H
