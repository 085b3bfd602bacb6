//===- Passes.td - QWHA transformation passes --------------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_TRANSFORMS_PASSES_TD
#define QWHA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def RaiseLinear : Pass<"qwha-raise-linear", "mlir::ModuleOp"> {
  let summary = "Raise linalg contractions with a constant weight to qwha.linear";
  let description = [{
    Finds the linear layers of a model graph as torch-mlir and IREE's input
    conversions write them and rewrites each to one canonical op,
    `qwha.linear`, whose weight is a constant `[out, in]` tensor, so that
    calibration, quantization and adapters match one thing.

    A layer is a `linalg.matmul`, `linalg.batch_matmul`, `linalg.matvec`,
    `linalg.vecmat` or contraction `linalg.generic` (multiply-add body, one
    reduction dimension) computing `y[..., n] = sum_k x[..., k] * W(n, k)`
    into a zero-filled output, where `W` is an `arith.constant` (dense or
    `dense_resource`) reached through `linalg.transpose`,
    `tensor.expand_shape`, `tensor.collapse_shape` and a `linalg.broadcast`
    over batch dimensions. Transposes and reshapes are folded into a new
    constant in nn.Linear layout (a `dense_resource` stays a
    `dense_resource`); a weight used by several layers is folded once.

    Each layer is named, in this order of preference, by the matched op's
    `qwha.name` string attribute, by the first name in its location
    (`loc("model.layers.0.mlp.up_proj")`), or `<function>.linear<N>` with N
    the layer's position among the function's linear layers. Two layers may
    share a name only if they share the weight (a tied or reused layer).

    Contractions of two activations (attention scores) are left alone. With
    `report-unmatched`, a contraction that has a constant operand but could
    not be raised gets a remark saying why.

    Before:

    ```mlir
    %wt = linalg.transpose ins(%w : tensor<16x8xf32>)
            outs(%e : tensor<8x16xf32>) permutation = [1, 0]
    %y = linalg.matmul {qwha.name = "fc1"}
           ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>)
           outs(%zero : tensor<4x16xf32>) -> tensor<4x16xf32>
    ```

    After:

    ```mlir
    %y = qwha.linear "fc1" %x, %w
           : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
    ```
  }];
  let options = [
    Option<"reportUnmatched", "report-unmatched", "bool", /*default=*/"false",
           "Emit a remark for each contraction with a constant operand that "
           "is not raised, saying why">,
  ];
  let dependentDialects = ["qwha::QWHADialect", "mlir::arith::ArithDialect"];
}

def FoldDequantize : Pass<"qwha-fold-dequantize"> {
  let summary = "Fold qwha.dequantize of constants into a float constant";
  let description = [{
    Replaces each `qwha.dequantize` whose codes, scales, zeros and group
    index are all constants by an `arith.constant` holding the float weight,
    computed by the numeric core (`qwha/Quant/QuantizedWeight.h`). This
    trades the memory saved by quantization for a float weight, so it is a
    separate pass, bounded by `max-elements`, rather than a fold that
    canonicalization would apply everywhere. Useful to compare a quantized
    model with its dequantized float twin.

    Before:

    ```mlir
    %w = qwha.dequantize %c, %s, %z group_size -1
        : tensor<2x2xi4>, tensor<2x1xf32>, tensor<2x1xf32> -> tensor<2x2xf32>
    ```

    After (with constant operands):

    ```mlir
    %w = arith.constant dense<[[...]]> : tensor<2x2xf32>
    ```
  }];
  let options = [
    Option<"maxElements", "max-elements", "int64_t", /*default=*/"1 << 24",
           "Largest weight (in elements) to fold; larger ones are kept">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def InstrumentCalibration : Pass<"qwha-instrument-calibration"> {
  let summary = "Tap the input of every linear layer with qwha.observe";
  let description = [{
    Inserts `qwha.observe "<layer>"` on the input of each named layer
    (`qwha.linear`, `qwha.qlinear`, `qwha.qlinear_wha`) whose name fully
    matches `layers`, so that running the graph records each layer's input
    statistics. A layer already tapped under its own name is left as it is,
    so the pass can run twice.

    Before:

    ```mlir
    %y = qwha.linear "fc1" %x, %w : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
    ```

    After:

    ```mlir
    %t = qwha.observe "fc1" %x : tensor<4x8xf32>
    %y = qwha.linear "fc1" %t, %w : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
    ```
  }];
  let dependentDialects = ["qwha::QWHADialect"];
  let options = [
    Option<"layers", "layers", "std::string", /*default=*/"\".*\"",
           "Regular expression a layer name must match in full to be tapped">,
  ];
}

def LowerCalibrationTaps : Pass<"qwha-lower-calibration-taps",
                                 "mlir::ModuleOp"> {
  let summary = "Turn qwha.observe into calls to the calibration runtime";
  let description = [{
    Prepares an instrumented graph for a calibration run. Each
    `qwha.observe "<layer>" %x` becomes

    ```mlir
    %u = tensor.cast %x32 : tensor<...xf32> to tensor<*xf32>
    func.call @qwha_observe_f32(%id, %u) : (i64, tensor<*xf32>) -> ()
    ```

    where `%x32` is `%x` converted to f32 when needed, and `%id` numbers the
    distinct layer names in order of appearance. The module records the
    names as `qwha.calibration_layers = ["<layer 0>", ...]`, which is how
    the runner maps ids back to layers. The callee is declared with
    `llvm.emit_c_interface`; lib/Runtime/CPU provides
    `_mlir_ciface_qwha_observe_f32`.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect",
    "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect"
  ];
}

class QuantizationOptions {
  list<Option> gridOptions = [
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "Code width in bits: 2, 3, 4 or 8">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "Input columns per group of scales and zeros, or -1 for one group "
           "per row">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"false",
           "Symmetric grids (zero point in the middle of the code range)">,
    Option<"mse", "mse", "bool", /*default=*/"false",
           "Shrink each grid's range to minimize the lp error (p = 2.4), as "
           "the reference's mse option">,
  ];
  list<Option> selectionOptions = [
    Option<"layers", "layers", "std::string", /*default=*/"\".*\"",
           "Regular expression a layer name must match in full">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"f32\"",
           "Element type of the scales: f32, f16 or bf16">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report of every layer to this file">,
    Option<"reportTimings", "report-timings", "bool", /*default=*/"true",
           "Include seconds per layer in the report (turn off for "
           "byte-identical reports)">,
    Option<"progress", "progress", "bool", /*default=*/"false",
           "Print one line per layer to stderr">,
    Option<"keepFloatWeight", "keep-float-weight", "bool", /*default=*/"false",
           "Keep each layer's float weight on its qwha.qlinear as "
           "qwha.float_weight, for qwha-wha-init">,
  ];
}

def GPTQ : Pass<"qwha-gptq", "mlir::ModuleOp">, QuantizationOptions {
  let summary = "Quantize linear layers with GPTQ from calibration statistics";
  let description = [{
    Rewrites each `qwha.linear` whose name matches `layers` into a
    `qwha.qlinear` over constant codes, scales and zero points computed by
    GPTQ (Frantar et al., 2022) from the layer's Hessian in the calibration
    file (`<layer>.hessian`, `<layer>.nsamples`; see `qwha-calibrate`). The
    algorithm and its options follow the reference implementation and
    GPTQModel: damping relative to the mean diagonal, raised automatically
    (and reported) while the Cholesky factorisation fails; lazy block
    updates; act-order with dynamic or static groups; MSE grids.

    A matching layer without statistics, with statistics of another width,
    with non-finite values, or with a Hessian that stays singular is an
    error naming the layer; nothing falls back to round-to-nearest.

    The report (JSON) gives, per layer, the shape, damping, dead columns,
    the objective tr((W-Q) H (W-Q)^T) of GPTQ and of round-to-nearest with
    the same grid, their relative output errors ||(W-Q)X||^2 / ||WX||^2,
    and the time taken.

    Example:

    ```
    qwha-opt model.mlir -qwha-gptq="calibration=calib.safetensors bits=3 group-size=64 report=gptq.json"
    ```
  }];
  let dependentDialects = ["qwha::QWHADialect", "mlir::arith::ArithDialect"];
  let options = !listconcat([
    Option<"calibration", "calibration", "std::string", /*default=*/"\"\"",
           "Calibration file (safetensors) written by qwha-calibrate">,
  ], gridOptions, [
    Option<"actOrder", "act-order", "bool", /*default=*/"true",
           "Process columns by decreasing Hessian diagonal (desc_act)">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"false",
           "Fix every group's grid before the column loop, in the original "
           "column order (no g_idx needed)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Damping relative to the mean Hessian diagonal">,
    Option<"dampIncrement", "damp-increment", "double", /*default=*/"0.0025",
           "Added to damp each time the Cholesky factorisation fails, up to 1">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per lazy update block">,
  ], selectionOptions);
}

def RTN : Pass<"qwha-rtn", "mlir::ModuleOp">, QuantizationOptions {
  let summary = "Quantize linear layers by rounding to the nearest grid point";
  let description = [{
    The baseline GPTQ improves on: each `qwha.linear` whose name matches
    `layers` becomes a `qwha.qlinear` whose codes round the weight to the
    same min-max (or MSE) grids GPTQ would use. No calibration is needed;
    with `calibration`, the report also gives each layer's objective and
    relative output error.

    Example:

    ```
    qwha-opt model.mlir -qwha-rtn="bits=4 group-size=128"
    ```
  }];
  let dependentDialects = ["qwha::QWHADialect", "mlir::arith::ArithDialect"];
  let options = !listconcat([
    Option<"calibration", "calibration", "std::string", /*default=*/"\"\"",
           "Optional calibration file, for objectives in the report">,
  ], gridOptions, selectionOptions);
}

def LoadGPTQ : Pass<"qwha-load-gptq", "mlir::ModuleOp"> {
  let summary = "Replace linear layers by the quantized weights of a GPTQ checkpoint";
  let description = [{
    Reads a GPTQ checkpoint directory (AutoGPTQ / GPTQModel layout:
    `quantize_config.json` and `model.safetensors`, or shards listed in
    `model.safetensors.index.json`) and rewrites each `qwha.linear` whose
    name has a `<name>.qweight` tensor into a `qwha.qlinear` over the
    unpacked codes, F16 scales, zero points and `g_idx` (dropped when it is
    the identity `k / group_size`). So models quantized elsewhere compile
    here; `qwha-export-gptq` writes the same layout.

    Every tensor is checked against the layer's shape and the config;
    a quantized layer in the checkpoint that the module does not have is an
    error, so that a renamed layer cannot be silently left in float.
  }];
  let dependentDialects = ["qwha::QWHADialect", "mlir::arith::ArithDialect"];
  let options = [
    Option<"checkpoint", "checkpoint", "std::string", /*default=*/"\"\"",
           "Checkpoint directory">,
  ];
}

def WHAInit : Pass<"qwha-wha-init", "mlir::ModuleOp"> {
  let summary = "Initialise Walsh-Hadamard adapters from the quantization error";
  let description = [{
    QWHA (arXiv 2509.17428): each `qwha.qlinear` whose name matches
    `layers` gets an adapter `F`, sparse, applied to the orthonormal
    Walsh-Hadamard transform of the layer's input: `y = W_q x + F (H x)`.
    `F` is initialised from the quantization error `E = W - W_q` (the float
    weight kept by `keep-float-weight=true` on the quantization pass) and
    the layer's Hessian from `calibration`:

    1. AdaAlloc: budget `p = rank * (in + out)` entries, row i getting a
       share proportional to `||(E X)_i||^alloc-power`;
    2. selection: the largest-magnitude entries of `E H^T` in each row
       (`selection=random` picks a seeded random support instead);
    3. refinement (`refine`): the values on that support minimizing the
       activation-weighted error, by damped Cholesky.

    The layer is rewritten into the unfused form

    ```mlir
    %y = qwha.qlinear "fc" %x, ...
    %h = qwha.fwht %x normalized : tensor<...>
    %a = qwha.sparse_linear %h, %rows, %cols, %vals : ...
    %z = linalg.add ins(%y, %a : ...) outs(%e : ...)
    ```

    which `qwha-fuse-adapters` turns into `qwha.qlinear_wha`. The report
    gives, per layer, the objective without adapter, after selection and
    after refinement, and their relative errors; `export` writes the
    adapters in the adapter file format (`<layer>.wha.indices`,
    `<layer>.wha.values`) for fine-tuning elsewhere.
  }];
  let dependentDialects = [
    "qwha::QWHADialect", "mlir::arith::ArithDialect",
    "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect"
  ];
  let options = [
    Option<"calibration", "calibration", "std::string", /*default=*/"\"\"",
           "Calibration file (qwha-calibrate) with each layer's Hessian">,
    Option<"rank", "rank", "int64_t", /*default=*/"64",
           "Budget of rank * (in + out) entries per layer (LoRA parity)">,
    Option<"allocPower", "alloc-power", "double", /*default=*/"1.0",
           "AdaAlloc exponent t: rows get budgets proportional to "
           "||(E X)_i||^t (0: uniform)">,
    Option<"refine", "refine", "bool", /*default=*/"true",
           "Refine the selected values by least squares">,
    Option<"selection", "selection", "std::string",
           /*default=*/"\"magnitude\"",
           "Support selection: magnitude (largest transform-domain errors) "
           "or random">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the random selection">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Relative damping of the refinement's least-squares systems">,
    Option<"layers", "layers", "std::string", /*default=*/"\".*\"",
           "Regular expression a layer name must match in full">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report of every layer to this file">,
    Option<"reportTimings", "report-timings", "bool", /*default=*/"true",
           "Include seconds per layer in the report">,
    Option<"exportFile", "export", "std::string", /*default=*/"\"\"",
           "Write the adapters to this adapter file">,
    Option<"keepFloatWeight", "keep-float-weight", "bool", /*default=*/"false",
           "Leave qwha.float_weight on the layers (dropped by default)">,
    Option<"progress", "progress", "bool", /*default=*/"false",
           "Print one line per layer to stderr">,
  ];
}

def LoadAdapters : Pass<"qwha-load-adapters", "mlir::ModuleOp"> {
  let summary = "Attach trained Walsh-Hadamard adapters from an adapter file";
  let description = [{
    Reads `<layer>.wha.indices` (I32, flat `row * in + col`) and
    `<layer>.wha.values` for each layer of the adapter file and attaches the
    adapter to the `qwha.qlinear` or `qwha.linear` of that name, in the same
    unfused form as `qwha-wha-init`. Indices out of range or repeated,
    mismatched lengths, other dtypes and non-finite values are errors that
    name the layer; so is an adapter for a layer the module does not have.
  }];
  let dependentDialects = [
    "qwha::QWHADialect", "mlir::arith::ArithDialect",
    "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect"
  ];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"\"\"",
           "Adapter file (safetensors)">,
  ];
}

def FuseAdapters : Pass<"qwha-fuse-adapters"> {
  let summary = "Fuse quantized layers with their adapters into qwha.qlinear_wha";
  let description = [{
    Rewrites `qlinear(x) + sparse_linear(fwht(x normalized))`, the sum a
    `linalg.add` or an `arith.addf` on tensors in either order, into one
    `qwha.qlinear_wha`, so that a lowering can compute the transform once
    per input row and add the adapter in the same pass over the output.
    The quantized layer and the adapter product must have no other users;
    the transform may be shared.
  }];
}

#endif // QWHA_TRANSFORMS_PASSES_TD
