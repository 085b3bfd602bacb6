//===- WhaBench.cpp - GPTQ and adapter initialisation on a stored layer ---===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-bench-wha layer.safetensors [--bits 2] [--group-size 64] [--rank 64]
//
// Reads `weight` (F32 [N, K]) and `hessian` (F32 [K, K]), quantizes with
// GPTQ (act-order), initialises a QWHA adapter from the error, and prints
// one JSON object with the layer objective tr((W-Q') Hx (W-Q')^T) without
// adapter, with selection only, and after refinement, relative to
// tr(W Hx W^T), and the time of each step. minilm_layers.py drives it.
//
//===----------------------------------------------------------------------===//

#include "qwha/Quant/Adapter.h"
#include "qwha/Quant/Gptq.h"
#include "qwha/Support/Safetensors.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;
using namespace qwha;

static cl::OptionCategory category("qwha-bench-wha options");
static cl::opt<std::string> input(cl::Positional, cl::Required,
                                  cl::desc("<layer.safetensors>"),
                                  cl::cat(category));
static cl::opt<unsigned> bits("bits", cl::desc("Code width"), cl::init(2),
                              cl::cat(category));
static cl::opt<int64_t> groupSize("group-size", cl::desc("GPTQ group size"),
                                  cl::init(64), cl::cat(category));
static cl::opt<int64_t> rank("rank",
                             cl::desc("Adapter rank: rank * (in + out) "
                                      "entries"),
                             cl::init(64), cl::cat(category));
static cl::opt<double> allocPower("alloc-power",
                                  cl::desc("AdaAlloc exponent t"),
                                  cl::init(1.0), cl::cat(category));
static cl::opt<double> damp("damp",
                            cl::desc("Relative damping of the refinement"),
                            cl::init(0.01), cl::cat(category));

static double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "GPTQ + QWHA adapter on a layer\n");
  auto fail = [](llvm::Error err) {
    llvm::errs() << "qwha-bench-wha: " << llvm::toString(std::move(err))
                 << "\n";
    return 1;
  };
  llvm::Expected<SafetensorsFile> file = SafetensorsFile::open(input);
  if (!file)
    return fail(file.takeError());
  llvm::Expected<const TensorView &> w = file->get("weight");
  if (!w)
    return fail(w.takeError());
  llvm::Expected<const TensorView &> h = file->get("hessian");
  if (!h)
    return fail(h.takeError());
  llvm::Expected<std::vector<float>> weight = readFloat32(*w);
  llvm::Expected<std::vector<float>> hessian = readFloat32(*h);
  if (!weight)
    return fail(weight.takeError());
  if (!hessian)
    return fail(hessian.takeError());
  const int64_t n = w->shape[0], k = w->shape[1];

  quant::GptqOptions gptq;
  gptq.grid.bits = bits;
  gptq.grid.groupSize = groupSize;
  gptq.actOrder = true;
  auto start = std::chrono::steady_clock::now();
  llvm::Expected<quant::GptqResult> quantized =
      quant::quantizeGPTQ(*weight, n, k, *hessian, gptq);
  if (!quantized)
    return fail(quantized.takeError());
  double gptqSeconds = since(start);
  std::vector<float> values = quantized->quantized.dequantize();

  quant::AdapterOptions adapter;
  adapter.rank = rank;
  adapter.allocPower = allocPower;
  adapter.damp = damp;
  start = std::chrono::steady_clock::now();
  llvm::Expected<quant::AdapterInitResult> init =
      quant::initializeAdapter(*weight, values, n, k, *hessian, adapter);
  if (!init)
    return fail(init.takeError());
  double adapterSeconds = since(start);

  double energy = quantized->outputEnergy;
  llvm::json::Object out{
      {"rows", n},
      {"cols", k},
      {"bits", int64_t(bits)},
      {"group_size", int64_t(groupSize)},
      {"rank", int64_t(rank)},
      {"adapter_entries", init->adapter.getNumNonZeros()},
      {"relative_error_rtn", quantized->objectiveRTN / energy},
      {"relative_error_no_adapter", init->objectiveNone / energy},
      {"relative_error_selected", init->objectiveSelected / energy},
      {"relative_error_refined", init->objectiveRefined / energy},
      {"gptq_seconds", gptqSeconds},
      {"adapter_seconds", adapterSeconds},
  };
  llvm::outs() << llvm::json::Value(std::move(out)) << "\n";
  return 0;
}
