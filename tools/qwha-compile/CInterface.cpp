//===- CInterface.cpp - Entry points of a compiled library ----------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "CInterface.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace qwha::compile;

std::string CValue::getDescriptorName() const {
  return "qwha_memref_" + elementName + "_" + std::to_string(rank) + "d";
}

std::string EntryPoint::getResultsStructName() const {
  return "qwha_" + name + "_results";
}

namespace {

/// A C type and the short name typedefs use for it.
struct CElement {
  std::string cType;
  std::string name;
};

/// The C type of one memref element. f16 and bf16 have no portable C type:
/// they are exposed as their bits.
std::optional<CElement> getElement(Type type) {
  if (type.isF32())
    return CElement{"float", "f32"};
  if (type.isF64())
    return CElement{"double", "f64"};
  if (type.isF16())
    return CElement{"uint16_t", "f16"};
  if (type.isBF16())
    return CElement{"uint16_t", "bf16"};
  if (type.isIndex())
    return CElement{"int64_t", "index"};
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer)
    return std::nullopt;
  unsigned width = integer.getWidth();
  // LLVM stores an i1 in one byte, as C does a bool. Other widths (i4 codes
  // among them) have no C type of the same size.
  if (width == 1)
    return CElement{"bool", "i1"};
  if (width != 8 && width != 16 && width != 32 && width != 64)
    return std::nullopt;
  std::string bits = std::to_string(width);
  if (integer.isUnsigned())
    return CElement{"uint" + bits + "_t", "ui" + bits};
  return CElement{"int" + bits + "_t",
                  (integer.isSigned() ? "si" : "i") + bits};
}

/// Describes `type`, or returns why the header cannot.
FailureOr<CValue> describe(Type type, std::string &reason) {
  CValue value;
  value.type = type;

  if (isa<UnrankedTensorType, UnrankedMemRefType>(type)) {
    reason = "unranked shapes have no fixed descriptor; give the function a "
             "ranked type";
    return failure();
  }
  if (auto shaped = dyn_cast<ShapedType>(type);
      shaped && isa<RankedTensorType, MemRefType>(type)) {
    if (auto tensor = dyn_cast<RankedTensorType>(type);
        tensor && tensor.getEncoding()) {
      reason = "tensors with an encoding (e.g. sparse) are not plain memrefs";
      return failure();
    }
    if (auto memref = dyn_cast<MemRefType>(type)) {
      if (auto space = memref.getMemorySpace();
          space && !(isa<IntegerAttr>(space) &&
                     cast<IntegerAttr>(space).getInt() == 0)) {
        reason = "memrefs outside the default memory space are not host "
                 "pointers";
        return failure();
      }
      if (!memref.isStrided()) {
        reason = "the layout is not strided";
        return failure();
      }
    }
    std::optional<CElement> element = getElement(shaped.getElementType());
    if (!element) {
      reason = "elements of this type have no C equivalent (f16, bf16, f32, "
               "f64, i1, 8- to 64-bit integers and index do)";
      return failure();
    }
    value.isMemRef = true;
    value.cType = element->cType;
    value.elementName = element->name;
    value.rank = shaped.getRank();
    return value;
  }

  // Scalars go in registers, where LLVM and C compilers disagree on who
  // extends narrow integers and where f16 lives: keep to types on which they
  // agree.
  bool portable = type.isF32() || type.isF64() || type.isIndex() ||
                  type.isInteger(32) || type.isInteger(64);
  std::optional<CElement> element = getElement(type);
  if (!portable || !element) {
    reason = "only memrefs, tensors and f32, f64, 32- and 64-bit integer and "
             "index scalars cross the C interface";
    return failure();
  }
  value.cType = element->cType;
  value.elementName = element->name;
  return value;
}

bool isCIdentifier(StringRef name) {
  if (name.empty() || llvm::isDigit(name.front()))
    return false;
  return llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

/// The LLVM dialect type a value has in the lowered wrapper's signature:
/// descriptors go by pointer, integers lose their signedness and index is
/// 64 bits wide (the default data layout, which the header assumes too).
Type getLoweredType(const CValue &value) {
  MLIRContext *context = value.type.getContext();
  if (value.isMemRef)
    return LLVM::LLVMPointerType::get(context);
  if (value.type.isIndex())
    return IntegerType::get(context, 64);
  if (auto integer = dyn_cast<IntegerType>(value.type))
    return IntegerType::get(context, integer.getWidth());
  return value.type;
}

} // namespace

FailureOr<std::vector<EntryPoint>>
qwha::compile::describeEntryPoints(ModuleOp module) {
  std::vector<EntryPoint> entries;
  bool ok = true;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    EntryPoint entry{func.getName().str(), func.getLoc(), {}, {}};
    if (!isCIdentifier(entry.name)) {
      func.emitError() << "cannot declare @" << entry.name
                       << " in the C header: '_mlir_ciface_" << entry.name
                       << "' is not a C identifier; rename the function or "
                          "make it private";
      ok = false;
      continue;
    }

    FunctionType type = func.getFunctionType();
    bool describable = true;
    auto fail = [&](StringRef what, unsigned index, Type valueType,
                    StringRef reason) {
      func.emitError() << "cannot declare @" << entry.name
                       << " in the C header: " << what << " #" << index
                       << " has type " << valueType << ": " << reason;
      describable = false;
    };
    for (auto [i, input] : llvm::enumerate(type.getInputs())) {
      std::string reason;
      FailureOr<CValue> value = describe(input, reason);
      if (failed(value)) {
        fail("argument", i, input, reason);
        continue;
      }
      if (isa<RankedTensorType>(input)) {
        // A tensor argument is a value: the caller's buffer must come back
        // unchanged, which One-Shot Bufferize only guarantees (by copying
        // before an in-place update) for arguments marked read-only.
        auto writable = func.getArgAttrOfType<BoolAttr>(
            i, bufferization::BufferizationDialect::kWritableAttrName);
        if (!writable)
          func.setArgAttr(
              i, bufferization::BufferizationDialect::kWritableAttrName,
              BoolAttr::get(func.getContext(), false));
        value->writable = writable && writable.getValue();
      } else {
        value->writable = value->isMemRef;
      }
      entry.arguments.push_back(std::move(*value));
    }
    for (auto [i, result] : llvm::enumerate(type.getResults())) {
      std::string reason;
      FailureOr<CValue> value = describe(result, reason);
      if (failed(value)) {
        fail("result", i, result, reason);
        continue;
      }
      entry.results.push_back(std::move(*value));
    }
    if (!describable) {
      ok = false;
      continue;
    }
    entries.push_back(std::move(entry));
  }
  if (!ok)
    return failure();
  return entries;
}

LogicalResult
qwha::compile::verifyLoweredEntryPoints(ModuleOp lowered,
                                        ArrayRef<EntryPoint> entries) {
  // Checked against the description, which is what the header is written
  // from: a lowering that changes the convention must not go unnoticed.
  MLIRContext *context = lowered.getContext();
  bool ok = true;
  for (const EntryPoint &entry : entries) {
    std::string wrapperName = "_mlir_ciface_" + entry.name;
    auto wrapper = lowered.lookupSymbol<LLVM::LLVMFuncOp>(wrapperName);
    if (!wrapper || wrapper.isExternal()) {
      emitError(entry.loc) << "lowering did not define '" << wrapperName
                           << "' for @" << entry.name;
      ok = false;
      continue;
    }

    SmallVector<Type> params;
    if (entry.returnsThroughPointer())
      params.push_back(LLVM::LLVMPointerType::get(context));
    for (const CValue &arg : entry.arguments)
      params.push_back(getLoweredType(arg));
    Type result = LLVM::LLVMVoidType::get(context);
    if (entry.results.size() == 1 && !entry.results[0].isMemRef)
      result = getLoweredType(entry.results[0]);

    LLVM::LLVMFunctionType actual = wrapper.getFunctionType();
    if (actual.isVarArg() || actual.getReturnType() != result ||
        actual.getParams() != ArrayRef<Type>(params)) {
      auto expected = LLVM::LLVMFunctionType::get(result, params);
      emitError(entry.loc) << "'" << wrapperName << "' was lowered to "
                           << actual << ", but the header would declare "
                           << expected << "; not exporting @" << entry.name;
      ok = false;
    }
  }
  return success(ok);
}

std::string qwha::compile::getIncludeGuard(StringRef path) {
  std::string guard = "QWHA_";
  for (char c : llvm::sys::path::filename(path))
    guard += llvm::isAlnum(c) ? llvm::toUpper(c) : '_';
  return guard;
}

namespace {

/// The C declarator of a parameter or member: `float x` or `T *x`.
std::string declare(const CValue &value, StringRef name) {
  if (value.isMemRef)
    return value.getDescriptorName() + " *" + name.str();
  return value.cType + " " + name.str();
}

void writeDescriptor(llvm::raw_ostream &os, const CValue &value) {
  std::string name = value.getDescriptorName();
  std::string macro = llvm::StringRef(name).upper() + "_DEFINED";
  os << "#ifndef " << macro << "\n#define " << macro << "\n";
  os << "typedef struct {\n";
  os << "  " << value.cType << " *allocated;\n";
  os << "  " << value.cType << " *aligned;\n";
  os << "  int64_t offset;\n";
  if (value.rank > 0) {
    os << "  int64_t sizes[" << value.rank << "];\n";
    os << "  int64_t strides[" << value.rank << "];\n";
  }
  os << "} " << name << ";\n#endif\n\n";
}

} // namespace

void qwha::compile::writeCHeader(llvm::raw_ostream &os,
                                 ArrayRef<EntryPoint> entries, StringRef guard,
                                 HeaderTarget target, StringRef library,
                                 StringRef source) {
  os << "/* Entry points of " << library << ", generated by qwha-compile from "
     << source << ".\n"
     << " * Do not edit: regenerate with qwha-compile.\n"
     << " *\n"
     << " * Calling convention (MLIR's C interface, `_mlir_ciface_<name>`):\n"
     << " *  - memref and tensor arguments are passed as pointers to\n"
     << " *    descriptors; scalars are passed by value;\n"
     << " *  - one memref result is written to the descriptor the first\n"
     << " *    parameter points to; one scalar result is returned;\n"
     << " *  - several results are written, in order, to the struct the first\n"
     << " *    parameter points to.\n"
     << " *\n"
     << " * Ownership:\n";
  if (target == HeaderTarget::CUDA)
    os << " *  - every pointer in a descriptor, argument or result, is CUDA\n"
       << " *    device memory of the current device. A call runs on the\n"
       << " *    stream mgpuStreamCreate gives (libqwha_cuda_runtime.so; a\n"
       << " *    caller's own with qwhaCudaSetStream) and waits for it unless\n"
       << " *    that stream is borrowed without synchronization;\n"
       << " *  - every returned buffer was allocated with mgpuMemAlloc on that\n"
       << " *    stream and belongs to the caller: release it with\n"
       << " *    mgpuMemFree(desc.allocated, stream), each distinct\n"
       << " *    `allocated` pointer once;\n";
  else
    os << " *  - every returned buffer was allocated with malloc and belongs to\n"
       << " *    the caller: release it with free(desc.allocated), never\n"
       << " *    desc.aligned. A function that returns the same value twice\n"
       << " *    returns one allocation twice: free each distinct `allocated`\n"
       << " *    pointer once;\n";
  os << ""
     << " *  - argument buffers stay the caller's and are not kept. A tensor\n"
     << " *    argument is read only (unless the source marks it\n"
     << " *    bufferization.writable = true); a memref argument may be\n"
     << " *    written as the source says.\n"
     << " * f16 and bf16 elements are exposed as their bits (uint16_t); index\n"
     << " * is int64_t.\n"
     << " */\n\n";
  os << "#ifndef " << guard << "\n#define " << guard << "\n\n";
  if (target == HeaderTarget::CUDA)
    os << "/* Buffers are CUDA device memory. */\n"
       << "#define QWHA_TARGET_CUDA 1\n\n";
  os << "#include <stdint.h>\n"
     << "#ifndef __cplusplus\n#include <stdbool.h>\n#endif\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";

  // Descriptor typedefs, once per element type and rank, guarded so that
  // headers of several libraries can be included together.
  llvm::StringSet<> written;
  for (const EntryPoint &entry : entries)
    for (const CValue &value :
         llvm::concat<const CValue>(entry.arguments, entry.results))
      if (value.isMemRef && written.insert(value.getDescriptorName()).second)
        writeDescriptor(os, value);

  for (const EntryPoint &entry : entries) {
    os << "/* @" << entry.name << "(";
    llvm::interleaveComma(entry.arguments, os, [&](const CValue &arg) {
      os << arg.type;
      if (arg.isMemRef && !arg.writable)
        os << " (read only)";
    });
    os << ")";
    if (!entry.results.empty()) {
      os << " -> ";
      if (entry.results.size() > 1)
        os << "(";
      llvm::interleaveComma(entry.results, os,
                            [&](const CValue &r) { os << r.type; });
      if (entry.results.size() > 1)
        os << ")";
    }
    os << " */\n";

    if (entry.results.size() > 1) {
      os << "typedef struct {\n";
      for (auto [i, result] : llvm::enumerate(entry.results)) {
        std::string member = "r" + std::to_string(i);
        os << "  "
           << (result.isMemRef ? result.getDescriptorName() + " " + member
                               : declare(result, member))
           << ";\n";
      }
      os << "} " << entry.getResultsStructName() << ";\n";
    }

    std::string returnType = "void";
    if (entry.results.size() == 1 && !entry.results[0].isMemRef)
      returnType = entry.results[0].cType;
    SmallVector<std::string> params;
    if (entry.results.size() > 1)
      params.push_back(entry.getResultsStructName() + " *results");
    else if (entry.returnsThroughPointer())
      params.push_back(declare(entry.results[0], "result"));
    for (auto [i, arg] : llvm::enumerate(entry.arguments))
      params.push_back(declare(arg, "arg" + std::to_string(i)));
    if (params.empty())
      params.push_back("void");
    os << returnType << " _mlir_ciface_" << entry.name << "("
       << llvm::join(params, ", ") << ");\n\n";
  }

  os << "#ifdef __cplusplus\n} /* extern \"C\" */\n#endif\n\n";
  os << "#endif /* " << guard << " */\n";
}
