//===- Passes.td - Passes that execute the model -----------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_CALIBRATION_PASSES_TD
#define QWHA_CALIBRATION_PASSES_TD

include "mlir/Pass/PassBase.td"

def Quantize : Pass<"qwha-quantize", "mlir::ModuleOp"> {
  let summary = "Calibrate on sample inputs and quantize every linear layer";
  let description = [{
    Runs the model on the samples in `inputs` (JIT-compiled for the CPU, as
    `qwha-calibrate` does), then quantizes each matching `qwha.linear` with
    `method` (gptq or rtn) from the statistics collected.

    With `sequential`, layers are calibrated and quantized one at a time in
    program order, each on the outputs of the already quantized layers
    before it, as the GPTQ reference does block by block: the statistics
    then include the error of earlier layers, which later layers correct.
    It runs the model once per layer.

    With `max-statistics-mib`, the statistics of at most that many MiB are
    held at once: layers are calibrated in groups (name order) that fit, the
    samples running once per group on the module as it was before the pass,
    and each group is quantized before the next is calibrated. The result is
    the same as without the bound; only the memory and the number of runs
    change.

    Example:

    ```
    qwha-opt model.mlir -qwha-raise-linear \
      -qwha-quantize="inputs=samples.safetensors function=forward bits=3 sequential"
    ```
  }];
  let options = [
    Option<"inputs", "inputs", "std::string", /*default=*/"\"\"",
           "Samples (safetensors): one tensor per function argument, shape "
           "[samples, <argument shape>]">,
    Option<"function", "function", "std::string", /*default=*/"\"\"",
           "Function to run (default: the only public one)">,
    Option<"maxSamples", "max-samples", "int64_t", /*default=*/"-1",
           "Use at most this many samples">,
    Option<"method", "method", "std::string", /*default=*/"\"gptq\"",
           "gptq or rtn">,
    Option<"sequential", "sequential", "bool", /*default=*/"false",
           "Calibrate each layer on the outputs of the quantized layers "
           "before it">,
    Option<"maxStatisticsMiB", "max-statistics-mib", "int64_t",
           /*default=*/"0",
           "Hold at most this many MiB of layer statistics at once (0: no "
           "bound)">,
    Option<"calibrationOutput", "calibration-output", "std::string",
           /*default=*/"\"\"",
           "Also write the statistics (not in sequential mode)">,
    Option<"bits", "bits", "unsigned", /*default=*/"4",
           "Code width in bits: 2, 3, 4 or 8">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "Input columns per group, or -1 for per-channel grids">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"false",
           "Symmetric grids">,
    Option<"mse", "mse", "bool", /*default=*/"false", "MSE grid search">,
    Option<"actOrder", "act-order", "bool", /*default=*/"true",
           "GPTQ: columns by decreasing Hessian diagonal">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"false",
           "GPTQ: fix group grids up front">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "GPTQ: damping relative to the mean Hessian diagonal">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "GPTQ: columns per lazy update block">,
    Option<"layers", "layers", "std::string", /*default=*/"\".*\"",
           "Regular expression a layer name must match in full">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"f32\"",
           "Element type of the scales: f32, f16 or bf16">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write a JSON report of every layer to this file">,
    Option<"reportTimings", "report-timings", "bool", /*default=*/"true",
           "Include seconds per layer in the report">,
    Option<"progress", "progress", "bool", /*default=*/"false",
           "Print one line per layer to stderr">,
  ];
}

#endif // QWHA_CALIBRATION_PASSES_TD
