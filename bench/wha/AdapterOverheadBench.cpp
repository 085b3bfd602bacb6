//===- AdapterOverheadBench.cpp - Cost of a fused adapter, compiled -------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A quantized layer with and without a QWHA adapter (rank 64: 12.5% of a
// 1024 x 1024 weight), built in MLIR, lowered with qwha-lower-to-cpu and
// JIT-compiled; the time per call of each gives the adapter's overhead,
// with the quantized layer on the generic lowering and on the packed
// kernels (the transform and the sparse adapter are generic in both).
//
//   ninja -C build qwha-bench-adapter && build/bench/wha/qwha-bench-adapter
//
//===----------------------------------------------------------------------===//

#include "common/JitLayer.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/TargetSelect.h"

#include "benchmark/benchmark.h"

#include <algorithm>
#include <numeric>
#include <random>

using namespace mlir;

namespace {

constexpr int64_t kFeatures = 1024;
constexpr int64_t kRank = 64;

/// A compiled `@layer(x: tensor<batch x K>) -> tensor<batch x N>`.
class CompiledLayer {
public:
  CompiledLayer(int64_t batch, bool withAdapter, bool packed) {
    const char *pipelineOptions = packed ? "kernels=packed" : "kernels=generic";
    qwha::bench::prepareContext(context);
    OpBuilder b(&context);
    Location loc = b.getUnknownLoc();
    module = ModuleOp::create(b, loc);
    b.setInsertionPointToEnd(module->getBody());
    auto f32 = b.getF32Type();
    auto xType = RankedTensorType::get({batch, kFeatures}, f32);
    auto fn = func::FuncOp::create(b, loc, "layer",
                                   b.getFunctionType({xType}, {xType}));
    fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    b.setInsertionPointToEnd(fn.addEntryBlock());

    std::mt19937 rng(1);
    std::vector<char> codes(kFeatures * kFeatures);
    for (char &c : codes)
      c = char(rng() % 16);
    auto i4 = b.getIntegerType(4);
    const int64_t groups = kFeatures / 128;
    Value codesValue = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::getFromRawBuffer(
            RankedTensorType::get({kFeatures, kFeatures}, i4), codes));
    Value scales = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get({kFeatures, groups}, f32),
                               0.01f));
    Value zeros = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get({kFeatures, groups}, i4),
                               APInt(4, 8)));
    Value x = fn.getArgument(0);
    Value y;
    if (!withAdapter) {
      y = qwha::QLinearOp::create(b, loc, xType, b.getStringAttr("layer"), x,
                                  codesValue, scales, zeros, Value(),
                                  b.getI64IntegerAttr(128));
    } else {
      // rank * (in + out) entries, the same number in every row.
      const int64_t perRow = kRank * 2 * kFeatures / kFeatures;
      std::vector<int32_t> offsets(kFeatures + 1), cols;
      std::vector<float> values;
      std::vector<int32_t> all(kFeatures);
      std::iota(all.begin(), all.end(), 0);
      for (int64_t r = 0; r < kFeatures; ++r) {
        std::shuffle(all.begin(), all.end(), rng);
        std::vector<int32_t> row(all.begin(), all.begin() + perRow);
        std::sort(row.begin(), row.end());
        cols.insert(cols.end(), row.begin(), row.end());
        values.insert(values.end(), perRow, 0.001f);
        offsets[r + 1] = int32_t(cols.size());
      }
      auto i32 = b.getI32Type();
      const int64_t nnz = int64_t(cols.size());
      Value rows = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(RankedTensorType::get({kFeatures + 1}, i32),
                                 ArrayRef<int32_t>(offsets)));
      Value colsValue = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(RankedTensorType::get({nnz}, i32),
                                 ArrayRef<int32_t>(cols)));
      Value valuesValue = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(RankedTensorType::get({nnz}, f32),
                                 ArrayRef<float>(values)));
      y = qwha::QLinearWHAOp::create(
          b, loc, xType, b.getStringAttr("layer"), x, codesValue, scales, zeros,
          Value(), rows, colsValue, valuesValue, b.getI64IntegerAttr(128));
    }
    func::ReturnOp::create(b, loc, y);

    engine = qwha::bench::compileModule(*module, pipelineOptions);

    input.assign(batch * kFeatures, 0.5f);
    auto base = reinterpret_cast<int64_t>(input.data());
    argument = {base, base, 0, batch, kFeatures, kFeatures, 1};
  }

  void call() {
    int64_t result[7] = {};
    void *resultPointer = result, *argumentPointer = argument.data();
    void *packed[] = {&resultPointer, &argumentPointer};
    if (llvm::Error err = engine->invokePacked("_mlir_ciface_layer", packed))
      llvm::report_fatal_error(llvm::Twine(llvm::toString(std::move(err))));
    benchmark::DoNotOptimize(result);
    // The caller owns the returned buffer.
    free(reinterpret_cast<void *>(result[0]));
  }

private:
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::unique_ptr<ExecutionEngine> engine;
  std::vector<float> input;
  std::vector<int64_t> argument;
};

// Arguments: batch, then 1 for the packed kernels or 0 for the generic
// lowering.
void BM_QuantizedLayer(benchmark::State &state) {
  CompiledLayer layer(state.range(0), /*withAdapter=*/false, state.range(1));
  for (auto _ : state)
    layer.call();
}

void BM_QuantizedLayerWithAdapter(benchmark::State &state) {
  CompiledLayer layer(state.range(0), /*withAdapter=*/true, state.range(1));
  for (auto _ : state)
    layer.call();
}

BENCHMARK(BM_QuantizedLayer)
    ->ArgsProduct({{1, 16}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QuantizedLayerWithAdapter)
    ->ArgsProduct({{1, 16}, {0, 1}})
    ->ArgNames({"batch", "packed"})
    ->Unit(benchmark::kMicrosecond);

} // namespace

int main(int argc, char **argv) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
