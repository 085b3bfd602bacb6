// RUN: qwha-opt %s -split-input-file -qwha-raise-linear | FileCheck %s

// torch-mlir's nn.Linear: transpose of an [out, in] weight, then matmul into
// a zero-filled tensor. The weight is used as it is, named by qwha.name.
// CHECK-LABEL: func.func @torch_linear
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
// CHECK: %[[W:.*]] = arith.constant dense_resource<fc1_weight> : tensor<16x8xf32>
// CHECK-NOT: linalg
// CHECK: %[[Y:.*]] = qwha.linear "model.fc1" %[[X]], %[[W]] : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @torch_linear(%x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense_resource<fc1_weight> : tensor<16x8xf32>
  %e = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%e : tensor<8x16xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %i = tensor.empty() : tensor<4x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%i : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul {qwha.name = "model.fc1"} ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%f : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// A weight stored [in, out] is folded into a new [out, in] constant.
// CHECK-LABEL: func.func @in_out_weight
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK: qwha.linear "in_out_weight.linear0" %{{.*}}, %[[W]] : tensor<5x3xf32>, tensor<2x3xf32> -> tensor<5x2xf32>
func.func @in_out_weight(%x: tensor<5x3xf32>) -> tensor<5x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %zero = arith.constant dense<0.0> : tensor<5x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<5x3xf32>, tensor<3x2xf32>) outs(%zero : tensor<5x2xf32>) -> tensor<5x2xf32>
  return %y : tensor<5x2xf32>
}

// -----

// The same through a dense_resource: the folded blob holds the transposed
// bytes (rows 1 3 5 and 2 4 6 as f32).
// CHECK-LABEL: func.func @in_out_resource
// CHECK: arith.constant dense_resource<[[KEY:.*]]> : tensor<2x3xf32>
// CHECK: qwha.linear "proj"
// CHECK: [[KEY]]: "0x040000000000803F000040400000A04000000040000080400000C040"
func.func @in_out_resource(%x: tensor<5x3xf32>) -> tensor<5x2xf32> {
  %w = arith.constant dense_resource<w_kn> : tensor<3x2xf32>
  %zero = arith.constant dense<0.0> : tensor<5x2xf32>
  %y = linalg.matmul {qwha.name = "proj"} ins(%x, %w : tensor<5x3xf32>, tensor<3x2xf32>) outs(%zero : tensor<5x2xf32>) -> tensor<5x2xf32>
  return %y : tensor<5x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w_kn: "0x040000000000803F0000004000004040000080400000A0400000C040"
    }
  }
#-}

// -----

// A splat weight stays a splat whatever its layout: expanding a
// 3000000 x 2000000 splat to transpose it ran out of memory.
// CHECK-LABEL: func.func @huge_splat_weight
// CHECK: %[[W:.*]] = arith.constant dense<1.000000e+00> : tensor<2000000x3000000xf32>
// CHECK: qwha.linear "huge_splat_weight.linear0" %{{.*}}, %[[W]] : tensor<5x3000000xf32>, tensor<2000000x3000000xf32> -> tensor<5x2000000xf32>
func.func @huge_splat_weight(%x: tensor<5x3000000xf32>) -> tensor<5x2000000xf32> {
  %w = arith.constant dense<1.0> : tensor<3000000x2000000xf32>
  %zero = arith.constant dense<0.0> : tensor<5x2000000xf32>
  %y = linalg.matmul ins(%x, %w : tensor<5x3000000xf32>, tensor<3000000x2000000xf32>) outs(%zero : tensor<5x2000000xf32>) -> tensor<5x2000000xf32>
  return %y : tensor<5x2000000xf32>
}

// -----

// Floats narrower than a byte take one byte each in a dense attribute; the
// transpose moved zero-byte elements and left a zero weight.
// CHECK-LABEL: func.func @in_out_f4_weight
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e-01], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf4E2M1FN>
// CHECK: qwha.linear "in_out_f4_weight.linear0" %{{.*}}, %[[W]]
func.func @in_out_f4_weight(%x: tensor<5x3xf4E2M1FN>) -> tensor<5x2xf4E2M1FN> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [0.5, 6.0]]> : tensor<3x2xf4E2M1FN>
  %zero = arith.constant dense<0.0> : tensor<5x2xf4E2M1FN>
  %y = linalg.matmul ins(%x, %w : tensor<5x3xf4E2M1FN>, tensor<3x2xf4E2M1FN>) outs(%zero : tensor<5x2xf4E2M1FN>) -> tensor<5x2xf4E2M1FN>
  return %y : tensor<5x2xf4E2M1FN>
}

// -----

// IREE's input: a generic contraction over a 3-D activation, the weight
// indexed (n, k); the layer is named by its location.
#x = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (n, k)>
#y = affine_map<(b, s, n, k) -> (b, s, n)>
// CHECK-LABEL: func.func @iree_generic
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8xf16>)
// CHECK: %[[W:.*]] = arith.constant dense<1.000000e+00> : tensor<4x8xf16>
// CHECK: qwha.linear "encoder.layer.0.query" %[[X]], %[[W]] : tensor<2x3x8xf16>, tensor<4x8xf16> -> tensor<2x3x4xf16>
func.func @iree_generic(%x: tensor<2x3x8xf16>) -> tensor<2x3x4xf16> {
  %w = arith.constant dense<1.0> : tensor<4x8xf16>
  %zero = arith.constant 0.0 : f16
  %i = tensor.empty() : tensor<2x3x4xf16>
  %f = linalg.fill ins(%zero : f16) outs(%i : tensor<2x3x4xf16>) -> tensor<2x3x4xf16>
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x3x8xf16>, tensor<4x8xf16>) outs(%f : tensor<2x3x4xf16>) {
  ^bb0(%a: f16, %b: f16, %acc: f16):
    %m = arith.mulf %a, %b : f16
    %s = arith.addf %acc, %m : f16
    linalg.yield %s : f16
  } -> tensor<2x3x4xf16> loc("encoder.layer.0.query")
  return %y : tensor<2x3x4xf16>
}

// -----

// torch-mlir's 3-D input: the transposed weight broadcast over the batch
// feeds a batch_matmul; the broadcast and transpose fold away.
// CHECK-LABEL: func.func @batch_matmul_broadcast
// CHECK-SAME: (%[[X:.*]]: tensor<2x5x3xf32>)
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-NOT: linalg
// CHECK: qwha.linear "batch_matmul_broadcast.linear0" %[[X]], %[[W]] : tensor<2x5x3xf32>, tensor<2x3xf32> -> tensor<2x5x2xf32>
func.func @batch_matmul_broadcast(%x: tensor<2x5x3xf32>) -> tensor<2x5x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %wt = linalg.transpose ins(%w : tensor<2x3xf32>) outs(%e : tensor<3x2xf32>) permutation = [1, 0]
  %eb = tensor.empty() : tensor<2x3x2xf32>
  %wb = linalg.broadcast ins(%wt : tensor<3x2xf32>) outs(%eb : tensor<2x3x2xf32>) dimensions = [0]
  %zero = arith.constant 0.0 : f32
  %i = tensor.empty() : tensor<2x5x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%i : tensor<2x5x2xf32>) -> tensor<2x5x2xf32>
  %y = linalg.batch_matmul ins(%x, %wb : tensor<2x5x3xf32>, tensor<2x3x2xf32>) outs(%f : tensor<2x5x2xf32>) -> tensor<2x5x2xf32>
  return %y : tensor<2x5x2xf32>
}

// -----

// A unit batch dimension added by a reshape is dropped.
// CHECK-LABEL: func.func @unit_batch_reshape
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: qwha.linear "unit_batch_reshape.linear0" %{{.*}}, %[[W]] : tensor<1x3x2xf32>, tensor<2x2xf32> -> tensor<1x3x2xf32>
func.func @unit_batch_reshape(%x: tensor<1x3x2xf32>) -> tensor<1x3x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %w3 = tensor.expand_shape %w [[0, 1], [2]] output_shape [1, 2, 2] : tensor<2x2xf32> into tensor<1x2x2xf32>
  %zero = arith.constant dense<0.0> : tensor<1x3x2xf32>
  %y = linalg.batch_matmul ins(%x, %w3 : tensor<1x3x2xf32>, tensor<1x2x2xf32>) outs(%zero : tensor<1x3x2xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// matvec is W x; vecmat is x W with W [in, out]; matmul can also name the
// transposed weight through its indexing maps.
// CHECK-LABEL: func.func @vector_forms
// CHECK-DAG: %[[WNK:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00], [5.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
// CHECK-DAG: %[[WKN:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
// CHECK: qwha.linear "vector_forms.linear0" %{{.*}}, %[[WNK]] : tensor<2xf32>, tensor<3x2xf32> -> tensor<3xf32>
// CHECK: qwha.linear "vector_forms.linear1" %{{.*}}, %[[WKN]] : tensor<2xf32>, tensor<3x2xf32> -> tensor<3xf32>
// CHECK: qwha.linear "vector_forms.linear2" %{{.*}}, %[[WNK]] : tensor<4x2xf32>, tensor<3x2xf32> -> tensor<4x3xf32>
func.func @vector_forms(%v: tensor<2xf32>, %m: tensor<4x2xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<4x3xf32>) {
  %nk = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %kn = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %z3 = arith.constant dense<0.0> : tensor<3xf32>
  %z43 = arith.constant dense<0.0> : tensor<4x3xf32>
  %0 = linalg.matvec ins(%nk, %v : tensor<3x2xf32>, tensor<2xf32>) outs(%z3 : tensor<3xf32>) -> tensor<3xf32>
  %1 = linalg.vecmat ins(%v, %kn : tensor<2xf32>, tensor<2x3xf32>) outs(%z3 : tensor<3xf32>) -> tensor<3xf32>
  %2 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%m, %nk : tensor<4x2xf32>, tensor<3x2xf32>) outs(%z43 : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %0, %1, %2 : tensor<3xf32>, tensor<3xf32>, tensor<4x3xf32>
}

// -----

// Generated names count every linear layer of the function in order, named
// or not; a weight shared by two layers is folded once.
// CHECK-LABEL: func.func @naming_and_sharing
// CHECK-COUNT-1: arith.constant dense<{{.*}}> : tensor<2x2xf32>
// CHECK-NOT: arith.constant dense<{{.*}}> : tensor<2x2xf32>
// CHECK: qwha.linear "naming_and_sharing.linear0"
// CHECK: qwha.linear "attn.out"
// CHECK: qwha.linear "naming_and_sharing.linear2"
func.func @naming_and_sharing(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant dense<0.0> : tensor<1x2xf32>
  %0 = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %1 = linalg.matmul {qwha.name = "attn.out"} ins(%0, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %2 = linalg.matmul ins(%1, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %2 : tensor<1x2xf32>
}

// -----

// A layer applied twice (same name, same weight) keeps one name.
// CHECK-LABEL: func.func @reused_layer
// CHECK: qwha.linear "block.mlp"
// CHECK: qwha.linear "block.mlp"
func.func @reused_layer(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %zero = arith.constant dense<0.0> : tensor<1x2xf32>
  %0 = linalg.matmul {qwha.name = "block.mlp"} ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  %1 = linalg.matmul {qwha.name = "block.mlp"} ins(%0, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%zero : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %1 : tensor<1x2xf32>
}

// -----

// Dynamic rows stay dynamic; reshapes on the activation side stay.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK: tensor.collapse_shape
// CHECK: qwha.linear "dynamic_rows.linear0" %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<3x4xf32> -> tensor<?x3xf32>
// CHECK: tensor.expand_shape
func.func @dynamic_rows(%x: tensor<?x5x4xf32>, %b: index) -> tensor<?x5x3xf32> {
  %w = arith.constant dense<2.0> : tensor<3x4xf32>
  %e = tensor.empty() : tensor<4x3xf32>
  %wt = linalg.transpose ins(%w : tensor<3x4xf32>) outs(%e : tensor<4x3xf32>) permutation = [1, 0]
  %flat = tensor.collapse_shape %x [[0, 1], [2]] : tensor<?x5x4xf32> into tensor<?x4xf32>
  %rows = tensor.dim %flat, %b : tensor<?x4xf32>
  %zero = arith.constant 0.0 : f32
  %i = tensor.empty(%rows) : tensor<?x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%i : tensor<?x3xf32>) -> tensor<?x3xf32>
  %y = linalg.matmul ins(%flat, %wt : tensor<?x4xf32>, tensor<4x3xf32>) outs(%f : tensor<?x3xf32>) -> tensor<?x3xf32>
  %batch = tensor.dim %x, %b : tensor<?x5x4xf32>
  %out = tensor.expand_shape %y [[0, 1], [2]] output_shape [%batch, 5, 3] : tensor<?x3xf32> into tensor<?x5x3xf32>
  return %out : tensor<?x5x3xf32>
}

// -----

// Not linear layers, left alone: attention scores (no constant), a weight
// that is a function argument, a bias folded into the accumulator, mixed
// precision, a max-plus body, and weights that differ across the batch.
// CHECK-LABEL: func.func @negative
// CHECK-NOT: qwha.linear
// CHECK-COUNT-4: linalg.matmul
// CHECK: linalg.generic
// CHECK: linalg.batch_matmul
// CHECK-NOT: qwha.linear
func.func @negative(%q: tensor<4x8xf32>, %kt: tensor<8x4xf32>, %w: tensor<8x4xf32>, %acc: tensor<4x4xf32>, %xh: tensor<4x8xf16>, %x3: tensor<2x4x8xf32>) {
  %zero = arith.constant dense<0.0> : tensor<4x4xf32>
  %c = arith.constant dense<1.0> : tensor<8x4xf32>
  %ch = arith.constant dense<1.0> : tensor<8x4xf16>
  %c3 = arith.constant dense<1.0> : tensor<2x8x4xf32>
  %z3 = arith.constant dense<0.0> : tensor<2x4x4xf32>
  %0 = linalg.matmul ins(%q, %kt : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = linalg.matmul ins(%q, %w : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = linalg.matmul ins(%q, %c : tensor<4x8xf32>, tensor<8x4xf32>) outs(%acc : tensor<4x4xf32>) -> tensor<4x4xf32>
  %3 = linalg.matmul ins(%xh, %ch : tensor<4x8xf16>, tensor<8x4xf16>) outs(%zero : tensor<4x4xf32>) -> tensor<4x4xf32>
  %4 = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %c : tensor<4x8xf32>, tensor<8x4xf32>) outs(%zero : tensor<4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %m = arith.maximumf %o, %s : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  %5 = linalg.batch_matmul ins(%x3, %c3 : tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%z3 : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  return
}
