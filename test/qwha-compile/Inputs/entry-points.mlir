// Public functions covering each way a value crosses the C interface; the
// C program abi.c calls every one of them.
#id1 = affine_map<(i) -> (i)>
#id2 = affine_map<(i, j) -> (i, j)>

// Several results, one of them scalar; a dynamic dimension; scalar
// arguments by value.
func.func @scale(%x: tensor<?x3xf32>, %s: f32, %n: index) -> (tensor<?x3xf32>, f32, i64) {
  %e = tensor.empty(%n) : tensor<?x3xf32>
  %y = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x3xf32>) outs(%e : tensor<?x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.mulf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<?x3xf32>
  %c1 = arith.constant 1 : index
  %v = tensor.extract %y[%c1, %c1] : tensor<?x3xf32>
  %ni = arith.index_cast %n : index to i64
  return %y, %v, %ni : tensor<?x3xf32>, f32, i64
}

// One scalar result: returned by value.
func.func @axpb(%a: i32, %b: f64) -> f64 {
  %af = arith.sitofp %a : i32 to f64
  %r = arith.addf %af, %b : f64
  return %r : f64
}

// Updates its tensor argument in place: the caller's buffer must not change.
func.func @doubled(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.generic {indexing_maps = [#id1], iterator_types = ["parallel"]}
      outs(%x : tensor<4xf32>) {
  ^bb0(%o: f32):
    %r = arith.addf %o, %o : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// The same value twice: both descriptors share one allocation.
func.func @twice(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %y = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %y, %y : tensor<4xf32>, tensor<4xf32>
}

// A constant and an argument returned as they are: still fresh buffers.
func.func @constant() -> tensor<4xf32> {
  %c = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  return %c : tensor<4xf32>
}
func.func @identity(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// A strided slice: its copy calls memrefCopy from MLIR's runner utilities.
func.func @corner(%x: tensor<4x4xf32>) -> tensor<2x2xf32> {
  %s = tensor.extract_slice %x[1, 1] [2, 2] [1, 1] : tensor<4x4xf32> to tensor<2x2xf32>
  return %s : tensor<2x2xf32>
}

// Other element types, a memref argument and rank 0.
func.func @positive(%x: tensor<4xi8>, %h: memref<2xf16>, %z: tensor<f32>) -> (tensor<4xi1>, tensor<f32>) {
  %zero = arith.constant dense<0> : tensor<4xi8>
  %e = tensor.empty() : tensor<4xi1>
  %y = linalg.generic {indexing_maps = [#id1, #id1, #id1], iterator_types = ["parallel"]}
      ins(%x, %zero : tensor<4xi8>, tensor<4xi8>) outs(%e : tensor<4xi1>) {
  ^bb0(%a: i8, %b: i8, %o: i1):
    %r = arith.cmpi sgt, %a, %b : i8
    linalg.yield %r : i1
  } -> tensor<4xi1>
  return %y, %z : tensor<4xi1>, tensor<f32>
}

// Private functions are not entry points, whatever their types.
func.func private @helper(%x: tensor<*xf32>) {
  return
}
