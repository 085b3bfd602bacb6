// RUN: qwha-opt %s -split-input-file -qwha-raise-linear=report-unmatched -verify-diagnostics

// Two different weights cannot share a layer name: calibration and adapter
// files are keyed by it.
func.func @duplicate_name(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %a = arith.constant dense<1.0> : tensor<2x2xf32>
  %b = arith.constant dense<2.0> : tensor<2x2xf32>
  %zero = arith.constant dense<0.0> : tensor<1x2xf32>
  // expected-note @+1 {{first used here}}
  %0 = linalg.matmul {qwha.name = "fc"} ins(%x, %a : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-error @+1 {{layer name 'fc' is already used by a layer with a different weight}}
  %1 = linalg.matmul {qwha.name = "fc"} ins(%0, %b : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %1 : tensor<1x2xf32>
}

// -----

// A weight whose data was elided when the IR was printed cannot be folded.
func.func @elided_weight(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %w = arith.constant dense_resource<__elided__> : tensor<2x3xf32>
  %zero = arith.constant dense<0.0> : tensor<1x3xf32>
  // expected-error @+1 {{weight of layer 'elided_weight.linear0' has no data: its dense_resource blob is missing or elided}}
  %0 = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x3xf32>) outs(%zero : tensor<1x3xf32>) -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}

// -----

// A dense_resource blob is not checked against its type when it is parsed;
// transposing one shorter than the type read past its end (ASan).
func.func @short_blob(%x: tensor<5x3xf32>) -> tensor<5x2xf32> {
  %w = arith.constant dense_resource<w_short> : tensor<3x2xf32>
  %zero = arith.constant dense<0.0> : tensor<5x2xf32>
  // expected-error @+1 {{weight of layer 'short_blob.linear0': its dense_resource blob has 8 bytes, but 'tensor<3x2xf32>' needs 24}}
  %y = linalg.matmul ins(%x, %w : tensor<5x3xf32>, tensor<3x2xf32>) outs(%zero : tensor<5x2xf32>) -> tensor<5x2xf32>
  return %y : tensor<5x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w_short: "0x040000000000803F00000040"
    }
  }
#-}

// -----

// With report-unmatched, each contraction over a weight-like operand that is
// not raised says why.
func.func @unmatched(%x: tensor<4x8xf32>, %acc: tensor<4x4xf32>, %xh: tensor<4x8xf16>, %x3: tensor<2x4x8xf32>, %codes: tensor<8x4xi8>) {
  %zero = arith.constant dense<0.0> : tensor<4x4xf32>
  %c = arith.constant dense<1.0> : tensor<8x4xf32>
  %ch = arith.constant dense<1.0> : tensor<8x4xf16>
  %c3 = arith.constant dense<1.0> : tensor<2x8x4xf32>
  %z3 = arith.constant dense<0.0> : tensor<2x4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the output is not zero-filled, so the contraction accumulates into existing values}}
  %0 = linalg.matmul ins(%x, %c : tensor<4x8xf32>, tensor<8x4xf32>) outs(%acc : tensor<4x4xf32>) -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the body is not a multiply-add in one float type (it converts types or computes something else)}}
  %1 = linalg.matmul ins(%xh, %ch : tensor<4x8xf16>, tensor<8x4xf16>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the body is not a multiply-add in one float type}}
  %2 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %c : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %m = arith.maximumf %o, %s : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the weight differs across batch dimensions}}
  %3 = linalg.batch_matmul ins(%x3, %c3 : tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%z3 : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %e = tensor.empty() : tensor<8x4xf32>
  %dq = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%codes : tensor<8x4xi8>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%q: i8, %o: f32):
    %f = arith.uitofp %q : i8 to f32
    linalg.yield %f : f32
  } -> tensor<8x4xf32>
  %cq = arith.constant dense<1> : tensor<8x4xi8>
  %dqc = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%cq : tensor<8x4xi8>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%q: i8, %o: f32):
    %f = arith.uitofp %q : i8 to f32
    linalg.yield %f : f32
  } -> tensor<8x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the weight is computed by 'linalg.generic', not reached from a constant through transposes and reshapes}}
  %4 = linalg.matmul ins(%x, %dqc : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  // Two activations (attention scores) and a runtime weight: no remark.
  %5 = linalg.matmul ins(%x, %dq : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  return
}

// -----

func.func @unmatched_shapes(%x: tensor<4x8xf32>, %xt: tensor<8x4xf32>, %v: tensor<8xf32>) {
  %zero = arith.constant dense<0.0> : tensor<4x4xf32>
  %c = arith.constant dense<1.0> : tensor<8x4xf32>
  %row = arith.constant dense<1.0> : tensor<4xf32>
  %vec = arith.constant dense<1.0> : tensor<8xf32>
  %sparse = arith.constant sparse<[[0, 0]], [1.0]> : tensor<8x4xf32>
  %scalar = arith.constant dense<0.0> : tensor<f32>
  %dyn = tensor.cast %c : tensor<8x4xf32> to tensor<?x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the weight has a dynamic shape}}
  %0 = linalg.matmul ins(%x, %dyn : tensor<4x8xf32>, tensor<?x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  %e = tensor.empty() : tensor<8x4xf32>
  %b = linalg.broadcast ins(%row : tensor<4xf32>) outs(%e : tensor<8x4xf32>) dimensions = [0]
  // expected-remark @+1 {{not raised to qwha.linear: the weight is broadcast along n or k}}
  %1 = linalg.matmul ins(%x, %b : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the weight is not indexed by both n and k}}
  %2 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %vec : tensor<4x8xf32>, tensor<8xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %w: f32, %o: f32):
    %m = arith.mulf %a, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the activation is not indexed as [..., k] in the output's order}}
  %3 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xt, %c : tensor<8x4xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %w: f32, %o: f32):
    %m = arith.mulf %a, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the weight constant is neither dense nor dense_resource}}
  %4 = linalg.matmul ins(%x, %sparse : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the result is a scalar}}
  %5 = linalg.dot ins(%v, %vec : tensor<8xf32>, tensor<8xf32>) outs(%scalar : tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @unmatched_loops(%x: tensor<4x2x8xf32>, %x2: tensor<4x8xf32>) {
  %zero = arith.constant dense<0.0> : tensor<4x4xf32>
  %c3 = arith.constant dense<1.0> : tensor<2x8x4xf32>
  %c = arith.constant dense<1.0> : tensor<8x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the contraction must have exactly one reduction dimension}}
  %0 = linalg.generic {indexing_maps = [affine_map<(m, n, j, k) -> (m, j, k)>, affine_map<(m, n, j, k) -> (j, k, n)>, affine_map<(m, n, j, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %c3 : tensor<4x2x8xf32>, tensor<2x8x4xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %w: f32, %o: f32):
    %m = arith.mulf %a, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %c3b = arith.constant dense<1.0> : tensor<3x4x8xf32>
  // expected-remark @+1 {{not raised to qwha.linear: the weight is indexed by a loop the output does not have}}
  %2 = linalg.generic {indexing_maps = [affine_map<(m, n, b, k) -> (m, k)>, affine_map<(m, n, b, k) -> (b, n, k)>, affine_map<(m, n, b, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x2, %c3b : tensor<4x8xf32>, tensor<3x4x8xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %w: f32, %o: f32):
    %m = arith.mulf %a, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  // expected-remark @+1 {{not raised to qwha.linear: an indexing map is not a projected permutation}}
  %1 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, (n + m) mod 4)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x2, %c : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %w: f32, %o: f32):
    %m = arith.mulf %a, %w : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  return
}
