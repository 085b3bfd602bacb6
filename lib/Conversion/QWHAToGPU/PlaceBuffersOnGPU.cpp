//===- PlaceBuffersOnGPU.cpp - Host buffers in device memory --------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// After convert-qwha-to-gpu, bufferization and qwha-launch-loops-on-gpu, a
// host function only allocates, reshapes and frees buffers and launches
// kernels on them. Its callers pass device memory, so the buffers it
// allocates must be device memory too; and nothing on the host may touch
// their contents.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToGPU/QWHAToGPU.h"
#include "BufferViews.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/IR/PatternMatch.h"

namespace qwha {
#define GEN_PASS_DEF_PLACEBUFFERSONGPU
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;

namespace {

/// Whether `op` may stay on the host: it reads and writes no buffer
/// contents (its nested ops are checked on their own).
bool isHostSafe(Operation *op) {
  // A host global's contents would reach a kernel or the caller as a
  // pointer the device cannot read.
  if (isa<memref::GetGlobalOp>(op))
    return false;
  if (isa<gpu::GPUDialect>(op->getDialect()))
    return true;
  if (isa<func::CallOp, func::ReturnOp, memref::DimOp,
          memref::ExtractStridedMetadataOp,
          memref::ExtractAlignedPointerAsIndexOp>(op) ||
      isa<ViewLikeOpInterface>(op))
    return true;
  if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> instances;
  effects.getEffects(instances);
  return llvm::all_of(instances, [](const MemoryEffects::EffectInstance &e) {
    return !isa<MemoryEffects::Read, MemoryEffects::Write>(e.getEffect());
  });
}

/// Whether `buffer`, or a view of it, is returned by the function.
bool escapes(Value buffer) {
  return qwha::cuda::isUsedThroughViews(
      buffer, [](Operation *user) { return isa<func::ReturnOp>(user); });
}

/// The last op of `block` that uses `buffer` or a view of it (directly or
/// in a nested region).
Operation *findLastUse(Value buffer, Block *block) {
  Operation *last = buffer.getDefiningOp();
  SmallVector<Value> worklist = {buffer};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (Operation *user : value.getUsers()) {
      Operation *inBlock = block->findAncestorOpInBlock(*user);
      if (inBlock && last->isBeforeInBlock(inBlock))
        last = inBlock;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user))
        if (view.getViewSource() == value)
          llvm::append_range(worklist, user->getResults());
    }
  }
  return last;
}

struct PlaceBuffersOnGPUPass
    : public qwha::impl::PlaceBuffersOnGPUBase<PlaceBuffersOnGPUPass> {
  void runOnOperation() override;
};

} // namespace

void PlaceBuffersOnGPUPass::runOnOperation() {
  ModuleOp module = getOperation();
  IRRewriter rewriter(module.getContext());
  bool failed = false;
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function.isExternal())
      continue;
    if (!function.getBody().hasOneBlock()) {
      function.emitOpError("has more than one block; the GPU lowering "
                           "frees buffers in straight-line host code only");
      failed = true;
      continue;
    }
    SmallVector<Operation *> ops;
    // A kernel's body runs on the device: only the launch itself is checked.
    function.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
      ops.push_back(op);
      return isa<gpu::LaunchOp>(op) ? WalkResult::skip()
                                    : WalkResult::advance();
    });
    Block *body = &function.getBody().front();
    for (Operation *op : ops) {
      rewriter.setInsertionPoint(op);
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        if (alloc.getType().getMemorySpace()) {
          op->emitOpError("allocates in memory space ")
              << alloc.getType().getMemorySpace()
              << "; the host functions of a GPU module allocate only device "
                 "memory";
          failed = true;
          continue;
        }
        if (op->getBlock() != body) {
          op->emitOpError("allocates inside a region; the GPU lowering "
                          "frees buffers in straight-line host code only");
          failed = true;
          continue;
        }
        auto device = rewriter.replaceOpWithNewOp<gpu::AllocOp>(
            alloc, alloc.getType(), /*asyncToken=*/Type(),
            /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), /*hostShared=*/false);
        if (escapes(device.getMemref()))
          continue;
        rewriter.setInsertionPointAfter(
            findLastUse(device.getMemref(), body));
        gpu::DeallocOp::create(rewriter, device.getLoc(), Type(),
                               ValueRange(), device.getMemref());
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        rewriter.replaceOpWithNewOp<gpu::DeallocOp>(
            dealloc, /*asyncToken=*/Type(), ValueRange(),
            dealloc.getMemref());
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        rewriter.replaceOpWithNewOp<gpu::MemcpyOp>(
            copy, /*asyncToken=*/Type(), ValueRange(), copy.getTarget(),
            copy.getSource());
      } else if (!isHostSafe(op)) {
        op->emitOpError("would read or write device memory on the host: "
                        "with --target=cuda every buffer lives on the GPU, "
                        "and host code only allocates, copies, reshapes and "
                        "launches kernels (run loops as kernels first: "
                        "qwha-launch-loops-on-gpu)");
        failed = true;
      }
    }
  }
  if (failed)
    signalPassFailure();
}
