//===- QWHAOps.td - QWHA operations -------------------------*- tablegen -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Operation constraints are checked in C++ verifiers (QWHAOps.cpp) rather
// than by narrow ODS type constraints, so that each broken rule gets its own
// message naming the operand, the expected and the actual value.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_DIALECT_QWHA_QWHAOPS_TD
#define QWHA_DIALECT_QWHA_QWHAOPS_TD

include "qwha/Dialect/QWHA/QWHADialect.td"
include "qwha/Dialect/QWHA/QWHAInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def QWHA_FloatTensor : RankedTensorOf<[AnyFloat]>;
def QWHA_IntegerTensor : RankedTensorOf<[AnySignlessInteger]>;
def QWHA_ZerosTensor : RankedTensorOf<[AnySignlessInteger, AnyFloat]>;

// Group sizes are signed: -1 means one group per row.
def QWHA_GroupSizeAttr : TypedSignlessIntegerAttrBase<I64, "int64_t",
    "group size: a divisor of the input features, or -1 for per-channel"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

//===----------------------------------------------------------------------===//
// Float and quantized linear layers
//===----------------------------------------------------------------------===//

def QWHA_LinearOp : QWHA_Op<"linear", [Pure, QWHA_LayerOpInterface]> {
  let summary = "Float linear layer `y = x W^T` over the last dimension";
  let description = [{
    The canonical float linear layer every matcher in the compiler looks for,
    in the nn.Linear convention: the weight is `[N, K]` (out, in) and

    ```
    result[..., n] = sum_k input[..., k] * weight[n, k]
    ```

    The input may have any number of leading (batch, sequence) dimensions;
    the result has the same leading dimensions and N as its last. `name` is
    the layer's name. `qwha-raise-linear` produces this op from linalg
    contractions whose weight is a constant.

    Example:

    ```mlir
    %y = qwha.linear "model.layers.0.mlp.up_proj" %x, %w
        : tensor<4x64xf32>, tensor<128x64xf32> -> tensor<4x128xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, QWHA_FloatTensor:$input,
                       QWHA_FloatTensor:$weight);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = [{
    $name $input `,` $weight attr-dict `:` type($input) `,` type($weight)
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def QWHA_QLinearOp : QWHA_Op<"qlinear",
    [Pure, QWHA_LayerOpInterface, QWHA_QuantizedWeightOpInterface]> {
  let summary = "Linear layer over a group-quantized integer weight";
  let description = [{
    A linear layer whose weight is stored as B-bit unsigned integer codes
    `[N, K]` with one scale and one zero point per row and group of input
    columns:

    ```
    result[..., n] = sum_k input[..., k]
                     * (codes[n, k] - zeros[n, g(k)]) * scales[n, g(k)]
    ```

    B (2, 3, 4 or 8) is the codes' element width. `g(k) = k / group_size`,
    or `g_idx[k]` when the optional group index is given (GPTQ act-order
    checkpoints store it as `g_idx`). `group_size = -1` means one group per
    row (a per-channel grid); scales and zeros are `[N, G]` with
    `G = K / group_size`. Zero points are either integer codes of the same
    type as `codes` or floats of the scales' type.

    Example (4-bit, groups of 32):

    ```mlir
    %y = qwha.qlinear "fc1" %x, %codes, %scales, %zeros group_size 32
        : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf16>, tensor<16x2xi4>
        -> tensor<2x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, QWHA_FloatTensor:$input,
                       QWHA_IntegerTensor:$codes, QWHA_FloatTensor:$scales,
                       QWHA_ZerosTensor:$zeros,
                       Optional<QWHA_IntegerTensor>:$g_idx,
                       QWHA_GroupSizeAttr:$group_size);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = [{
    $name $input `,` $codes `,` $scales `,` $zeros (`g_idx` $g_idx^)?
    `group_size` $group_size attr-dict `:` type($input) `,` type($codes) `,`
    type($scales) `,` type($zeros) (`,` type($g_idx)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def QWHA_DequantizeOp : QWHA_Op<"dequantize",
    [Pure, QWHA_QuantizedWeightOpInterface]> {
  let summary = "Float weight `[N, K]` of a group-quantized weight";
  let description = [{
    Materializes `W[n, k] = (codes[n, k] - zeros[n, g(k)]) * scales[n, g(k)]`
    with the grouping rules of `qwha.qlinear`. It serves the generic
    lowering (`qwha.qlinear` becomes `qwha.linear` of a dequantized weight)
    and checks. `qwha-fold-dequantize` folds it when all operands are
    constants.

    Example:

    ```mlir
    %w = qwha.dequantize %codes, %scales, %zeros group_size -1
        : tensor<16x64xi8>, tensor<16x1xf32>, tensor<16x1xf32>
        -> tensor<16x64xf32>
    ```
  }];
  let arguments = (ins QWHA_IntegerTensor:$codes, QWHA_FloatTensor:$scales,
                       QWHA_ZerosTensor:$zeros,
                       Optional<QWHA_IntegerTensor>:$g_idx,
                       QWHA_GroupSizeAttr:$group_size);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = [{
    $codes `,` $scales `,` $zeros (`g_idx` $g_idx^)? `group_size` $group_size
    attr-dict `:` type($codes) `,` type($scales) `,` type($zeros)
    (`,` type($g_idx)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Walsh-Hadamard adapters
//===----------------------------------------------------------------------===//

def QWHA_FWHTOp : QWHA_Op<"fwht", [Pure, SameOperandsAndResultType]> {
  let summary = "Walsh-Hadamard transform over the last dimension";
  let description = [{
    Multiplies every vector along the last dimension by the Hadamard matrix
    of order `d`: `result[..., i] = c * sum_j H_d[i, j] * input[..., j]` with
    `c = 1 / sqrt(d)` when `normalized` is set (the orthonormal transform)
    and `c = 1` otherwise.

    `d` must be static and of the form `2^n * m` where `m` is 1 or the order
    of a base Hadamard matrix the compiler can build (Paley constructions:
    12, 20, 28, 36, 44, 52, 60, 108, 140, 344, ...; see
    `qwha/Quant/Hadamard.h`). `H_d = H_{2^n} (x) H_m` with `H_{2^n}` the
    Sylvester matrix and the smallest such `m`; 11008 = 32 * 344 works.

    When `H_m` is symmetric (every power of two, and the Paley II orders)
    the normalized transform is its own inverse, and two in a row fold away.

    Example:

    ```mlir
    %h = qwha.fwht %x normalized : tensor<4x4096xf32>
    ```
  }];
  let arguments = (ins QWHA_FloatTensor:$input, UnitAttr:$normalized);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = "$input (`normalized` $normalized^)? attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QWHA_SparseLinearOp : QWHA_Op<"sparse_linear", [Pure]> {
  let summary = "Linear map by a sparse matrix stored compressed by rows";
  let description = [{
    `result[..., n] = sum_{p in [row_offsets[n], row_offsets[n+1])}
    values[p] * input[..., cols[p]]`: the product with a sparse `[N, K]`
    matrix `F` in CSR form. In a QWHA adapter `F` is applied to the
    Walsh-Hadamard transform of the layer input. `row_offsets` has N + 1
    entries; `cols` and `values` have one entry per stored element.

    Example:

    ```mlir
    %a = qwha.sparse_linear %h, %rows, %cols, %vals
        : tensor<2x64xf32>, tensor<17xi32>, tensor<40xi32>, tensor<40xf32>
        -> tensor<2x16xf32>
    ```
  }];
  let arguments = (ins QWHA_FloatTensor:$input,
                       QWHA_IntegerTensor:$row_offsets,
                       QWHA_IntegerTensor:$cols, QWHA_FloatTensor:$values);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $row_offsets `,` $cols `,` $values attr-dict `:` type($input)
    `,` type($row_offsets) `,` type($cols) `,` type($values) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def QWHA_QLinearWHAOp : QWHA_Op<"qlinear_wha",
    [Pure, QWHA_LayerOpInterface,
     QWHA_QuantizedWeightOpInterface]> {
  let summary = "Quantized linear layer fused with a Walsh-Hadamard adapter";
  let description = [{
    The QWHA layer `y = W_q x + F (H x)`: `qwha.qlinear` plus a sparse
    adapter `F` (CSR, as in `qwha.sparse_linear`) applied to the orthonormal
    Walsh-Hadamard transform of the same input. Fusing them lets a lowering
    compute the transform once per input row and add the adapter in the same
    pass over the output. `qwha-fuse-adapters` forms it.

    Example:

    ```mlir
    %y = qwha.qlinear_wha "fc1" %x, %codes, %scales, %zeros group_size 32
        adapter(%rows, %cols, %vals
                : tensor<17xi32>, tensor<40xi32>, tensor<40xf32>)
        : tensor<2x64xf32>, tensor<16x64xi4>, tensor<16x2xf32>,
          tensor<16x2xi4> -> tensor<2x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, QWHA_FloatTensor:$input,
                       QWHA_IntegerTensor:$codes, QWHA_FloatTensor:$scales,
                       QWHA_ZerosTensor:$zeros,
                       Optional<QWHA_IntegerTensor>:$g_idx,
                       QWHA_IntegerTensor:$row_offsets,
                       QWHA_IntegerTensor:$cols, QWHA_FloatTensor:$values,
                       QWHA_GroupSizeAttr:$group_size);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = [{
    $name $input `,` $codes `,` $scales `,` $zeros (`g_idx` $g_idx^)?
    `group_size` $group_size `adapter` `(` $row_offsets `,` $cols `,`
    $values `:` type($row_offsets) `,` type($cols) `,` type($values) `)`
    attr-dict `:` type($input) `,` type($codes) `,` type($scales) `,`
    type($zeros) (`,` type($g_idx)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Calibration
//===----------------------------------------------------------------------===//

def QWHA_ObserveOp : QWHA_Op<"observe",
    [MemoryEffects<[MemWrite]>, AllTypesMatch<["input", "result"]>]> {
  let summary = "Calibration tap: records statistics of a layer's input";
  let description = [{
    Returns its input unchanged and, when executed, accumulates the input
    statistics of layer `name` (the Hessian `H = (2/N) sum x x^T` over all
    rows of the input). `qwha-instrument-calibration` inserts one before each
    layer. It writes to the calibration store, so it is never removed or
    merged as dead or duplicate code.

    Example:

    ```mlir
    %x1 = qwha.observe "fc1" %x : tensor<4x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, QWHA_FloatTensor:$input);
  let results = (outs QWHA_FloatTensor:$result);
  let assemblyFormat = "$name $input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

#endif // QWHA_DIALECT_QWHA_QWHAOPS_TD
