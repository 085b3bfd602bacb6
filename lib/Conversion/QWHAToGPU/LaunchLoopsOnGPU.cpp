//===- LaunchLoopsOnGPU.cpp - Host parallel loops as GPU kernels ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The qwha layers of a model get their own kernels (convert-qwha-to-gpu);
// everything else a model computes (attention, norms, activations,
// embeddings, residual adds) reaches the CUDA pipeline as linalg, which
// convert-linalg-to-parallel-loops turns into scf.parallel loops on device
// buffers. This pass runs each outermost loop as one gpu.launch, the way
// XLA's former MLIR GPU pipeline did: collapse to one dimension, tile by
// the block size, map tiles to blocks and iterations to threads, then
// upstream's parallel-loop-to-GPU conversion. Two things linalg's loops
// need on a GPU come first: reductions keep their accumulator in a
// register rather than in memory, and an iteration that is one long
// reorderable reduction gets a warp rather than a thread.
//
//===----------------------------------------------------------------------===//

#include "qwha/Conversion/QWHAToGPU/QWHAToGPU.h"
#include "BufferViews.h"

#include "mlir/Conversion/SCFToGPU/SCFToGPU.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

#include <numeric>

namespace qwha {
#define GEN_PASS_DEF_LAUNCHLOOPSONGPU
#include "qwha/Conversion/Passes.h.inc"
} // namespace qwha

using namespace mlir;

namespace {

gpu::ParallelLoopDimMappingAttr mapTo(MLIRContext *context,
                                      gpu::Processor processor) {
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
  return gpu::ParallelLoopDimMappingAttr::get(context, processor, identity,
                                              identity);
}

LogicalResult mapAll(scf::ParallelOp loop, gpu::Processor processor) {
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping(
      loop.getNumLoops(), mapTo(loop.getContext(), processor));
  return gpu::setMappingAttr(loop, mapping);
}

/// Whether a host op may be computed inside a kernel instead of passed to
/// it: constants and index arithmetic (tile sizes, trip counts), a global's
/// address (its contents then come from the kernel's module, in device
/// memory) and views. sinkOperationsIntoLaunchOp sinks an op only when its
/// operands are sunk too or passed to the kernel anyway.
bool isSinkable(Operation *op) {
  if (op->hasTrait<OpTrait::ConstantLike>() ||
      isa<memref::GetGlobalOp, ViewLikeOpInterface>(op))
    return true;
  return isa<arith::ArithDialect>(op->getDialect()) && isPure(op) &&
         llvm::all_of(op->getResultTypes(),
                      [](Type type) { return type.isIndex(); });
}

/// The buffer `view` is a view of (through subviews, reshapes, casts), or
/// `view` itself.
Value getRootBuffer(Value view) {
  while (auto viewOp = view.getDefiningOp<ViewLikeOpInterface>())
    view = viewOp.getViewSource();
  return view;
}

/// Whether `buffer` is a constant's global or a view of one.
bool isGlobalOrViewOfOne(Value buffer) {
  return getRootBuffer(buffer).getDefiningOp<memref::GetGlobalOp>() != nullptr;
}

/// Whether qwha-place-buffers-on-gpu can turn `copy` into a gpu.memcpy:
/// both sides dense and in device memory the host can name.
bool isMemcpy(memref::CopyOp copy) {
  for (Value side : {copy.getSource(), copy.getTarget()}) {
    auto type = dyn_cast<MemRefType>(side.getType());
    if (!type || !type.getLayout().isIdentity() || isGlobalOrViewOfOne(side))
      return false;
  }
  return true;
}

/// Whether a host loop nest only reads and writes buffers and computes:
/// what one GPU thread can run in its place.
bool isDeviceComputable(scf::ForOp loop) {
  WalkResult result = loop->walk([](Operation *op) {
    if (isa<memref::LoadOp, memref::StoreOp, scf::ForOp, scf::IfOp,
            scf::YieldOp>(op) ||
        (isMemoryEffectFree(op) && op->getNumRegions() == 0 &&
         !isa<gpu::GPUDialect>(op->getDialect())))
      return WalkResult::advance();
    return WalkResult::interrupt();
  });
  return !result.wasInterrupted();
}

/// Whether `loop` reads or writes a buffer.
bool accessesMemory(scf::ForOp loop) {
  return loop
      ->walk([](Operation *op) {
        return isa<memref::LoadOp, memref::StoreOp>(op)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// Clones into `launch` the chains of views rooted at a global that its
/// body uses from outside, so that the kernel names the global (then in its
/// own module) rather than receive the host's address; the views' other
/// operands (a slice's dynamic offset) stay arguments.
void cloneGlobalViewsInto(gpu::LaunchOp launch) {
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(launch.getBody(), captured);
  OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
  IRMapping cloned;
  std::function<Value(Value)> cloneChain = [&](Value value) -> Value {
    if (Value done = cloned.lookupOrNull(value))
      return done;
    Operation *op = value.getDefiningOp();
    if (auto view = dyn_cast<ViewLikeOpInterface>(op))
      cloneChain(view.getViewSource());
    b.clone(*op, cloned);
    return cloned.lookup(value);
  };
  for (Value value : captured)
    if (isGlobalOrViewOfOne(value))
      replaceAllUsesInRegionWith(value, cloneChain(value), launch.getBody());
}

/// Rewrites `copy` as a parallel loop of loads and stores, which then runs
/// as a kernel like the rest.
void expandCopy(RewriterBase &rewriter, memref::CopyOp copy) {
  rewriter.setInsertionPoint(copy);
  Location loc = copy.getLoc();
  Value source = copy.getSource(), target = copy.getTarget();
  int64_t rank = cast<MemRefType>(source.getType()).getRank();
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  SmallVector<Value> lower(std::max<int64_t>(rank, 1), zero);
  SmallVector<Value> steps(lower.size(), one);
  SmallVector<Value> upper = {one};
  if (rank > 0) {
    upper.clear();
    for (int64_t d = 0; d < rank; ++d)
      upper.push_back(rewriter.createOrFold<memref::DimOp>(loc, source, d));
  }
  scf::ParallelOp::create(
      rewriter, loc, lower, upper, steps,
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        ValueRange indices = rank > 0 ? ivs : ValueRange();
        Value value = memref::LoadOp::create(b, loc, source, indices);
        memref::StoreOp::create(b, loc, value, target, indices);
      });
  rewriter.eraseOp(copy);
}

/// A constant the host function returns or passes to a call (a constant
/// tensor returned as it is, bufferized to its global) would reach the
/// callee as a host pointer. Gives each such global read a device buffer
/// of its own instead, filled by a copy, which becomes a kernel as every
/// copy from a global does, and which every use of the read then takes:
/// the caller owns and frees a returned buffer, as a fresh allocation.
void copyEscapingConstants(RewriterBase &rewriter, func::FuncOp function) {
  SmallVector<memref::GetGlobalOp> reads;
  for (auto read : function.getBody().front().getOps<memref::GetGlobalOp>()) {
    MemRefType type = read.getType();
    // Others are qwha-place-buffers-on-gpu's to report.
    if (type.getLayout().isIdentity() && !type.getMemorySpace() &&
        qwha::cuda::isUsedThroughViews(read, [](Operation *user) {
          return isa<func::ReturnOp, func::CallOp>(user);
        }))
      reads.push_back(read);
  }
  for (memref::GetGlobalOp read : reads) {
    rewriter.setInsertionPointAfter(read);
    Location loc = read.getLoc();
    Value buffer = memref::AllocOp::create(rewriter, loc, read.getType(),
                                           rewriter.getI64IntegerAttr(64));
    auto copy = memref::CopyOp::create(rewriter, loc, read, buffer);
    rewriter.replaceUsesWithIf(read.getResult(), buffer, [&](OpOperand &use) {
      return use.getOwner() != copy;
    });
  }
}

/// The kernel module of `module`: convert-qwha-to-gpu's, or a new one.
gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module,
                                         SymbolTable &symbols) {
  if (auto kernels =
          symbols.lookup<gpu::GPUModuleOp>(qwha::kGpuKernelModuleName))
    return kernels;
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(module.getContext()));
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto kernels =
      gpu::GPUModuleOp::create(b, module.getLoc(), qwha::kGpuKernelModuleName);
  symbols.insert(kernels);
  return kernels;
}

/// The iterations of `loop` when its bounds are constants.
std::optional<int64_t> getStaticTripCount(scf::ParallelOp loop) {
  int64_t trips = 1;
  for (auto [lower, upper, step] : llvm::zip_equal(
           loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    std::optional<int64_t> l = getConstantIntValue(lower);
    std::optional<int64_t> u = getConstantIntValue(upper);
    std::optional<int64_t> s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0)
      return std::nullopt;
    trips *= llvm::divideCeil(std::max<int64_t>(*u - *l, 0), *s);
  }
  return trips;
}

/// `sizes` as an attribute when all three are constants that fit.
DenseI32ArrayAttr getConstantSizes(gpu::KernelDim3 sizes) {
  SmallVector<int32_t, 3> values;
  for (Value size : {sizes.x, sizes.y, sizes.z}) {
    std::optional<int64_t> value = getConstantIntValue(size);
    if (!value || *value <= 0 || *value > INT32_MAX)
      return {};
    values.push_back(*value);
  }
  return DenseI32ArrayAttr::get(sizes.x.getContext(), values);
}

/// The accumulator `loop` reduces into through memory, as linalg's loops do
/// (`load %acc[%i]`, combine, `store %acc[%i]` each iteration): the loop's
/// one store, at a location the loop does not change, after a load of the
/// same location, with no other write or read of that buffer in the loop.
/// Null when the loop is not of that form.
std::pair<memref::LoadOp, memref::StoreOp>
findMemoryAccumulator(scf::ForOp loop) {
  memref::StoreOp store;
  bool unknownEffects = false;
  loop.getBody()->walk([&](Operation *op) {
    if (auto candidate = dyn_cast<memref::StoreOp>(op)) {
      unknownEffects |= bool(store) || op->getBlock() != loop.getBody();
      store = candidate;
    } else if (!isa<memref::LoadOp>(op) &&
               !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
               !isMemoryEffectFree(op)) {
      unknownEffects = true;
    }
  });
  if (!store || unknownEffects ||
      !llvm::all_of(store.getOperands().drop_front(),
                    [&](Value v) { return loop.isDefinedOutsideOfLoop(v); }))
    return {};
  // Other reads of the buffer, through any view of it, would see the
  // accumulator's memory go stale. Distinct function arguments and
  // allocations are taken not to alias, as bufferization takes them.
  Value root = getRootBuffer(store.getMemRef());
  memref::LoadOp accumulator;
  bool otherReads = false;
  loop.getBody()->walk([&](memref::LoadOp load) {
    if (getRootBuffer(load.getMemRef()) != root)
      return;
    if (!accumulator && load->getBlock() == loop.getBody() &&
        load.getIndices() == store.getIndices() && load->isBeforeInBlock(store))
      accumulator = load;
    else
      otherReads = true;
  });
  if (!accumulator || otherReads)
    return {};
  return {accumulator, store};
}

/// Carries each accumulator of the loops under `root` in a register: loaded
/// once before its loop, stored once after it. On a GPU the memory form
/// puts a global-memory round trip on every iteration of a reduction.
/// Inner loops first, so that a promoted inner loop's load and store make
/// the accumulator of the loop around it.
void promoteMemoryAccumulators(RewriterBase &rewriter, Operation *root) {
  SmallVector<scf::ForOp> loops;
  root->walk([&](scf::ForOp loop) { loops.push_back(loop); });
  for (scf::ForOp loop : loops) {
    // Hoisting the load and sinking the store would make an empty loop
    // read and write.
    std::optional<APInt> trips = loop.getStaticTripCount();
    if (!trips || trips->isZero())
      continue;
    memref::LoadOp load;
    memref::StoreOp store;
    std::tie(load, store) = findMemoryAccumulator(loop);
    if (!load)
      continue;
    rewriter.setInsertionPoint(loop);
    Value initial = memref::LoadOp::create(rewriter, load.getLoc(),
                                           load.getMemRef(), load.getIndices());
    FailureOr<LoopLikeOpInterface> promoted =
        cast<LoopLikeOpInterface>(loop.getOperation())
            .replaceWithAdditionalYields(
                rewriter, initial, /*replaceInitOperandUsesInLoop=*/false,
                [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
                  return SmallVector<Value>{store.getValueToStore()};
                });
    if (failed(promoted))
      continue;
    rewriter.replaceOp(load, promoted->getRegionIterArgs().back());
    rewriter.setInsertionPointAfter(*promoted);
    memref::StoreOp::create(rewriter, store.getLoc(),
                            promoted->getLoopResults()->back(),
                            store.getMemRef(), store.getIndices());
    rewriter.eraseOp(store);
  }
}

/// A reduction `scf.for` whose partial results may be combined in any
/// order: it carries one value, combined each iteration with a value that
/// does not depend on it by an associative and commutative arith op.
struct Reduction {
  scf::ForOp loop;
  Operation *combiner = nullptr;
  /// The combiner's operand that is not the carried value.
  Value element;
};

std::optional<Reduction> matchReorderableReduction(scf::ForOp loop) {
  if (loop.getNumRegionIterArgs() != 1)
    return std::nullopt;
  Type type = loop.getRegionIterArgs()[0].getType();
  if (!type.isF32() && !type.isF64() && !type.isInteger(32) &&
      !type.isInteger(64))
    return std::nullopt;
  // Shuffles exchange whole values; each lane takes one element first, so
  // a row has at least 32 (an empty or reversed range is not accepted).
  std::optional<int64_t> lower = getConstantIntValue(loop.getLowerBound());
  std::optional<int64_t> upper = getConstantIntValue(loop.getUpperBound());
  std::optional<int64_t> step = getConstantIntValue(loop.getStep());
  if (!loop.getInductionVar().getType().isIndex() || loop.getUnsignedCmp() ||
      !lower || !upper || !step || *step <= 0 || *upper - *lower < 32 * *step)
    return std::nullopt;
  bool writes = false;
  loop.getBody()->walk([&](Operation *op) {
    writes |= !isa<memref::LoadOp>(op) &&
              !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
              !isMemoryEffectFree(op);
  });
  if (writes)
    return std::nullopt;
  BlockArgument carried = loop.getRegionIterArgs()[0];
  Value yielded = loop.getBody()->getTerminator()->getOperand(0);
  Operation *combiner = yielded.getDefiningOp();
  if (!combiner || combiner->getBlock() != loop.getBody() ||
      !yielded.hasOneUse() || !carried.hasOneUse() ||
      !isa<arith::AddFOp, arith::MulFOp, arith::MaximumFOp, arith::MinimumFOp,
           arith::MaxNumFOp, arith::MinNumFOp, arith::AddIOp, arith::MulIOp,
           arith::MaxSIOp, arith::MinSIOp, arith::MaxUIOp, arith::MinUIOp,
           arith::AndIOp, arith::OrIOp, arith::XOrIOp>(combiner))
    return std::nullopt;
  // Wrapping integer sums reorder freely; with nsw/nuw a partial sum could
  // overflow where the sequential one does not, and be poison.
  if (auto flags =
          dyn_cast<arith::ArithIntegerOverflowFlagsInterface>(combiner))
    if (flags.hasNoSignedWrap() || flags.hasNoUnsignedWrap())
      return std::nullopt;
  Value lhs = combiner->getOperand(0), rhs = combiner->getOperand(1);
  if ((lhs == carried) == (rhs == carried))
    return std::nullopt;
  return Reduction{loop, combiner, lhs == carried ? rhs : lhs};
}

/// `reduction.combiner` applied to `carried` and `element` at `b`.
Value combine(OpBuilder &b, const Reduction &reduction, Value carried,
              Value element) {
  IRMapping operands;
  scf::ForOp loop = reduction.loop;
  operands.map(loop.getRegionIterArgs()[0], carried);
  operands.map(reduction.element, element);
  return b.clone(*reduction.combiner, operands)->getResult(0);
}

/// Launches a collapsed loop whose iterations each reduce a long row (norm
/// statistics, softmax sums and maxima, attention dot products) with one
/// warp per iteration instead of one thread: lane l takes the row's
/// elements l, l + 32, ..., the lanes' partial results are combined by
/// butterfly shuffles, and lane 0 combines them with the initial value and
/// stores. At batch 1 a norm is then 32 lanes wide, not one thread. Applies
/// when the iteration is pure ops and loads, one reorderable reduction of
/// at least 32 elements, and the store of its result; returns the launch,
/// or null when the loop is not of that form.
gpu::LaunchOp launchWithWarpPerIteration(RewriterBase &rewriter,
                                         scf::ParallelOp loop,
                                         int64_t blockSize) {
  // Iteration i is warp i: the loop must count from 0 by 1, as collapsed
  // loops do.
  if (loop.getNumLoops() != 1 ||
      getConstantIntValue(loop.getLowerBound()[0]) != 0 ||
      getConstantIntValue(loop.getStep()[0]) != 1)
    return {};
  Block *iteration = loop.getBody();
  std::optional<Reduction> reduction;
  memref::StoreOp store;
  for (Operation &op : iteration->without_terminator()) {
    if (auto candidate = dyn_cast<scf::ForOp>(op)) {
      if (reduction || !(reduction = matchReorderableReduction(candidate)))
        return {};
    } else if (auto candidate = dyn_cast<memref::StoreOp>(op)) {
      if (store || !reduction ||
          candidate.getValueToStore() != reduction->loop.getResult(0))
        return {};
      store = candidate;
    } else if (!isa<memref::LoadOp>(op) && !isMemoryEffectFree(&op)) {
      return {};
    }
  }
  if (!store || !reduction->loop.getResult(0).hasOneUse())
    return {};

  Location loc = loop.getLoc();
  rewriter.setInsertionPoint(loop);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, value);
  };
  Value one = index(1), warp = index(32), block = index(blockSize);
  Value iterations = loop.getUpperBound()[0];
  Value threads = arith::MulIOp::create(rewriter, loc, iterations, warp);
  Value grid = arith::CeilDivUIOp::create(rewriter, loc, threads, block);
  auto launch =
      gpu::LaunchOp::create(rewriter, loc, grid, one, one, block, one, one);
  Block &kernel = launch.getBody().front();
  rewriter.setInsertionPointToStart(&kernel);
  gpu::TerminatorOp::create(rewriter, loc);
  rewriter.setInsertionPointToStart(&kernel);
  Value thread = arith::AddIOp::create(
      rewriter, loc,
      arith::MulIOp::create(rewriter, loc, launch.getBlockIds().x, block),
      launch.getThreadIds().x);
  Value row = arith::DivUIOp::create(rewriter, loc, thread, warp);
  Value lane = arith::RemUIOp::create(rewriter, loc, thread, warp);
  // Whole warps are in or out: the shuffles see all 32 lanes.
  Value inRange = arith::CmpIOp::create(
      rewriter, loc, arith::CmpIPredicate::ult, row, iterations);
  auto guard = scf::IfOp::create(rewriter, loc, inRange);
  rewriter.setInsertionPointToStart(guard.thenBlock());

  IRMapping map;
  map.map(loop.getInductionVars()[0], row);
  scf::ForOp rowLoop = reduction->loop;
  for (Operation &op : iteration->without_terminator()) {
    if (&op == store.getOperation()) {
      Value first = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, lane, index(0));
      auto lead = scf::IfOp::create(rewriter, loc, first);
      OpBuilder::InsertionGuard inLead(rewriter);
      rewriter.setInsertionPointToStart(lead.thenBlock());
      rewriter.clone(op, map);
      continue;
    }
    if (&op != rowLoop.getOperation()) {
      rewriter.clone(op, map);
      continue;
    }
    // The lane's first element, then every 32nd.
    Value lower = map.lookupOrDefault(rowLoop.getLowerBound());
    Value upper = map.lookupOrDefault(rowLoop.getUpperBound());
    Value step = map.lookupOrDefault(rowLoop.getStep());
    Value first = arith::AddIOp::create(
        rewriter, loc, lower, arith::MulIOp::create(rewriter, loc, lane, step));
    IRMapping firstElement = map;
    firstElement.map(rowLoop.getInductionVar(), first);
    for (Operation &inner : rowLoop.getBody()->without_terminator())
      if (&inner != reduction->combiner)
        rewriter.clone(inner, firstElement);
    Value stride = arith::MulIOp::create(rewriter, loc, step, warp);
    auto laneLoop = scf::ForOp::create(
        rewriter, loc, arith::AddIOp::create(rewriter, loc, first, stride),
        upper, stride,
        ValueRange{firstElement.lookupOrDefault(reduction->element)},
        [&](OpBuilder &b, Location, Value k, ValueRange carried) {
          IRMapping element = map;
          element.map(rowLoop.getInductionVar(), k);
          element.map(rowLoop.getRegionIterArgs()[0], carried[0]);
          for (Operation &inner : rowLoop.getBody()->without_terminator())
            b.clone(inner, element);
          scf::YieldOp::create(
              b, loc,
              element.lookup(
                  rowLoop.getBody()->getTerminator()->getOperand(0)));
        });
    Value partial = laneLoop.getResult(0);
    for (int32_t offset = 16; offset >= 1; offset /= 2) {
      Value partner = gpu::ShuffleOp::create(rewriter, loc, partial, offset, 32,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult();
      partial = combine(rewriter, *reduction, partial, partner);
    }
    map.map(rowLoop.getResult(0),
            combine(rewriter, *reduction,
                    map.lookupOrDefault(rowLoop.getInitArgs()[0]), partial));
  }
  rewriter.eraseOp(loop);
  return launch;
}

/// The gpu.launch ops of the module's functions.
SmallVector<gpu::LaunchOp> getHostLaunches(ModuleOp module) {
  SmallVector<gpu::LaunchOp> launches;
  for (auto function : module.getOps<func::FuncOp>())
    function.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
  return launches;
}

/// Whether `loop` is not nested in another parallel loop or a kernel.
bool isOutermost(scf::ParallelOp loop) {
  return !loop->getParentOfType<scf::ParallelOp>() &&
         !loop->getParentOfType<gpu::LaunchOp>();
}

struct LaunchLoopsOnGPUPass
    : public qwha::impl::LaunchLoopsOnGPUBase<LaunchLoopsOnGPUPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  LogicalResult runOnFunction(func::FuncOp function);
  /// block-size, or fewer whole warps when `threads` (when known) are fewer.
  int64_t fitBlockSize(std::optional<int64_t> threads) const {
    if (!threads)
      return blockSize;
    return std::min<int64_t>(
        blockSize, std::max<int64_t>(llvm::alignTo(*threads, 32), 32));
  }
  /// Moves every gpu.launch's body into a gpu.func of the kernel module,
  /// with the globals it reads, and launches that instead.
  LogicalResult outlineKernels(ModuleOp module);
};

} // namespace

LogicalResult LaunchLoopsOnGPUPass::runOnFunction(func::FuncOp function) {
  IRRewriter rewriter(function.getContext());
  Block &body = function.getBody().front();

  copyEscapingConstants(rewriter, function);
  SmallVector<memref::CopyOp> copies;
  WalkResult ranked = function.walk([&](memref::CopyOp copy) {
    if (copy->getParentOfType<gpu::LaunchOp>() || isMemcpy(copy))
      return WalkResult::advance();
    if (!isa<MemRefType>(copy.getSource().getType())) {
      copy.emitOpError("copies an unranked buffer; the GPU lowering copies "
                       "ranked buffers only");
      return WalkResult::interrupt();
    }
    copies.push_back(copy);
    return WalkResult::advance();
  });
  if (ranked.wasInterrupted())
    return failure();
  for (memref::CopyOp copy : copies)
    expandCopy(rewriter, copy);

  // A linalg op without parallel dimensions (a reduction to a scalar)
  // leaves a plain loop nest: one thread runs it. Loops that touch no
  // buffer stay host code; loops that also allocate, call or launch are
  // left for qwha-place-buffers-on-gpu to report.
  for (auto loop : llvm::make_early_inc_range(body.getOps<scf::ForOp>())) {
    if (!accessesMemory(loop) || !isDeviceComputable(loop))
      continue;
    if (loop.getNumResults() != 0) {
      loop.emitOpError("yields values to the host, which cannot read the "
                       "device buffers it computes them from");
      return failure();
    }
    rewriter.setInsertionPoint(loop);
    Value zero = arith::ConstantIndexOp::create(rewriter, loop.getLoc(), 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loop.getLoc(), 1);
    auto single =
        scf::ParallelOp::create(rewriter, loop.getLoc(), zero, one, one);
    loop->moveBefore(single.getBody()->getTerminator());
  }

  // Post-order: nested loops before the loops around them.
  SmallVector<scf::ParallelOp> outermost, nested;
  bool hasReductions = false;
  function.walk([&](scf::ParallelOp loop) {
    if (loop->getParentOfType<gpu::LaunchOp>())
      return;
    if (loop.getNumReductions() != 0) {
      loop.emitOpError("has reductions; only parallel loops without results "
                       "run as GPU kernels (reduce in a sequential loop "
                       "inside, as convert-linalg-to-parallel-loops does)");
      hasReductions = true;
    } else if (isOutermost(loop)) {
      outermost.push_back(loop);
    } else {
      nested.push_back(loop);
    }
  });
  if (hasReductions)
    return failure();
  // Each thread runs the loops nested in its iteration itself: upstream's
  // conversion maps nested parallel loops only when perfectly nested.
  for (scf::ParallelOp loop : nested)
    if (failed(scf::parallelForToNestedFors(rewriter, loop)))
      return loop.emitOpError("could not be turned into sequential loops");

  for (scf::ParallelOp loop : outermost) {
    // A short loop (a reduction's single thread, a norm's rows) gets the
    // warps it needs, not a whole block.
    std::optional<int64_t> trips = getStaticTripCount(loop);
    int64_t threadsPerBlock = fitBlockSize(trips);
    if (loop.getNumLoops() > 1) {
      // collapseParallelLoops replaces the loop by one it creates last in
      // front of it.
      Operation *next = loop->getNextNode();
      std::vector<unsigned> dims(loop.getNumLoops());
      std::iota(dims.begin(), dims.end(), 0u);
      collapseParallelLoops(rewriter, loop, {dims});
      loop = cast<scf::ParallelOp>(next->getPrevNode());
    }
    promoteMemoryAccumulators(rewriter, loop);
    std::optional<int64_t> warpThreads;
    if (trips)
      warpThreads = *trips * 32;
    if (launchWithWarpPerIteration(rewriter, loop, fitBlockSize(warpThreads)))
      continue;
    auto [blocks, threads] = scf::tileParallelLoop(loop, {threadsPerBlock},
                                                   /*noMinMaxBounds=*/true);
    if (failed(mapAll(blocks, gpu::Processor::BlockX)) ||
        failed(mapAll(threads, gpu::Processor::ThreadX)))
      return blocks.emitOpError("could not be mapped to GPU blocks and "
                                "threads");
  }
  return success();
}

LogicalResult LaunchLoopsOnGPUPass::outlineKernels(ModuleOp module) {
  SmallVector<gpu::LaunchOp> launches = getHostLaunches(module);
  if (launches.empty())
    return success();
  // One module rather than upstream outlining's one per kernel: ptxas then
  // runs once per model, not once per norm or activation.
  SymbolTable hostSymbols(module);
  gpu::GPUModuleOp kernels = getOrCreateKernelModule(module, hostSymbols);
  SymbolTable kernelSymbols(kernels);
  // The kernel module's name of each host global copied into it.
  DenseMap<StringAttr, StringAttr> copiedGlobals;
  for (gpu::LaunchOp launch : launches) {
    auto function = launch->getParentOfType<func::FuncOp>();
    SmallVector<Value> operands;
    gpu::GPUFuncOp kernel = outlineKernelFunc(
        launch, (function.getName() + "_loop").str(), operands);
    kernelSymbols.insert(kernel);
    // Lets the NVVM lowering bound thread and block ids.
    if (auto size = getConstantSizes(launch.getBlockSizeOperandValues()))
      kernel.setKnownBlockSizeAttr(size);
    if (auto size = getConstantSizes(launch.getGridSizeOperandValues()))
      kernel.setKnownGridSizeAttr(size);
    WalkResult copied = kernel.walk([&](memref::GetGlobalOp read) {
      StringAttr hostName = read.getNameAttr().getAttr();
      StringAttr &deviceName = copiedGlobals[hostName];
      if (!deviceName) {
        auto global = hostSymbols.lookup<memref::GlobalOp>(hostName);
        if (!global) {
          read.emitOpError("reads ")
              << hostName << ", which is not a memref.global of the module";
          return WalkResult::interrupt();
        }
        if (!global.getConstant()) {
          read.emitOpError("reads the mutable global ")
              << hostName
              << " in a kernel; kernels get their own copy of a global, so "
                 "only constant globals can be read there";
          return WalkResult::interrupt();
        }
        deviceName = kernelSymbols.insert(global.clone());
      }
      read.setNameAttr(FlatSymbolRefAttr::get(deviceName));
      return WalkResult::advance();
    });
    if (copied.wasInterrupted())
      return failure();
    OpBuilder b(launch);
    Value token = launch.getAsyncToken();
    auto launchFunc = gpu::LaunchFuncOp::create(
        b, launch.getLoc(), kernel, launch.getGridSizeOperandValues(),
        launch.getBlockSizeOperandValues(), launch.getDynamicSharedMemorySize(),
        operands, token ? token.getType() : Type(),
        launch.getAsyncDependencies());
    launch->replaceAllUsesWith(launchFunc);
    launch.erase();
  }
  return success();
}

void LaunchLoopsOnGPUPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (blockSize < 32 || blockSize > 1024 || blockSize % 32 != 0) {
    module.emitError("qwha-launch-loops-on-gpu: block-size must be a "
                     "multiple of 32 between 32 and 1024, not ")
        << int64_t(blockSize);
    return signalPassFailure();
  }
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function.isExternal())
      continue;
    if (!function.getBody().hasOneBlock()) {
      function.emitOpError("has more than one block; the GPU lowering "
                           "launches the loops of straight-line host code "
                           "only");
      return signalPassFailure();
    }
    if (failed(runOnFunction(function)))
      return signalPassFailure();
  }

  RewritePatternSet patterns(&getContext());
  populateParallelLoopToGPUPatterns(patterns);
  ConversionTarget target(getContext());
  target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
  configureParallelLoopToGPULegality(target);
  if (failed(applyPartialConversion(module, target, std::move(patterns))))
    return signalPassFailure();
  finalizeParallelLoopToGPUConversion(module);
  WalkResult converted = module.walk([](scf::ParallelOp loop) {
    if (loop->getParentOfType<gpu::LaunchOp>())
      return WalkResult::advance();
    loop.emitOpError("could not be converted to a GPU launch");
    return WalkResult::interrupt();
  });
  if (converted.wasInterrupted())
    return signalPassFailure();

  // Folds the grid sizes to constants where the loops were static, for the
  // kernels' known sizes; done before sinking, as folding hoists constants
  // out of launch bodies.
  RewritePatternSet canonicalization(&getContext());
  for (Dialect *dialect : getContext().getLoadedDialects())
    dialect->getCanonicalizationPatterns(canonicalization);
  for (RegisteredOperationName op : getContext().getRegisteredOperations())
    op.getCanonicalizationPatterns(canonicalization, &getContext());
  FrozenRewritePatternSet frozen(std::move(canonicalization));
  for (auto function : module.getOps<func::FuncOp>())
    (void)applyPatternsGreedily(function, frozen);
  // Kernels read constant tables (embeddings, norm weights, position ids)
  // through the globals' symbols, which outlining copies into the kernel's
  // module; a host address passed as an argument would not be readable.
  for (gpu::LaunchOp launch : getHostLaunches(module)) {
    cloneGlobalViewsInto(launch);
    if (failed(sinkOperationsIntoLaunchOp(launch, isSinkable)))
      return signalPassFailure();
    // A dynamic loop may be empty; a grid of no blocks is an invalid launch,
    // one block finds no iteration in range.
    gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
    if (!getConstantIntValue(grid.x)) {
      OpBuilder b(launch);
      Value one = arith::ConstantIndexOp::create(b, launch.getLoc(), 1);
      launch.getGridSizeXMutable().assign(
          arith::MaxUIOp::create(b, launch.getLoc(), grid.x, one));
    }
  }
  if (failed(outlineKernels(module)))
    return signalPassFailure();
  // The host's reads of what was sunk are now unused: erased, so that
  // symbol-dce can drop the host's copies of the tables.
  for (auto function : module.getOps<func::FuncOp>())
    for (Block &block : function.getBody())
      for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
        if (isOpTriviallyDead(&op))
          op.erase();
}
