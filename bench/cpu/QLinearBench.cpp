//===- QLinearBench.cpp - Packed CPU kernels against OpenBLAS -------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A 4-bit, group-128 qwha.qlinear built in MLIR, lowered with
// qwha-lower-to-cpu and JIT-compiled for the host, timed against OpenBLAS
// sgemv/sgemm on the dequantized f32 weight and against a large memcpy
// measured in the same run, on one thread unless --num-threads says otherwise:
//
//   ninja -C build qwha-bench-cpu && build/bench/cpu/qwha-bench-cpu
//       [--shapes=4096x4096,4096x11008] [--batches=1,16,64] [--generic]
//       [--num-threads=1] [--pipeline="vector-width=16 gemm-rows=8"]
//
// Shapes are N x K (output x input features). Batch 1 is reported twice:
// "hot", calls back to back, and "cold", each call after reading 256 MiB
// evicted the weight from every cache level, the case of a model larger
// than the caches. Bandwidth counts the bytes a call must read (packed codes,
// scales, zero points, input); copy bandwidth counts bytes read plus
// written, as STREAM does. Each figure is the median of its repetitions.
//
//===----------------------------------------------------------------------===//

#include "common/JitLayer.h"
#include "qwha/Dialect/QWHA/QWHAOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

extern "C" void openblas_set_num_threads(int);

using namespace mlir;

namespace cl = llvm::cl;

static cl::OptionCategory category("qwha-bench-cpu options");

static cl::list<std::string>
    shapesOption("shapes", cl::desc("Weight shapes N x K"), cl::CommaSeparated,
                 cl::list_init<std::string>({"4096x4096", "4096x11008"}),
                 cl::cat(category));
static cl::list<int64_t> batchesOption("batches", cl::desc("Input rows"),
                                       cl::CommaSeparated,
                                       cl::list_init<int64_t>({1, 16, 64}),
                                       cl::cat(category));
static cl::opt<bool>
    genericOption("generic", cl::desc("Also time the generic lowering (slow)"),
                  cl::cat(category));
static cl::opt<std::string>
    pipelineOption("pipeline", cl::desc("Extra qwha-lower-to-cpu options"),
                   cl::init(""), cl::cat(category));
static cl::opt<int> threadsOption(
    "num-threads",
    cl::desc("Threads of the kernels (qwha-lower-to-cpu threads=N) and of "
             "OpenBLAS"),
    cl::init(1), cl::cat(category));
static cl::opt<double>
    secondsOption("seconds", cl::desc("Least time spent per measurement"),
                  cl::init(0.3), cl::cat(category));

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kBits = 4;
constexpr int64_t kGroupSize = 128;

/// Seconds per call of `fn`: the median of 5 runs of enough calls to last
/// `secondsOption` / 5, after one warm-up call. `before` runs untimed ahead
/// of every call.
template <typename Fn, typename Before>
double timePerCall(Fn fn, Before before) {
  before();
  fn();
  std::vector<double> runs;
  for (int run = 0; run < 5; ++run) {
    double spent = 0;
    int64_t calls = 0;
    do {
      before();
      auto start = Clock::now();
      fn();
      spent += std::chrono::duration<double>(Clock::now() - start).count();
      ++calls;
    } while (spent < secondsOption / 5);
    runs.push_back(spent / double(calls));
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

template <typename Fn> double timePerCall(Fn fn) {
  return timePerCall(fn, [] {});
}

/// Evicts earlier data from the caches by reading 256 MiB. Reading, not
/// writing, leaves clean lines behind, so the timed call does not pay for
/// writing the sweep back.
class CacheFlusher {
public:
  CacheFlusher() : buffer(256 << 20, 1) {}
  void operator()() {
    uint64_t sum = 0;
    for (size_t i = 0; i < buffer.size(); i += 64)
      sum += uint64_t(buffer[i]);
    asm volatile("" : : "r"(sum));
  }

private:
  std::vector<char> buffer;
};

/// Host CPU name and features, for the JIT and LLVM's optimizer.
std::unique_ptr<llvm::TargetMachine> createHostTargetMachine() {
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    llvm::report_fatal_error(llvm::Twine(llvm::toString(builder.takeError())));
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto machine = builder->createTargetMachine();
  if (!machine)
    llvm::report_fatal_error(llvm::Twine(llvm::toString(machine.takeError())));
  return std::move(*machine);
}

/// A random 4-bit, group-128 weight and its dequantized f32 copy.
struct Weight {
  int64_t n, k;
  std::vector<char> codes;
  std::vector<float> scales, zeros, dense;

  Weight(int64_t n, int64_t k) : n(n), k(k) {
    std::mt19937 rng(n * 31 + k);
    const int64_t groups = k / kGroupSize;
    codes.resize(n * k);
    for (char &c : codes)
      c = char(rng() & 15);
    std::uniform_real_distribution<float> scale(0.001f, 0.01f);
    for (int64_t i = 0; i < n * groups; ++i) {
      scales.push_back(scale(rng));
      zeros.push_back(float(rng() & 15));
    }
    dense.resize(n * k);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        int64_t g = r * groups + c / kGroupSize;
        dense[r * k + c] = (float(codes[r * k + c]) - zeros[g]) * scales[g];
      }
  }
};

/// `@layer(x: tensor<?xK>) -> tensor<?xN>` JIT-compiled through
/// qwha-lower-to-cpu.
class CompiledLayer {
public:
  CompiledLayer(const Weight &weight, llvm::StringRef pipelineOptions,
                llvm::TargetMachine *machine)
      : k(weight.k) {
    qwha::bench::prepareContext(context);
    OpBuilder b(&context);
    Location loc = b.getUnknownLoc();
    module = ModuleOp::create(b, loc);
    b.setInsertionPointToEnd(module->getBody());
    auto f32 = b.getF32Type();
    const int64_t dyn = ShapedType::kDynamic;
    auto xType = RankedTensorType::get({dyn, weight.k}, f32);
    auto yType = RankedTensorType::get({dyn, weight.n}, f32);
    auto fn = func::FuncOp::create(b, loc, "layer",
                                   b.getFunctionType({xType}, {yType}));
    b.setInsertionPointToEnd(fn.addEntryBlock());
    const int64_t groups = weight.k / kGroupSize;
    auto groupType = RankedTensorType::get({weight.n, groups}, f32);
    Value codes = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::getFromRawBuffer(
            RankedTensorType::get({weight.n, weight.k},
                                  b.getIntegerType(kBits)),
            weight.codes));
    Value scales = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(groupType, ArrayRef(weight.scales)));
    Value zeros = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(groupType, ArrayRef(weight.zeros)));
    Value y = qwha::QLinearOp::create(b, loc, yType, b.getStringAttr("layer"),
                                      fn.getArgument(0), codes, scales, zeros,
                                      Value(), b.getI64IntegerAttr(kGroupSize));
    func::ReturnOp::create(b, loc, y);

    engine = qwha::bench::compileModule(*module, pipelineOptions, machine);
    entry = qwha::bench::lookupEntryPoint<Entry>(*engine, "layer");
  }

  struct Descriptor {
    float *allocated, *aligned;
    int64_t offset, sizes[2], strides[2];
  };

  /// y = layer(x) for `rows` rows; the caller frees `allocated`.
  Descriptor call(const float *x, int64_t rows) {
    Descriptor result{}, input{const_cast<float *>(x),
                               const_cast<float *>(x),
                               0,
                               {rows, k},
                               {k, 1}};
    entry(&result, &input);
    return result;
  }

private:
  using Entry = void (*)(Descriptor *, Descriptor *);

  int64_t k;
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::unique_ptr<ExecutionEngine> engine;
  Entry entry = nullptr;
};

double measureCopyBandwidth() {
  const size_t bytes = size_t(256) << 20;
  std::vector<char> from(bytes, 1), to(bytes, 2);
  double seconds = timePerCall([&] {
    std::memcpy(to.data(), from.data(), bytes);
    // Keeps the compiler from dropping a copy nobody reads.
    asm volatile("" : : "r"(to.data()) : "memory");
  });
  return 2.0 * double(bytes) / seconds;
}

std::string formatTime(double seconds) {
  if (seconds < 1e-3)
    return llvm::formatv("{0:f1} us", seconds * 1e6).str();
  return llvm::formatv("{0:f2} ms", seconds * 1e3).str();
}

/// Largest |a - b| relative to the largest |b|.
double relativeError(const float *a, const float *b, int64_t count) {
  double err = 0, scale = 0;
  for (int64_t i = 0; i < count; ++i) {
    err = std::max(err, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return err / std::max(scale, 1e-30);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "QWHA packed CPU kernels\n");
#ifndef QWHA_BENCH_HAS_OPENMP
  if (threadsOption > 1) {
    llvm::errs() << "--num-threads needs the OpenMP runtime, which this build "
                    "did not find (Debian: libomp-22-dev)\n";
    return 1;
  }
#endif
  openblas_set_num_threads(threadsOption);
  const std::string pipeline =
      pipelineOption + " threads=" + std::to_string(threadsOption);
  std::unique_ptr<llvm::TargetMachine> machine = createHostTargetMachine();
  llvm::outs() << "host: " << machine->getTargetCPU() << ", " << threadsOption
               << " thread(s) for the kernels and OpenBLAS\n";

  const double copy = measureCopyBandwidth();
  llvm::outs() << llvm::formatv("memcpy bandwidth (256 MiB, read + write): "
                                "{0:f1} GB/s\n\n",
                                copy / 1e9);
  CacheFlusher flush;

  struct Row {
    std::string shape, batch, packed, reference, speedup, bandwidth, error;
  };
  std::vector<Row> rows;
  for (const std::string &shape : shapesOption) {
    auto [nText, kText] = llvm::StringRef(shape).split('x');
    int64_t n = 0, k = 0;
    if (nText.getAsInteger(10, n) || kText.getAsInteger(10, k) || n <= 0 ||
        k <= 0 || k % kGroupSize) {
      llvm::errs() << "bad shape '" << shape << "': expected N x K with K a "
                   << "multiple of " << kGroupSize << "\n";
      return 1;
    }
    Weight weight(n, k);
    auto start = Clock::now();
    CompiledLayer packed(weight, pipeline, machine.get());
    llvm::outs() << llvm::formatv(
        "{0}: compiled in {1:f1} s\n", shape,
        std::chrono::duration<double>(Clock::now() - start).count());
    std::unique_ptr<CompiledLayer> generic;
    if (genericOption)
      generic = std::make_unique<CompiledLayer>(
          weight, "kernels=generic " + pipeline, machine.get());

    const double weightBytes =
        double(n) * k * kBits / 8 + 2.0 * n * (k / kGroupSize) * 4;
    for (int64_t batch : batchesOption) {
      std::mt19937 rng(batch);
      std::normal_distribution<float> normal;
      std::vector<float> x(batch * k), expected(batch * n);
      for (float &v : x)
        v = normal(rng);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n, k, 1.0f,
                  x.data(), k, weight.dense.data(), k, 0.0f, expected.data(),
                  n);
      CompiledLayer::Descriptor check = packed.call(x.data(), batch);
      std::string error = llvm::formatv(
          "{0:e1}", relativeError(check.aligned, expected.data(), batch * n));
      free(check.allocated);

      auto runPacked = [&] { free(packed.call(x.data(), batch).allocated); };
      std::vector<float> out(batch * n);
      auto runBlas = [&] {
        if (batch == 1)
          cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f,
                      weight.dense.data(), k, x.data(), 1, 0.0f, out.data(), 1);
        else
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n, k,
                      1.0f, x.data(), k, weight.dense.data(), k, 0.0f,
                      out.data(), n);
      };
      const char *blasName = batch == 1 ? "sgemv" : "sgemm";
      auto addRow = [&](std::string label, double ours, double blas,
                        std::string reference) {
        double bytes = weightBytes + 4.0 * batch * (k + n);
        rows.push_back(
            {shape, label, formatTime(ours), reference + " " + formatTime(blas),
             llvm::formatv("{0:f2}x", blas / ours).str(),
             llvm::formatv("{0:f1} GB/s = {1:f0}%", bytes / ours / 1e9,
                           100 * bytes / ours / copy)
                 .str(),
             error});
      };
      if (batch == 1) {
        addRow("1 (cold)", timePerCall(runPacked, flush),
               timePerCall(runBlas, flush), blasName);
        addRow("1 (hot)", timePerCall(runPacked), timePerCall(runBlas),
               blasName);
      } else {
        addRow(std::to_string(batch), timePerCall(runPacked),
               timePerCall(runBlas), blasName);
      }
      if (generic) {
        auto runGeneric = [&] {
          free(generic->call(x.data(), batch).allocated);
        };
        double seconds = timePerCall(runGeneric);
        rows.push_back({shape, std::to_string(batch) + " (generic)",
                        formatTime(seconds), "", "", "", ""});
      }
    }
  }

  llvm::outs() << "\n| N x K | batch | W4 g128 packed | OpenBLAS f32 | "
                  "speedup | weight bandwidth (% of memcpy) | max rel. "
                  "error |\n|---|---|---|---|---|---|---|\n";
  for (const Row &row : rows)
    llvm::outs() << "| " << row.shape << " | " << row.batch << " | "
                 << row.packed << " | " << row.reference << " | " << row.speedup
                 << " | " << row.bandwidth << " | " << row.error << " |\n";
  return 0;
}
