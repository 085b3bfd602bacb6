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

#endif // QWHA_TRANSFORMS_PASSES_TD
