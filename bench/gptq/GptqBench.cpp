//===- GptqBench.cpp - Time GPTQ on a stored layer ------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-bench-gptq layer.safetensors [--bits 4] [--group-size 128]
//                   [--act-order] [--repeat 3]
//
// Reads `weight` (F32 [N, K]) and `hessian` (F32 [K, K]), runs GPTQ
// `repeat` times and prints one JSON object: the fastest time, the
// objective tr((W-Q) H (W-Q)^T) from the algorithm and recomputed directly,
// and the dequantized weight's checksum. compare_torch.py drives it.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Gptq.h"
#include "qwha/Support/Safetensors.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;
using namespace qwha;

static cl::opt<std::string> input(cl::Positional, cl::Required,
                                  cl::desc("<layer.safetensors>"));
static cl::opt<unsigned> bits("bits", cl::init(4));
static cl::opt<int64_t> groupSize("group-size", cl::init(128));
static cl::opt<bool> actOrder("act-order", cl::init(false));
static cl::opt<int64_t> blockSize("block-size", cl::init(128));
static cl::opt<int> repeat("repeat", cl::init(3));

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "Time GPTQ on a stored layer\n");
  auto fail = [](llvm::Error err) {
    llvm::errs() << "qwha-bench-gptq: " << llvm::toString(std::move(err))
                 << "\n";
    return 1;
  };
  llvm::Expected<SafetensorsFile> file = SafetensorsFile::open(input);
  if (!file)
    return fail(file.takeError());
  llvm::Expected<const TensorView &> weightView = file->get("weight");
  if (!weightView)
    return fail(weightView.takeError());
  llvm::Expected<const TensorView &> hessianView = file->get("hessian");
  if (!hessianView)
    return fail(hessianView.takeError());
  llvm::Expected<std::vector<float>> weight = readFloat32(*weightView);
  llvm::Expected<std::vector<float>> hessian = readFloat32(*hessianView);
  if (!weight)
    return fail(weight.takeError());
  if (!hessian)
    return fail(hessian.takeError());
  const int64_t n = weightView->shape[0], k = weightView->shape[1];

  quant::GptqOptions options;
  options.grid.bits = bits;
  options.grid.groupSize = groupSize;
  options.actOrder = actOrder;
  options.blockSize = blockSize;
  options.computeBaselines = false;

  double best = 1e30;
  std::optional<quant::GptqResult> result;
  for (int i = 0; i < repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    llvm::Expected<quant::GptqResult> r =
        quant::quantizeGPTQ(*weight, n, k, *hessian, options);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    if (!r)
      return fail(r.takeError());
    best = std::min(best, seconds);
    result = std::move(*r);
  }
  std::vector<float> values = result->quantized.dequantize();
  double direct =
      quant::quadraticObjective(*weight, values, n, k, *hessian);
  double checksum = 0;
  for (float v : values)
    checksum += v;
  llvm::json::Object out{{"seconds", best},
                         {"objective", result->objective},
                         {"objective_direct", direct},
                         {"damp", result->damp},
                         {"checksum", checksum},
                         {"rows", n},
                         {"cols", k}};
  llvm::outs() << llvm::json::Value(std::move(out)) << "\n";
  return 0;
}
