//===- QwhaModule.cpp - The qwha._qwha Python extension -------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// nanobind bindings over the C++ API: the numeric core (qwha/Quant) on numpy
// arrays, and an IR driver (context, module, pass pipelines, calibration).
// Python code in the `qwha` package wraps this module; nothing here is meant
// to be imported directly.
//
// Arrays are checked here, not in Python, so that every entry point raises
// the same exceptions: TypeError for a wrong dtype, ValueError for a wrong
// shape or an error the C++ reports (llvm::Error), both naming the argument.
// Inputs are taken as C-contiguous arrays of the dtype the C++ works in;
// other layouts are copied by the Python layer (numpy.ascontiguousarray).
//
//===----------------------------------------------------------------------===//

#include "qwha/Calibration/CalibrationRunner.h"
#include "qwha/InitAllDialects.h"
#include "qwha/InitAllPasses.h"
#include "qwha/Quant/Adapter.h"
#include "qwha/Quant/Gptq.h"
#include "qwha/Quant/Grid.h"
#include "qwha/Quant/Hadamard.h"
#include "qwha/Quant/Hessian.h"
#include "qwha/Quant/Packing.h"
#include "qwha/Support/AdapterFile.h"
#include "qwha/Support/Safetensors.h"
#include "qwha/Transforms/GptqCheckpoint.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;
using namespace qwha;
using namespace qwha::quant;

namespace {

//===----------------------------------------------------------------------===//
// Array helpers
//===----------------------------------------------------------------------===//

/// Any numpy array, C-contiguous, on the CPU; dtype and shape checked below.
using AnyArray = nb::ndarray<nb::numpy, nb::c_contig, nb::device::cpu>;

template <typename T> const char *dtypeName();
template <> const char *dtypeName<float>() { return "float32"; }
template <> const char *dtypeName<double>() { return "float64"; }
template <> const char *dtypeName<uint8_t>() { return "uint8"; }
template <> const char *dtypeName<int32_t>() { return "int32"; }
template <> const char *dtypeName<int64_t>() { return "int64"; }

[[noreturn]] void throwValue(const std::string &message) {
  throw nb::value_error(message.c_str());
}

[[noreturn]] void throwType(const std::string &message) {
  throw nb::type_error(message.c_str());
}

/// Raises ValueError with the error's message, prefixed by `what`.
void check(llvm::Error err, llvm::StringRef what = {}) {
  if (!err)
    return;
  std::string message = llvm::toString(std::move(err));
  if (!what.empty())
    message = what.str() + ": " + message;
  throwValue(message);
}

template <typename T> T unwrap(llvm::Expected<T> value, llvm::StringRef what) {
  if (!value)
    check(value.takeError(), what);
  return std::move(*value);
}

std::string shapeString(const AnyArray &a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i)
    s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

/// Checks the dtype of `a` and that it has `ndim` dimensions.
template <typename T>
void checkArray(const AnyArray &a, const char *name, size_t ndim) {
  if (a.dtype() != nb::dtype<T>())
    throwType(std::string("argument '") + name + "' must have dtype " +
              dtypeName<T>());
  if (a.ndim() != ndim)
    throwValue(std::string("argument '") + name + "' must be " +
               std::to_string(ndim) + "-dimensional, got shape " +
               shapeString(a));
}

template <typename T> llvm::ArrayRef<T> view(const AnyArray &a) {
  return llvm::ArrayRef<T>(static_cast<const T *>(a.data()), a.size());
}

/// A new numpy array owning a copy of `values`, with `shape`.
template <typename T>
nb::ndarray<nb::numpy, T> toNumpy(std::vector<T> values,
                                  std::initializer_list<size_t> shape) {
  auto *owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void *p) noexcept {
    delete static_cast<std::vector<T> *>(p);
  });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.begin(),
                                   owner);
}

template <typename T>
nb::ndarray<nb::numpy, T> toNumpy(const std::vector<T> &values,
                                  std::initializer_list<size_t> shape,
                                  bool /*copy*/) {
  return toNumpy(std::vector<T>(values), shape);
}

/// A property's array as a Python object: properties default to
/// reference_internal, which an array owning its data cannot take.
template <typename T> nb::object asObject(nb::ndarray<nb::numpy, T> array) {
  return nb::cast(std::move(array), nb::rv_policy::move);
}

//===----------------------------------------------------------------------===//
// Numeric core
//===----------------------------------------------------------------------===//

GridOptions makeGrid(unsigned bits, int64_t groupSize, bool symmetric,
                     bool mse, double mseNorm, int mseGrid,
                     double mseMaxShrink) {
  GridOptions grid;
  grid.bits = bits;
  grid.groupSize = groupSize;
  grid.symmetric = symmetric;
  grid.mse = mse;
  grid.mseNorm = mseNorm;
  grid.mseGrid = mseGrid;
  grid.mseMaxShrink = mseMaxShrink;
  return grid;
}

/// Checks a [rows, cols] weight and returns its shape.
std::pair<int64_t, int64_t> weightShape(const AnyArray &w, const char *name) {
  checkArray<float>(w, name, 2);
  return {int64_t(w.shape(0)), int64_t(w.shape(1))};
}

void checkHessian(const AnyArray &h, int64_t cols, const char *name) {
  checkArray<float>(h, name, 2);
  if (int64_t(h.shape(0)) != cols || int64_t(h.shape(1)) != cols)
    throwValue(std::string("argument '") + name + "' must have shape (" +
               std::to_string(cols) + ", " + std::to_string(cols) +
               ") to match the weight's columns, got " + shapeString(h));
}

/// The full g_idx of a matrix (the C++ leaves it empty when it is k / g).
std::vector<int32_t> fullGroupIndex(const QuantizedMatrix &q) {
  if (!q.gIdx.empty())
    return q.gIdx;
  std::vector<int32_t> g(q.cols);
  for (int64_t k = 0; k < q.cols; ++k)
    g[k] = int32_t(k / q.groupSize);
  return g;
}

QuantizedMatrix makeQuantized(const AnyArray &codes, const AnyArray &scales,
                              const AnyArray &zeros,
                              std::optional<AnyArray> gIdx, unsigned bits) {
  checkArray<uint8_t>(codes, "codes", 2);
  checkArray<float>(scales, "scales", 2);
  checkArray<float>(zeros, "zeros", 2);
  QuantizedMatrix q;
  q.rows = codes.shape(0);
  q.cols = codes.shape(1);
  q.bits = bits;
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    throwValue("argument 'bits' must be 2, 3, 4 or 8, got " +
               std::to_string(bits));
  int64_t groups = scales.shape(1);
  if (int64_t(scales.shape(0)) != q.rows || groups == 0)
    throwValue("argument 'scales' must have shape (" + std::to_string(q.rows) +
               ", groups), got " + shapeString(scales));
  if (zeros.shape(0) != scales.shape(0) || zeros.shape(1) != scales.shape(1))
    throwValue("argument 'zeros' must have the shape of 'scales' " +
               shapeString(scales) + ", got " + shapeString(zeros));
  if (q.cols % groups != 0)
    throwValue("the " + std::to_string(groups) +
               " groups of 'scales' do not divide the " +
               std::to_string(q.cols) + " columns of 'codes'");
  q.groupSize = q.cols / groups;
  unsigned maxCode = (1u << bits) - 1;
  for (uint8_t c : view<uint8_t>(codes))
    if (c > maxCode)
      throwValue("argument 'codes' holds " + std::to_string(c) +
                 ", which does not fit in " + std::to_string(bits) + " bits");
  q.codes.assign(view<uint8_t>(codes).begin(), view<uint8_t>(codes).end());
  q.scales.assign(view<float>(scales).begin(), view<float>(scales).end());
  q.zeros.assign(view<float>(zeros).begin(), view<float>(zeros).end());
  if (gIdx) {
    checkArray<int32_t>(*gIdx, "g_idx", 1);
    if (int64_t(gIdx->shape(0)) != q.cols)
      throwValue("argument 'g_idx' must have " + std::to_string(q.cols) +
                 " entries, got " + shapeString(*gIdx));
    for (int32_t g : view<int32_t>(*gIdx))
      if (g < 0 || g >= groups)
        throwValue("argument 'g_idx' holds group " + std::to_string(g) +
                   ", outside [0, " + std::to_string(groups) + ")");
    q.gIdx.assign(view<int32_t>(*gIdx).begin(), view<int32_t>(*gIdx).end());
  }
  return q;
}

GptqFormat parseFormat(const std::string &format) {
  if (format == "v1" || format == "gptq")
    return GptqFormat::V1;
  if (format == "v2" || format == "gptq_v2")
    return GptqFormat::V2;
  throwValue("argument 'format' must be 'v1' (\"gptq\") or 'v2' "
             "(\"gptq_v2\"), got '" + format + "'");
}

/// Applies the transform to every run of size() values of a float32 or
/// float64 array whose last dimension is d, in place.
void applyTransform(const HadamardTransform &t, AnyArray &x, bool normalized) {
  if (x.ndim() == 0 || int64_t(x.shape(x.ndim() - 1)) != t.size())
    throwValue("argument 'x' must have last dimension " +
               std::to_string(t.size()) + ", got shape " + shapeString(x));
  nb::gil_scoped_release release;
  if (x.dtype() == nb::dtype<float>())
    t.apply(llvm::MutableArrayRef<float>(static_cast<float *>(x.data()),
                                         x.size()),
            normalized);
  else
    t.apply(llvm::MutableArrayRef<double>(static_cast<double *>(x.data()),
                                          x.size()),
            normalized);
}

void checkFloatArray(const AnyArray &x, const char *name) {
  if (x.dtype() != nb::dtype<float>() && x.dtype() != nb::dtype<double>())
    throwType(std::string("argument '") + name +
              "' must have dtype float32 or float64");
}

//===----------------------------------------------------------------------===//
// IR
//===----------------------------------------------------------------------===//

/// Collects the diagnostics emitted while it lives, one per line, as
/// "loc: error: message", notes included.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext *ctx)
      : handler(ctx, [this](mlir::Diagnostic &diag) {
          append(diag);
          return mlir::success();
        }) {}

  const std::string &str() const { return text; }

private:
  void append(mlir::Diagnostic &diag) {
    llvm::raw_string_ostream os(text);
    // file:line:col like mlir-opt, when the location has one.
    mlir::LocationAttr loc = diag.getLocation();
    if (auto flc = loc.findInstanceOf<mlir::FileLineColLoc>())
      os << flc.getFilename().getValue() << ":" << flc.getLine() << ":"
         << flc.getColumn() << ": ";
    else
      os << loc << ": ";
    switch (diag.getSeverity()) {
    case mlir::DiagnosticSeverity::Error:
      os << "error: ";
      break;
    case mlir::DiagnosticSeverity::Warning:
      os << "warning: ";
      break;
    case mlir::DiagnosticSeverity::Note:
      os << "note: ";
      break;
    case mlir::DiagnosticSeverity::Remark:
      os << "remark: ";
      break;
    }
    os << diag << "\n";
    for (mlir::Diagnostic &note : diag.getNotes())
      append(note);
  }

  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

struct IRContext {
  IRContext() {
    mlir::DialectRegistry registry;
    mlir::registerAllDialects(registry);
    mlir::registerAllExtensions(registry);
    qwha::registerAllDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
    context->loadAllAvailableDialects();
  }
  std::unique_ptr<mlir::MLIRContext> context;
};

struct IRModule {
  nb::object contextObject; ///< Keeps the context alive.
  mlir::OwningOpRef<mlir::ModuleOp> module;

  IRContext &getContext() { return nb::cast<IRContext &>(contextObject); }

  std::string str() {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return text;
  }
};

[[noreturn]] void throwIR(const std::string &what,
                          const DiagnosticCollector &diags) {
  std::string message = what;
  if (!diags.str().empty())
    message += ":\n" + diags.str();
  while (!message.empty() && message.back() == '\n')
    message.pop_back();
  throwValue(message);
}

std::unique_ptr<IRModule> parseModule(nb::object ctxObject,
                                      std::unique_ptr<llvm::MemoryBuffer> buf,
                                      const std::string &what) {
  IRContext &ctx = nb::cast<IRContext &>(ctxObject);
  DiagnosticCollector diags(ctx.context.get());
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buf), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, ctx.context.get());
  if (!module)
    throwIR("failed to parse " + what, diags);
  auto result = std::make_unique<IRModule>();
  result->contextObject = ctxObject;
  result->module = std::move(module);
  return result;
}

std::once_flag passRegistration;

void registerPasses() {
  std::call_once(passRegistration, [] {
    mlir::registerAllPasses();
    qwha::registerAllPasses();
  });
}

} // namespace

NB_MODULE(_qwha, m) {
  m.doc() = "Native part of the qwha package (see qwha/__init__.py).";

  //===--------------------------------------------------------------------===//
  // Hessian
  //===--------------------------------------------------------------------===//
  nb::class_<HessianAccumulator>(m, "HessianAccumulator")
      .def(
          "__init__",
          [](HessianAccumulator *self, int64_t dim) {
            if (dim <= 0)
              throwValue("argument 'dim' must be positive, got " +
                         std::to_string(dim));
            new (self) HessianAccumulator(dim);
          },
          "dim"_a)
      .def_prop_ro("dim", &HessianAccumulator::getDim)
      .def_prop_ro("num_samples", &HessianAccumulator::getNumSamples)
      .def(
          "add",
          [](HessianAccumulator &self, const AnyArray &rows) {
            checkArray<float>(rows, "rows", 2);
            if (int64_t(rows.shape(1)) != self.getDim())
              throwValue("argument 'rows' must have " +
                         std::to_string(self.getDim()) +
                         " columns, got shape " + shapeString(rows));
            llvm::Error err = llvm::Error::success();
            {
              nb::gil_scoped_release release;
              err = self.addRows(view<float>(rows));
            }
            check(std::move(err), "rows");
          },
          "rows"_a)
      .def(
          "merge",
          [](HessianAccumulator &self, const HessianAccumulator &other) {
            check(self.merge(other), "other");
          },
          "other"_a)
      .def("hessian", [](const HessianAccumulator &self) {
        size_t d = self.getDim();
        return toNumpy(self.getHessian(), {d, d});
      });

  //===--------------------------------------------------------------------===//
  // Quantized matrices, RTN and GPTQ
  //===--------------------------------------------------------------------===//
  nb::class_<QuantizedMatrix>(m, "QuantizedMatrix")
      .def_ro("rows", &QuantizedMatrix::rows)
      .def_ro("cols", &QuantizedMatrix::cols)
      .def_ro("bits", &QuantizedMatrix::bits)
      .def_ro("group_size", &QuantizedMatrix::groupSize)
      .def_prop_ro("num_groups", &QuantizedMatrix::getNumGroups)
      .def_prop_ro(
                   "codes",
                   [](const QuantizedMatrix &q) {
                     return asObject(toNumpy(q.codes, {size_t(q.rows), size_t(q.cols)},
                                    true));
                   }
                   )
      .def_prop_ro(
                   "scales",
                   [](const QuantizedMatrix &q) {
                     return asObject(toNumpy(q.scales,
                                    {size_t(q.rows), size_t(q.getNumGroups())},
                                    true));
                   }
                   )
      .def_prop_ro(
                   "zeros",
                   [](const QuantizedMatrix &q) {
                     return asObject(toNumpy(q.zeros,
                                    {size_t(q.rows), size_t(q.getNumGroups())},
                                    true));
                   }
                   )
      .def_prop_ro(
                   "g_idx",
                   [](const QuantizedMatrix &q) {
                     return asObject(toNumpy(fullGroupIndex(q), {size_t(q.cols)}
                   ));
                   })
      .def_prop_ro("has_permuted_groups",
                   [](const QuantizedMatrix &q) { return !q.gIdx.empty(); })
      .def("dequantize", [](const QuantizedMatrix &q) {
        return toNumpy(q.dequantize(), {size_t(q.rows), size_t(q.cols)});
      });

  m.def(
      "make_quantized",
      [](const AnyArray &codes, const AnyArray &scales, const AnyArray &zeros,
         std::optional<AnyArray> gIdx, unsigned bits) {
        return makeQuantized(codes, scales, zeros, std::move(gIdx), bits);
      },
      "codes"_a, "scales"_a, "zeros"_a, "g_idx"_a.none(), "bits"_a);

  nb::class_<GptqResult>(m, "GptqResult")
      .def_ro("quantized", &GptqResult::quantized)
      .def_prop_ro(
                   "permutation",
                   [](const GptqResult &r) {
                     return asObject(toNumpy(r.permutation, {r.permutation.size()},
                                    true));
                   }
                   )
      .def_ro("damp", &GptqResult::damp)
      .def_ro("damp_raises", &GptqResult::dampRaises)
      .def_ro("dead_columns", &GptqResult::deadColumns)
      .def_ro("objective", &GptqResult::objective)
      .def_ro("objective_rtn", &GptqResult::objectiveRTN)
      .def_ro("output_energy", &GptqResult::outputEnergy);

  m.def(
      "rtn",
      [](const AnyArray &weight, unsigned bits, int64_t groupSize,
         bool symmetric, bool mse, double mseNorm, int mseGrid,
         double mseMaxShrink) {
        auto [rows, cols] = weightShape(weight, "weight");
        GridOptions grid = makeGrid(bits, groupSize, symmetric, mse, mseNorm,
                                    mseGrid, mseMaxShrink);
        llvm::Expected<QuantizedMatrix> q =
            llvm::Expected<QuantizedMatrix>(QuantizedMatrix());
        {
          nb::gil_scoped_release release;
          q = quantizeRTN(view<float>(weight), rows, cols, grid);
        }
        return unwrap(std::move(q), "rtn");
      },
      "weight"_a, "bits"_a, "group_size"_a, "symmetric"_a, "mse"_a,
      "mse_norm"_a, "mse_grid"_a, "mse_max_shrink"_a);

  m.def(
      "gptq",
      [](const AnyArray &weight, const AnyArray &hessian, unsigned bits,
         int64_t groupSize, bool symmetric, bool mse, double mseNorm,
         int mseGrid, double mseMaxShrink, double damp, double dampIncrement,
         int64_t blockSize, bool actOrder, bool staticGroups,
         bool computeBaselines) {
        auto [rows, cols] = weightShape(weight, "weight");
        checkHessian(hessian, cols, "hessian");
        GptqOptions options;
        options.grid = makeGrid(bits, groupSize, symmetric, mse, mseNorm,
                                mseGrid, mseMaxShrink);
        options.damp = damp;
        options.dampIncrement = dampIncrement;
        options.blockSize = blockSize;
        options.actOrder = actOrder;
        options.staticGroups = staticGroups;
        options.computeBaselines = computeBaselines;
        llvm::Expected<GptqResult> r = GptqResult();
        {
          nb::gil_scoped_release release;
          r = quantizeGPTQ(view<float>(weight), rows, cols,
                           view<float>(hessian), options);
        }
        return unwrap(std::move(r), "gptq");
      },
      "weight"_a, "hessian"_a, "bits"_a, "group_size"_a, "symmetric"_a,
      "mse"_a, "mse_norm"_a, "mse_grid"_a, "mse_max_shrink"_a, "damp"_a,
      "damp_increment"_a, "block_size"_a, "act_order"_a, "static_groups"_a,
      "compute_baselines"_a);

  m.def(
      "quadratic_objective",
      [](const AnyArray &a, const AnyArray &b, const AnyArray &hessian) {
        auto [rows, cols] = weightShape(a, "a");
        checkArray<float>(b, "b", 2);
        if (b.shape(0) != a.shape(0) || b.shape(1) != a.shape(1))
          throwValue("argument 'b' must have the shape of 'a' " +
                     shapeString(a) + ", got " + shapeString(b));
        checkHessian(hessian, cols, "hessian");
        return quadraticObjective(view<float>(a), view<float>(b), rows, cols,
                                  view<float>(hessian));
      },
      "a"_a, "b"_a, "hessian"_a);

  //===--------------------------------------------------------------------===//
  // GPTQ checkpoint packing
  //===--------------------------------------------------------------------===//
  m.def(
      "pack_weight",
      [](const AnyArray &codes, unsigned bits) {
        checkArray<uint8_t>(codes, "codes", 2);
        int64_t n = codes.shape(0), k = codes.shape(1);
        std::vector<int32_t> packed = unwrap(
            packGptqWeight(view<uint8_t>(codes), n, k, bits), "pack_weight");
        auto shape = getGptqWeightShape(n, k, bits);
        return toNumpy(std::move(packed),
                       {size_t(shape[0]), size_t(shape[1])});
      },
      "codes"_a, "bits"_a);
  m.def(
      "unpack_weight",
      [](const AnyArray &qweight, int64_t inFeatures, unsigned bits) {
        checkArray<int32_t>(qweight, "qweight", 2);
        int64_t n = qweight.shape(1);
        std::vector<uint8_t> codes =
            unwrap(unpackGptqWeight(view<int32_t>(qweight), n, inFeatures,
                                    bits),
                   "unpack_weight");
        return toNumpy(std::move(codes), {size_t(n), size_t(inFeatures)});
      },
      "qweight"_a, "in_features"_a, "bits"_a);
  m.def(
      "pack_zeros",
      [](const AnyArray &zeros, unsigned bits, const std::string &format) {
        checkArray<uint8_t>(zeros, "zeros", 2);
        int64_t n = zeros.shape(0), g = zeros.shape(1);
        std::vector<int32_t> packed =
            unwrap(packGptqZeros(view<uint8_t>(zeros), n, g, bits,
                                 parseFormat(format)),
                   "pack_zeros");
        auto shape = getGptqZerosShape(n, g, bits);
        return toNumpy(std::move(packed),
                       {size_t(shape[0]), size_t(shape[1])});
      },
      "zeros"_a, "bits"_a, "format"_a);
  m.def(
      "unpack_zeros",
      [](const AnyArray &qzeros, int64_t outFeatures, unsigned bits,
         const std::string &format) {
        checkArray<int32_t>(qzeros, "qzeros", 2);
        int64_t g = qzeros.shape(0);
        std::vector<uint8_t> zeros =
            unwrap(unpackGptqZeros(view<int32_t>(qzeros), outFeatures, g, bits,
                                   parseFormat(format)),
                   "unpack_zeros");
        return toNumpy(std::move(zeros), {size_t(outFeatures), size_t(g)});
      },
      "qzeros"_a, "out_features"_a, "bits"_a, "format"_a);

  //===--------------------------------------------------------------------===//
  // Walsh-Hadamard transform
  //===--------------------------------------------------------------------===//
  m.def(
      "factor_hadamard_size",
      [](int64_t d) -> std::optional<std::pair<int64_t, int64_t>> {
        std::optional<HadamardSize> s = factorHadamardSize(d);
        if (!s)
          return std::nullopt;
        return std::make_pair(s->powerOfTwo, s->baseOrder);
      },
      "d"_a);
  m.def("is_symmetric_hadamard_size", &isSymmetricHadamardSize, "d"_a);
  m.def(
      "hadamard_matrix",
      [](int64_t d) {
        if (d <= 0)
          throwValue("argument 'd' must be positive, got " +
                     std::to_string(d));
        std::vector<int8_t> h =
            unwrap(buildHadamardMatrix(d), "hadamard_matrix");
        return toNumpy(std::move(h), {size_t(d), size_t(d)});
      },
      "d"_a);
  m.def(
      "fwht_inplace",
      [](AnyArray x, bool normalized) {
        checkFloatArray(x, "x");
        if (x.ndim() == 0)
          throwValue("argument 'x' must have at least one dimension");
        int64_t d = x.shape(x.ndim() - 1);
        if (d <= 0)
          throwValue("argument 'x' has an empty last dimension");
        HadamardTransform t = unwrap(HadamardTransform::create(d), "fwht");
        applyTransform(t, x, normalized);
      },
      "x"_a, "normalized"_a);

  //===--------------------------------------------------------------------===//
  // Adapters
  //===--------------------------------------------------------------------===//
  nb::class_<SparseMatrix>(m, "SparseMatrix")
      .def_ro("rows", &SparseMatrix::rows)
      .def_ro("cols", &SparseMatrix::cols)
      .def_prop_ro("nnz", &SparseMatrix::getNumNonZeros)
      .def_prop_ro(
                   "row_offsets",
                   [](const SparseMatrix &s) {
                     return asObject(toNumpy(s.rowOffsets, {s.rowOffsets.size()}, true));
                   }
                   )
      .def_prop_ro(
                   "col_indices",
                   [](const SparseMatrix &s) {
                     return asObject(toNumpy(s.colIndices, {s.colIndices.size()}, true));
                   }
                   )
      .def_prop_ro(
                   "values",
                   [](const SparseMatrix &s) {
                     return asObject(toNumpy(s.values, {s.values.size()}, true));
                   }
                   )
      .def("flat_indices",
           [](const SparseMatrix &s) {
             std::vector<int64_t> flat = s.getFlatIndices();
             size_t n = flat.size();
             return toNumpy(std::move(flat), {n});
           })
      .def("to_dense",
           [](const SparseMatrix &s) {
             return toNumpy(s.toDense(), {size_t(s.rows), size_t(s.cols)});
           })
      .def_static(
          "from_flat",
          [](int64_t rows, int64_t cols, const AnyArray &flat,
             const AnyArray &values) {
            if (rows <= 0 || cols <= 0)
              throwValue("arguments 'rows' and 'cols' must be positive");
            checkArray<int64_t>(flat, "flat", 1);
            checkArray<float>(values, "values", 1);
            return unwrap(SparseMatrix::fromFlat(rows, cols,
                                                 view<int64_t>(flat),
                                                 view<float>(values)),
                          "SparseMatrix.from_flat");
          },
          "rows"_a, "cols"_a, "flat"_a, "values"_a);

  nb::class_<AdapterInitResult>(m, "AdapterInitResult")
      .def_ro("adapter", &AdapterInitResult::adapter)
      .def_ro("budget", &AdapterInitResult::budget)
      .def_ro("objective_none", &AdapterInitResult::objectiveNone)
      .def_ro("objective_selected", &AdapterInitResult::objectiveSelected)
      .def_ro("objective_refined", &AdapterInitResult::objectiveRefined)
      .def_ro("damp_raised_rows", &AdapterInitResult::dampRaisedRows);

  m.def(
      "allocate_row_budgets",
      [](const AnyArray &energies, int64_t budget, double power,
         int64_t maxPerRow) {
        checkArray<double>(energies, "energies", 1);
        if (budget < 0)
          throwValue("argument 'budget' must not be negative");
        if (maxPerRow < 0)
          throwValue("argument 'max_per_row' must not be negative");
        for (double e : view<double>(energies))
          if (!std::isfinite(e) || e < 0)
            throwValue("argument 'energies' must be finite and non-negative");
        std::vector<int64_t> b = allocateRowBudgets(view<double>(energies),
                                                    budget, power, maxPerRow);
        size_t n = b.size();
        return toNumpy(std::move(b), {n});
      },
      "energies"_a, "budget"_a, "power"_a, "max_per_row"_a);

  m.def(
      "init_adapter",
      [](const AnyArray &weight, const AnyArray &quantized,
         const AnyArray &hessian, int64_t rank, double allocPower,
         const std::string &selection, uint64_t seed, bool refine,
         double damp, double dampIncrement) {
        auto [rows, cols] = weightShape(weight, "weight");
        checkArray<float>(quantized, "quantized", 2);
        if (quantized.shape(0) != weight.shape(0) ||
            quantized.shape(1) != weight.shape(1))
          throwValue("argument 'quantized' must have the shape of 'weight' " +
                     shapeString(weight) + ", got " + shapeString(quantized));
        checkHessian(hessian, cols, "hessian");
        AdapterOptions options;
        options.rank = rank;
        options.allocPower = allocPower;
        if (selection == "magnitude")
          options.selection = AdapterSelection::Magnitude;
        else if (selection == "random")
          options.selection = AdapterSelection::Random;
        else
          throwValue("argument 'selection' must be 'magnitude' or 'random', "
                     "got '" + selection + "'");
        options.seed = seed;
        options.refine = refine;
        options.damp = damp;
        options.dampIncrement = dampIncrement;
        llvm::Expected<AdapterInitResult> r = AdapterInitResult();
        {
          nb::gil_scoped_release release;
          r = initializeAdapter(view<float>(weight), view<float>(quantized),
                                rows, cols, view<float>(hessian), options);
        }
        return unwrap(std::move(r), "init_adapter");
      },
      "weight"_a, "quantized"_a, "hessian"_a, "rank"_a, "alloc_power"_a,
      "selection"_a, "seed"_a, "refine"_a, "damp"_a, "damp_increment"_a);

  m.def(
      "apply_adapter",
      [](const SparseMatrix &adapter, const AnyArray &inputs) {
        checkArray<float>(inputs, "inputs", 2);
        if (int64_t(inputs.shape(1)) != adapter.cols)
          throwValue("argument 'inputs' must have " +
                     std::to_string(adapter.cols) + " columns, got shape " +
                     shapeString(inputs));
        std::vector<float> y =
            unwrap(applyAdapter(adapter, view<float>(inputs)), "apply_adapter");
        return toNumpy(std::move(y),
                       {size_t(inputs.shape(0)), size_t(adapter.rows)});
      },
      "adapter"_a, "inputs"_a);

  //===--------------------------------------------------------------------===//
  // Files the compiler reads
  //===--------------------------------------------------------------------===//
  m.def(
      "export_gptq",
      [](const std::vector<std::pair<std::string, QuantizedMatrix>> &layers,
         const std::string &directory, const std::string &format) {
        check(exportGptqLayers(layers, directory, parseFormat(format)),
              "export_gptq");
      },
      "layers"_a, "directory"_a, "format"_a);

  m.def(
      "save_adapters",
      [](const std::vector<std::pair<std::string, SparseMatrix>> &layers,
         const std::string &path) {
        AdapterFile file;
        for (const auto &[name, adapter] : layers) {
          if (file.find(name))
            throwValue("layer '" + name + "' appears twice");
          file.set(name, {adapter.getFlatIndices(), adapter.values});
        }
        check(file.save(path), "save_adapters");
      },
      "layers"_a, "path"_a);

  m.def(
      "load_adapters",
      [](const std::string &path) {
        AdapterFile file = unwrap(AdapterFile::load(path), "load_adapters");
        nb::dict out;
        for (const auto &[name, entry] : file.getEntries())
          out[nb::str(name.c_str())] = nb::make_tuple(
              toNumpy(entry.indices, {entry.indices.size()}, true),
              toNumpy(entry.values, {entry.values.size()}, true));
        return out;
      },
      "path"_a);

  //===--------------------------------------------------------------------===//
  // IR
  //===--------------------------------------------------------------------===//
  nb::class_<IRContext>(m, "Context").def(nb::init<>());

  nb::class_<IRModule>(m, "Module")
      .def_static(
          "parse",
          [](nb::object ctx, const std::string &text) {
            return parseModule(
                ctx, llvm::MemoryBuffer::getMemBufferCopy(text, "<string>"),
                "module text");
          },
          "context"_a, "text"_a)
      .def_static(
          "parse_file",
          [](nb::object ctx, const std::string &path) {
            auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
            if (!buf)
              throwValue("cannot read '" + path +
                         "': " + buf.getError().message());
            return parseModule(ctx, std::move(*buf), "'" + path + "'");
          },
          "context"_a, "path"_a)
      .def_prop_ro("context", [](IRModule &m) { return m.contextObject; })
      .def("__str__", &IRModule::str)
      .def("verify",
           [](IRModule &m) {
             DiagnosticCollector diags(m.getContext().context.get());
             if (mlir::failed(mlir::verify(*m.module)))
               throwIR("module failed to verify", diags);
           })
      .def(
          "run_pipeline",
          [](IRModule &m, const std::string &pipeline) {
            registerPasses();
            mlir::MLIRContext *ctx = m.getContext().context.get();
            DiagnosticCollector diags(ctx);
            std::string parseErrors;
            llvm::raw_string_ostream os(parseErrors);
            mlir::FailureOr<mlir::OpPassManager> parsed =
                mlir::parsePassPipeline(pipeline, os);
            if (mlir::failed(parsed))
              throwValue("invalid pass pipeline '" + pipeline +
                         "': " + parseErrors);
            mlir::PassManager pm(ctx, parsed->getOpAnchorName());
            static_cast<mlir::OpPassManager &>(pm) = std::move(*parsed);
            mlir::LogicalResult result = mlir::failure();
            {
              nb::gil_scoped_release release;
              result = pm.run(*m.module);
            }
            if (mlir::failed(result))
              throwIR("pass pipeline '" + pipeline + "' failed", diags);
          },
          "pipeline"_a)
      .def(
          "calibrate",
          [](IRModule &m, const std::string &samplesPath,
             const std::string &function, const std::string &layers,
             int64_t maxSamples) {
            registerPasses();
            DiagnosticCollector diags(m.getContext().context.get());
            llvm::Expected<SafetensorsFile> samples =
                SafetensorsFile::open(samplesPath);
            if (!samples)
              check(samples.takeError(), "samples");
            CalibrationRunOptions options;
            options.function = function;
            options.layers = layers;
            options.maxSamples = maxSamples;
            llvm::Expected<CalibrationStore> store =
                runCalibration(*m.module, *samples, options);
            if (!store) {
              std::string message = llvm::toString(store.takeError());
              throwIR("calibration failed: " + message, diags);
            }
            nb::dict out;
            for (const auto &[name, entry] : store->getEntries()) {
              size_t d = entry.features;
              out[nb::str(name.c_str())] = nb::make_tuple(
                  toNumpy(entry.hessian.vec(), {d, d}), entry.samples);
            }
            return out;
          },
          "samples"_a, "function"_a, "layers"_a, "max_samples"_a);
}
