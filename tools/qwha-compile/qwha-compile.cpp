//===- qwha-compile.cpp - Ahead-of-time compiler for QWHA models ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
//   qwha-compile model.mlir --target=cpu -o model.so [--header=model.h]
//       [--mcpu=native|<cpu>] [--mtriple=<triple>] [-O0..-O3]
//       [--emit=so|obj|llvm] [--linker=cc] [--cpu-pipeline-options="..."]
//   qwha-compile model.mlir --target=cuda [--chip=sm_90] -o model.so
//       [--emit=so|obj|llvm|ptx] [--cuda-pipeline-options="..."] ...
//
// Lowers a module with qwha-lower-to-cpu, or qwha-lower-to-cuda for
// --target=cuda (kernels compiled through NVVM and embedded, host code that
// launches them on device buffers and calls libqwha_cuda_runtime.so, which
// the library is linked against). The C interface is forced on. Optimizes
// the LLVM IR for the target machine, emits an object and links it into a
// shared library whose entry points are `_mlir_ciface_<fn>` for every public
// function, and writes a C header declaring them (CInterface.h). Outputs
// appear whole or not at all: everything is written to temporary files
// beside them and renamed at the end. --mlir-print-ir-after-all and the other
// pass manager options show the MLIR stages; --emit=llvm and --emit=obj stop
// after the LLVM stages, and --emit=ptx (--target=cuda) writes the PTX the
// kernels would be assembled from, for reading or for ptxas -v.
//
//===----------------------------------------------------------------------===//

#include "CInterface.h"
#include "SharedLibrary.h"

#include "qwha/InitAllDialects.h"
#include "qwha/Target/LLVMIR/QWHAToLLVMIRTranslation.h"
#include "qwha/Pipelines/Pipelines.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <optional>

#ifndef QWHA_MLIR_LIBRARY_DIR
#error "QWHA_MLIR_LIBRARY_DIR must name MLIR's runner utilities' directory"
#endif

using namespace mlir;
using namespace qwha::compile;
namespace cl = llvm::cl;

namespace {
enum class Target { CPU, CUDA };
enum class Emit { SharedLibrary, Object, LLVMIR, PTX };
} // namespace

static cl::OptionCategory category("qwha-compile options");
static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<model.mlir>"),
                                      cl::cat(category));
static cl::opt<std::string>
    outputFile("o", cl::Required,
               cl::desc("Output file (a shared library unless --emit says "
                        "otherwise)"),
               cl::value_desc("model.so"), cl::cat(category));
static cl::opt<Target>
    target("target", cl::desc("Device the code runs on"), cl::init(Target::CPU),
           cl::values(clEnumValN(Target::CPU, "cpu", "The host CPU (default)"),
                      clEnumValN(Target::CUDA, "cuda",
                                 "NVIDIA GPUs: arguments and results are "
                                 "device memory")),
           cl::cat(category));
static cl::opt<std::string> headerFile(
    "header",
    cl::desc("C header declaring the entry points (default: the output path "
             "with the extension .h)"),
    cl::value_desc("model.h"), cl::cat(category));
static cl::opt<Emit> emit(
    "emit", cl::desc("What to write to -o"), cl::init(Emit::SharedLibrary),
    cl::values(clEnumValN(Emit::SharedLibrary, "so",
                          "A shared library (default)"),
               clEnumValN(Emit::Object, "obj", "The relocatable object file"),
               clEnumValN(Emit::LLVMIR, "llvm", "The optimized LLVM IR"),
               clEnumValN(Emit::PTX, "ptx",
                          "--target=cuda: the kernels' PTX (no header)")),
    cl::cat(category));
static cl::opt<std::string>
    mcpu("mcpu",
         cl::desc("CPU to generate code for: 'native' (the default for the "
                  "host triple: the host CPU and its features) or an LLVM CPU "
                  "name"),
         cl::value_desc("cpu"), cl::cat(category));
static cl::opt<std::string>
    mtriple("mtriple", cl::desc("Target triple (default: the host's)"),
            cl::value_desc("triple"), cl::cat(category));
static cl::opt<char>
    optLevel("O",
             cl::desc("LLVM optimization level: -O0, -O1, -O2 (default) "
                      "or -O3"),
             cl::Prefix, cl::init('2'), cl::value_desc("0-3"),
             cl::cat(category));
static cl::opt<std::string>
    linker("linker",
           cl::desc("C compiler driver that links the shared library "
                    "(default: cc)"),
           cl::init("cc"), cl::value_desc("program"), cl::cat(category));
static cl::opt<std::string> cpuPipelineOptions(
    "cpu-pipeline-options",
    cl::desc("Options of qwha-lower-to-cpu, as in "
             "-qwha-lower-to-cpu=\"<options>\" (c-interface is always on)"),
    cl::value_desc("options"), cl::cat(category));

static cl::opt<std::string>
    chip("chip",
         cl::desc("--target=cuda: the GPU to compile the kernels for "
                  "(default sm_90; overrides chip= in "
                  "--cuda-pipeline-options)"),
         cl::value_desc("sm_<N>"), cl::cat(category));
static cl::opt<std::string> cudaPipelineOptions(
    "cuda-pipeline-options",
    cl::desc("Options of qwha-lower-to-cuda, as in "
             "-qwha-lower-to-cuda=\"<options>\" (c-interface is always on)"),
    cl::value_desc("options"), cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "qwha-compile") << message << "\n";
  return 1;
}

namespace {

/// Temporary files that become the outputs together: either all are renamed
/// into place or none is left behind.
class PendingOutputs {
public:
  ~PendingOutputs() {
    for (auto &[file, path] : files)
      if (llvm::Error err = file.discard())
        llvm::consumeError(std::move(err));
  }

  void add(llvm::sys::fs::TempFile file, llvm::StringRef path) {
    files.emplace_back(std::move(file), path.str());
  }

  /// Writes `content` to a temporary file that will become `path`.
  llvm::Error add(llvm::StringRef path,
                  llvm::function_ref<void(llvm::raw_ostream &)> content) {
    llvm::Expected<llvm::sys::fs::TempFile> temp =
        llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%%%");
    if (!temp)
      return llvm::createStringError("cannot write '" + path +
                                     "': " + llvm::toString(temp.takeError()));
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    content(os);
    os.flush();
    if (os.has_error()) {
      std::error_code ec = os.error();
      os.clear_error();
      llvm::Error err =
          llvm::createStringError(ec, "cannot write '%s': %s",
                                  path.str().c_str(), ec.message().c_str());
      return llvm::joinErrors(std::move(err), temp->discard());
    }
    add(std::move(*temp), path);
    return llvm::Error::success();
  }

  /// Renames every file into place. If a rename fails, the outputs already
  /// renamed are removed again, so that no library goes without its header.
  llvm::Error commit() {
    llvm::SmallVector<std::string> done;
    auto pending = std::move(files);
    files.clear();
    llvm::Error failure = llvm::Error::success();
    for (auto &[file, path] : pending) {
      if (failure) {
        failure = llvm::joinErrors(std::move(failure), file.discard());
        continue;
      }
      if (llvm::Error err = file.keep(path))
        failure =
            llvm::createStringError("cannot write '%s': %s", path.c_str(),
                                    llvm::toString(std::move(err)).c_str());
      else
        done.push_back(path);
    }
    if (failure)
      for (const std::string &path : done)
        llvm::sys::fs::remove(path);
    return failure;
  }

private:
  std::vector<std::pair<llvm::sys::fs::TempFile, std::string>> files;
};

/// The target machine for --mtriple/--mcpu: the host CPU with all its
/// features unless told otherwise, position-independent code for a shared
/// library.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(unsigned level) {
  llvm::Triple host(llvm::sys::getProcessTriple());
  llvm::Triple triple =
      mtriple.empty() ? host : llvm::Triple(llvm::Triple::normalize(mtriple));
  bool isHost =
      triple.getArch() == host.getArch() && triple.getOS() == host.getOS();

  std::string cpu = mcpu;
  if (cpu.empty())
    cpu = isHost ? "native" : "generic";
  std::string features;
  if (cpu == "native") {
    if (!isHost)
      return llvm::createStringError("--mcpu=native describes the host, not "
                                     "--mtriple=" +
                                     mtriple + ": name a CPU");
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SmallVector<std::string> list;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      list.push_back((feature.second ? "+" : "-") + feature.first().str());
    llvm::sort(list);
    features = llvm::join(list, ",");
  }

  std::string error;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return llvm::createStringError(
        "no code generator for triple '" +
        (mtriple.empty() ? triple.str() : mtriple.getValue()) + "': " + error);
  // Checked first: the target machine would only warn and go on.
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      llvmTarget->createMCSubtargetInfo(triple, "", ""));
  if (!subtarget || !subtarget->isCPUStringValid(cpu))
    return llvm::createStringError("unknown CPU '" + cpu + "' for '" +
                                   triple.str() + "'");

  llvm::CodeGenOptLevel codegenLevel =
      llvm::CodeGenOpt::getLevel(level).value_or(
          llvm::CodeGenOptLevel::Default);
  // A model's constants (packed weights, tables) are the library's data:
  // with the small code model, more than 2 GiB of it cannot be addressed.
  // x86-64's medium model puts large globals in .lrodata/.ldata, reached
  // with 64-bit offsets, and keeps code and small data as they were.
  std::optional<llvm::CodeModel::Model> codeModel;
  if (triple.getArch() == llvm::Triple::x86_64)
    codeModel = llvm::CodeModel::Medium;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, cpu, features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      codeModel, codegenLevel));
  if (!machine)
    return llvm::createStringError("cannot create a target machine for '" +
                                   triple.str() + "'");
  return std::move(machine);
}

} // namespace

/// --emit=ptx: the PTX of the module's one gpu.binary, which
/// qwha-lower-to-cuda built with format=isa; failure (reported) otherwise.
static FailureOr<StringRef> getKernelPTX(ModuleOp module) {
  SmallVector<gpu::BinaryOp> binaries(module.getOps<gpu::BinaryOp>());
  if (binaries.empty()) {
    fail("'" + inputFile + "' has no GPU kernels: there is no PTX to write");
    return failure();
  }
  if (binaries.size() > 1) {
    std::string names;
    for (gpu::BinaryOp binary : binaries)
      names += (names.empty() ? "@" : ", @") + binary.getSymName().str();
    fail("'" + inputFile + "' has " + llvm::Twine(binaries.size()) +
         " GPU binaries (" + names +
         "), and --emit=ptx writes one: use --emit=llvm, which holds them "
         "all");
    return failure();
  }
  // One object: the pipeline compiles for one chip.
  auto object = cast<gpu::ObjectAttr>(binaries.front().getObjects()[0]);
  return object.getObject().getValue();
}

/// Text for -o: printed for `-o -`, else added to `outputs`.
static llvm::Error
addTextOutput(PendingOutputs &outputs,
              llvm::function_ref<void(llvm::raw_ostream &)> content) {
  if (outputFile == "-") {
    content(llvm::outs());
    return llvm::Error::success();
  }
  return outputs.add(outputFile, content);
}

/// Adds the header, when there is one, and renames every output into place.
static int commitOutputs(PendingOutputs &outputs, StringRef headerPath,
                         StringRef header) {
  if (!headerPath.empty())
    if (llvm::Error err =
            outputs.add(headerPath, [&](auto &os) { os << header; }))
      return fail(llvm::toString(std::move(err)));
  if (llvm::Error err = outputs.commit())
    return fail(llvm::toString(std::move(err)));
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerPassManagerCLOptions();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Compile a QWHA model into a shared library with "
                              "a C interface\n");

#ifndef QWHA_CUDA_RUNTIME_DIR
  if (target == Target::CUDA)
    return fail("--target=cuda needs libqwha_cuda_runtime.so, which this "
                "build of qwha-compile was configured without (no CUDA "
                "toolkit found, or QWHA_ENABLE_CUDA=OFF)");
#endif
  if (target != Target::CUDA && (!chip.empty() || !cudaPipelineOptions.empty()))
    return fail("--chip and --cuda-pipeline-options apply to --target=cuda");
  if (target == Target::CUDA && !cpuPipelineOptions.empty())
    return fail("--cpu-pipeline-options applies to --target=cpu");
  if (emit == Emit::PTX && target != Target::CUDA)
    return fail("--emit=ptx writes GPU kernels: it needs --target=cuda");
  if (emit == Emit::PTX && !headerFile.empty())
    return fail("--emit=ptx writes no header: drop --header");
  if (optLevel < '0' || optLevel > '3')
    return fail(llvm::Twine("invalid optimization level -O") +
                llvm::Twine(optLevel.getValue()) + ": use -O0 to -O3");
  unsigned level = optLevel - '0';

  // Only text makes sense on a terminal or in a pipe.
  bool toStdout = outputFile == "-";
  if (toStdout && emit != Emit::LLVMIR && emit != Emit::PTX)
    return fail("-o - writes only --emit=llvm or --emit=ptx to standard "
                "output");
  std::string headerPath = headerFile;
  if (headerPath.empty() && !toStdout && emit != Emit::PTX) {
    llvm::SmallString<256> path(outputFile.getValue());
    llvm::sys::path::replace_extension(path, "h");
    headerPath = path.str().str();
  }
  if (!headerPath.empty() && headerPath == outputFile)
    return fail("the header would overwrite the output '" + outputFile +
                "': pass --header=<path>");

  std::unique_ptr<qwha::LowerToCPUOptions> pipelineOptions =
      qwha::LowerToCPUOptions::createFromString(cpuPipelineOptions);
  if (!pipelineOptions)
    return fail("invalid --cpu-pipeline-options='" + cpuPipelineOptions + "'");
  if (pipelineOptions->cInterface.hasValue() && !pipelineOptions->cInterface)
    return fail("--cpu-pipeline-options: a library is called through its C "
                "interface, c-interface cannot be turned off");
  pipelineOptions->cInterface = true;

  std::unique_ptr<qwha::LowerToCUDAOptions> cudaOptions =
      qwha::LowerToCUDAOptions::createFromString(cudaPipelineOptions);
  if (!cudaOptions)
    return fail("invalid --cuda-pipeline-options='" + cudaPipelineOptions +
                "'");
  if (cudaOptions->cInterface.hasValue() && !cudaOptions->cInterface)
    return fail("--cuda-pipeline-options: a library is called through its C "
                "interface, c-interface cannot be turned off");
  cudaOptions->cInterface = true;
  if (!chip.empty())
    cudaOptions->chip = chip;
  if (emit == Emit::PTX) {
    if (cudaOptions->format.hasValue() &&
        cudaOptions->format != qwha::NVVMBinaryFormat::Isa)
      return fail("--emit=ptx writes the kernels' PTX: drop format= from "
                  "--cuda-pipeline-options");
    cudaOptions->format = qwha::NVVMBinaryFormat::Isa;
  }
  if (target == Target::CUDA &&
      failed(qwha::verifyLowerToCUDAOptions(
          *cudaOptions, [](const llvm::Twine &message) {
            fail(message);
            return failure();
          })))
    return 1;

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  qwha::registerQWHADialectTranslation(registry);
  qwha::registerAllDialects(registry);
  MLIRContext context(registry);
  // Errors point at the source line; the generic op dump adds nothing.
  context.printOpOnDiagnostic(false);

  std::string openError;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFile, &openError);
  if (!input)
    return fail(openError);
  // Shared, so that the parser may reference resources (the weights) in
  // the mapped input instead of copying them into the context.
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("cannot parse '" + inputFile + "'");

  FailureOr<std::vector<EntryPoint>> entries = describeEntryPoints(*module);
  if (failed(entries))
    return 1;
  if (entries->empty())
    return fail("'" + inputFile +
                "' has no public func.func to export: a library needs at "
                "least one entry point");
  std::string header;
  if (!headerPath.empty()) {
    llvm::raw_string_ostream os(header);
    writeCHeader(os, *entries, getIncludeGuard(headerPath),
                 target == Target::CUDA ? HeaderTarget::CUDA : HeaderTarget::CPU,
                 toStdout ? "the module"
                          : llvm::sys::path::filename(outputFile),
                 llvm::sys::path::filename(inputFile));
  }

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  if (target == Target::CUDA)
    qwha::buildLowerToCUDAPassPipeline(pm, *cudaOptions);
  else
    qwha::buildLowerToCPUPassPipeline(pm, *pipelineOptions);
  if (failed(pm.run(*module)))
    return fail("lowering '" + inputFile + "' with " +
                (target == Target::CUDA ? "qwha-lower-to-cuda"
                                        : "qwha-lower-to-cpu") +
                " failed");
  if (failed(verifyLoweredEntryPoints(*module, *entries)))
    return 1;
  if (emit == Emit::PTX) {
    FailureOr<StringRef> ptx = getKernelPTX(*module);
    if (failed(ptx))
      return 1;
    PendingOutputs outputs;
    if (llvm::Error err =
            addTextOutput(outputs, [&](auto &os) { os << *ptx; }))
      return fail(llvm::toString(std::move(err)));
    return commitOutputs(outputs, headerPath, header);
  }

  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(level);
  if (!machine)
    return fail(llvm::toString(machine.takeError()));

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmContext, inputFile);
  if (!llvmModule)
    return fail("translating '" + inputFile + "' to LLVM IR failed");
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setPICLevel(llvm::PICLevel::BigPIC);
  if (llvm::Error err = makeOptimizingTransformer(
          level, /*sizeLevel=*/0, machine->get())(llvmModule.get()))
    return fail("optimizing '" + inputFile +
                "': " + llvm::toString(std::move(err)));

  PendingOutputs outputs;
  if (emit == Emit::LLVMIR) {
    if (llvm::Error err = addTextOutput(
            outputs, [&](auto &os) { llvmModule->print(os, nullptr); }))
      return fail(llvm::toString(std::move(err)));
  } else {
    llvm::SmallVector<char, 0> object;
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager codegen;
    if ((*machine)->addPassesToEmitFile(codegen, os, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
      return fail("the target '" + (*machine)->getTargetTriple().str() +
                  "' cannot emit object files");
    codegen.run(*llvmModule);

    if (emit == Emit::Object) {
      if (llvm::Error err = outputs.add(outputFile, [&](auto &os) {
            os.write(object.data(), object.size());
          }))
        return fail(llvm::toString(std::move(err)));
    } else {
      LinkOptions linkOptions;
      linkOptions.linker = linker;
      linkOptions.runtimeLibraryDir = QWHA_MLIR_LIBRARY_DIR;
#ifdef QWHA_CUDA_RUNTIME_DIR
      if (target == Target::CUDA)
        linkOptions.extraLibraries.push_back(QWHA_CUDA_RUNTIME_DIR
                                             "/libqwha_cuda_runtime.so");
#endif
      llvm::Expected<llvm::sys::fs::TempFile> library =
          linkSharedLibrary(object, outputFile, linkOptions);
      if (!library)
        return fail(llvm::toString(library.takeError()));
      outputs.add(std::move(*library), outputFile);
    }
  }
  return commitOutputs(outputs, headerPath, header);
}
