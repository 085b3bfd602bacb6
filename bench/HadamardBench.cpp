//===- HadamardBench.cpp - Fast vs dense Walsh-Hadamard transform ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The fast transform against the dense matrix-vector product it replaces,
// per row of d floats. Counters report rows per second; compare the two
// families of one size within one run (the machines are shared and noisy):
//
//   ninja -C build qwha-bench-hadamard
//   build/bench/qwha-bench-hadamard --benchmark_counters_tabular=true
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hadamard.h"

#include "benchmark/benchmark.h"

#include <random>

using namespace qwha::quant;

namespace {

std::vector<float> randomRows(int64_t count) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> v(count);
  for (float &x : v)
    x = dist(rng);
  return v;
}

void BM_FastTransform(benchmark::State &state) {
  const int64_t d = state.range(0);
  HadamardTransform transform = llvm::cantFail(HadamardTransform::create(d));
  std::vector<float> rows = randomRows(d);
  for (auto _ : state) {
    transform.apply(rows, /*normalized=*/true);
    benchmark::DoNotOptimize(rows.data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::to_string(transform.factors().powerOfTwo) + " x " +
                 std::to_string(transform.factors().baseOrder));
}

void BM_DenseMatVec(benchmark::State &state) {
  const int64_t d = state.range(0);
  std::vector<int8_t> signs = llvm::cantFail(buildHadamardMatrix(d));
  std::vector<float> h(signs.begin(), signs.end());
  std::vector<float> x = randomRows(d), y(d);
  for (auto _ : state) {
    for (int64_t i = 0; i < d; ++i) {
      float sum = 0;
      const float *row = h.data() + i * d;
      for (int64_t j = 0; j < d; ++j)
        sum += row[j] * x[j];
      y[i] = sum;
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}

// Model sizes: MiniLM (384, 1536), LLaMA (4096, 11008 = 32 x 344).
BENCHMARK(BM_FastTransform)->Arg(384)->Arg(1536)->Arg(4096)->Arg(11008);
BENCHMARK(BM_DenseMatVec)->Arg(384)->Arg(1536)->Arg(4096);

} // namespace

BENCHMARK_MAIN();
