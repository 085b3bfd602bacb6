// A downstream tool: registers QWHA next to the upstream dialects it needs,
// runs the pipeline given on the command line, then counts QWHA layers
// through the dialect's C++ interface.

#include "qwha/Dialect/QWHA/QWHAOps.h"
#include "qwha/InitAllDialects.h"
#include "qwha/InitAllPasses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  qwha::registerAllPasses();
  llvm::cl::opt<std::string> input(llvm::cl::Positional,
                                   llvm::cl::desc("<input>"));
  mlir::PassPipelineCLParser passes("", "Passes to run");
  llvm::cl::ParseCommandLineOptions(argc, argv, "QWHA consumer\n");

  mlir::DialectRegistry registry;
  registry.insert<mlir::arith::ArithDialect, mlir::func::FuncDialect,
                  mlir::linalg::LinalgDialect>();
  qwha::registerAllDialects(registry);
  mlir::MLIRContext context(registry);

  llvm::SourceMgr sourceMgr;
  std::string error;
  auto file = mlir::openInputFile(input, &error);
  if (!file) {
    llvm::errs() << error << "\n";
    return 1;
  }
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;
  mlir::PassManager pm(&context);
  if (mlir::failed(passes.addToPipeline(pm, [](const llvm::Twine &msg) {
        llvm::errs() << msg << "\n";
        return mlir::failure();
      })) ||
      mlir::failed(pm.run(*module)))
    return 1;

  int layers = 0;
  module->walk([&](qwha::LayerOpInterface) { ++layers; });
  llvm::outs() << "consumer-opt saw " << layers << " qwha layer(s)\n";
  module->print(llvm::outs());
  return 0;
}
