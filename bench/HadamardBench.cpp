//===- HadamardBench.cpp - Fast vs dense Walsh-Hadamard transform ---------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The fast transform on 64 rows of d floats against the dense product with
// the orthonormal matrix (one BLAS sgemm) and against copying the same bytes
// (the memory floor). Counters report rows and bytes per second; compare the
// families of one size within one run (the machines are shared and noisy):
//
//   ninja -C build qwha-bench-hadamard
//   build/bench/qwha-bench-hadamard --benchmark_counters_tabular=true
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Hadamard.h"

#include "benchmark/benchmark.h"

#include <cblas.h>

#include <cmath>
#include <cstring>

#include <random>

using namespace qwha::quant;

namespace {

/// Rows transformed per iteration: enough to leave the L1 cache behind, so
/// that the copy baseline measures memory, not registers.
constexpr int64_t kRows = 64;

std::vector<float> randomRows(int64_t count) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> v(count);
  for (float &x : v)
    x = dist(rng);
  return v;
}

void setCounters(benchmark::State &state, int64_t d) {
  state.counters["rows/s"] = benchmark::Counter(
      double(state.iterations() * kRows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.iterations() * kRows * d * int64_t(sizeof(float)));
}

void BM_FastTransform(benchmark::State &state) {
  const int64_t d = state.range(0);
  HadamardTransform transform = llvm::cantFail(HadamardTransform::create(d));
  std::vector<float> rows = randomRows(kRows * d);
  for (auto _ : state) {
    transform.apply(rows, /*normalized=*/true);
    benchmark::DoNotOptimize(rows.data());
  }
  setCounters(state, d);
  state.SetLabel(std::to_string(transform.factors().powerOfTwo) + " x " +
                 std::to_string(transform.factors().baseOrder));
}

/// The product with the dense orthonormal matrix, as one BLAS sgemm.
void BM_DenseSgemm(benchmark::State &state) {
  const int64_t d = state.range(0);
  std::vector<int8_t> signs = llvm::cantFail(buildHadamardMatrix(d));
  std::vector<float> h(signs.begin(), signs.end());
  for (float &v : h)
    v /= std::sqrt(float(d));
  std::vector<float> x = randomRows(kRows * d), y(kRows * d);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(kRows), int(d),
                int(d), 1.0f, x.data(), int(d), h.data(), int(d), 0.0f,
                y.data(), int(d));
    benchmark::DoNotOptimize(y.data());
  }
  setCounters(state, d);
}

/// Reading and writing the same rows once: the floor for any transform.
void BM_MemoryCopy(benchmark::State &state) {
  const int64_t d = state.range(0);
  std::vector<float> x = randomRows(kRows * d), y(kRows * d);
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), x.size() * sizeof(float));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  setCounters(state, d);
}

// Model sizes: MiniLM (384, 1536), LLaMA (4096, 11008 = 32 x 344).
BENCHMARK(BM_FastTransform)->Arg(384)->Arg(1536)->Arg(4096)->Arg(11008);
BENCHMARK(BM_DenseSgemm)->Arg(384)->Arg(1536)->Arg(4096);
BENCHMARK(BM_MemoryCopy)->Arg(384)->Arg(1536)->Arg(4096)->Arg(11008);

} // namespace

BENCHMARK_MAIN();
