//===- GraphBuilder.cpp - Tensor-level building blocks of models ----------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "GraphBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <limits>

using namespace mlir;
using namespace qwha::import;

namespace {

AffineMap mapOf(MLIRContext *context, unsigned numLoops,
                ArrayRef<AffineExpr> results) {
  return AffineMap::get(numLoops, 0, results, context);
}

/// The dims d_i for each i in `dims`.
AffineMap dimsMap(MLIRContext *context, unsigned numLoops,
                  ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> results;
  for (unsigned d : dims)
    results.push_back(getAffineDimExpr(d, context));
  return mapOf(context, numLoops, results);
}

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

constexpr double kLowest = std::numeric_limits<float>::lowest();

} // namespace

Value GraphBuilder::f32(double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value GraphBuilder::empty(ArrayRef<int64_t> shape) {
  return tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
}

Value GraphBuilder::filled(ArrayRef<int64_t> shape, double value) {
  return linalg::FillOp::create(b, loc, ValueRange{f32(value)},
                                ValueRange{empty(shape)})
      .getResult(0);
}

Value GraphBuilder::constant(StringRef key, ArrayRef<int64_t> shape,
                             ArrayRef<float> values) {
  auto type = RankedTensorType::get(shape, b.getF32Type());
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(float)),
      alignof(float));
  auto attr = DenseResourceElementsAttr::get(type, key, std::move(blob));
  return arith::ConstantOp::create(b, loc, cast<TypedAttr>(attr));
}

Value GraphBuilder::constantView(StringRef key, ArrayRef<int64_t> shape,
                                 ArrayRef<char> bytes,
                                 std::shared_ptr<const void> owner) {
  auto type = RankedTensorType::get(shape, b.getF32Type());
  AsmResourceBlob blob = UnmanagedAsmResourceBlob::allocateWithAlign(
      bytes, alignof(float),
      [owner = std::move(owner)](void *, size_t, size_t) mutable {
        owner.reset();
      });
  auto attr = DenseResourceElementsAttr::get(type, key, std::move(blob));
  return arith::ConstantOp::create(b, loc, cast<TypedAttr>(attr));
}

Value GraphBuilder::generic(ArrayRef<int64_t> shape, ValueRange inputs,
                            ArrayRef<AffineMap> inputMaps, Value init,
                            AffineMap outputMap, unsigned numLoops,
                            BodyFn body) {
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(outputMap);
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::parallel);
  for (unsigned d = 0; d < numLoops; ++d)
    if (!outputMap.isFunctionOfDim(d))
      iterators[d] = utils::IteratorType::reduction;
  if (!init)
    init = empty(shape);
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value result = body(nested, nestedLoc, args);
        linalg::YieldOp::create(nested, nestedLoc, result);
      });
  return op.getResult(0);
}

Value GraphBuilder::elementwise(ValueRange inputs, BodyFn body) {
  ArrayRef<int64_t> shape = shapeOf(inputs.front());
  AffineMap identity = b.getMultiDimIdentityMap(shape.size());
  SmallVector<AffineMap> maps(inputs.size(), identity);
  return generic(shape, inputs, maps, Value(), identity, shape.size(), body);
}

Value GraphBuilder::add(Value lhs, Value rhs) {
  return elementwise({lhs, rhs}, [](OpBuilder &nb, Location l, ValueRange a) {
    return arith::AddFOp::create(nb, l, a[0], a[1]).getResult();
  });
}

Value GraphBuilder::mul(Value lhs, Value rhs) {
  return elementwise({lhs, rhs}, [](OpBuilder &nb, Location l, ValueRange a) {
    return arith::MulFOp::create(nb, l, a[0], a[1]).getResult();
  });
}

Value GraphBuilder::linear(Value x, Value weight, Value bias, StringRef name) {
  ArrayRef<int64_t> weightShape = shapeOf(weight);
  const int64_t n = weightShape[0], k = weightShape[1];
  const int64_t tokens = shapeOf(x)[0];
  Value transposed =
      linalg::TransposeOp::create(b, loc, weight, empty({k, n}),
                                  ArrayRef<int64_t>{1, 0})
          ->getResult(0);
  Value init = filled({tokens, n}, 0.0);
  auto matmul = linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                         ValueRange{x, transposed},
                                         ValueRange{init});
  matmul->setAttr("qwha.name", b.getStringAttr(name));
  Value y = matmul.getResult(0);
  if (!bias)
    return y;
  MLIRContext *ctx = b.getContext();
  return generic({tokens, n}, {y, bias},
                 {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {1})}, Value(),
                 dimsMap(ctx, 2, {0, 1}), 2,
                 [](OpBuilder &nb, Location l, ValueRange a) {
                   return arith::AddFOp::create(nb, l, a[0], a[1]).getResult();
                 });
}

Value GraphBuilder::activation(Value x, StringRef name) {
  if (name == "gelu") {
    // The exact form: x/2 (1 + erf(x / sqrt 2)), as torch's default GELU.
    return elementwise({x}, [](OpBuilder &nb, Location l, ValueRange a) {
      auto c = [&](double v) {
        return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(v));
      };
      Value scaled = arith::MulFOp::create(nb, l, a[0], c(M_SQRT1_2));
      Value erf = math::ErfOp::create(nb, l, scaled);
      Value onePlus = arith::AddFOp::create(nb, l, erf, c(1.0));
      Value half = arith::MulFOp::create(nb, l, a[0], c(0.5));
      return arith::MulFOp::create(nb, l, half, onePlus).getResult();
    });
  }
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") {
    return elementwise({x}, [](OpBuilder &nb, Location l, ValueRange a) {
      auto c = [&](double v) {
        return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(v));
      };
      Value cube = arith::MulFOp::create(
          nb, l, a[0], arith::MulFOp::create(nb, l, a[0], a[0]));
      Value inner = arith::AddFOp::create(
          nb, l, a[0], arith::MulFOp::create(nb, l, cube, c(0.044715)));
      Value t = math::TanhOp::create(
          nb, l, arith::MulFOp::create(nb, l, inner, c(0.7978845608028654)));
      Value onePlus = arith::AddFOp::create(nb, l, t, c(1.0));
      Value half = arith::MulFOp::create(nb, l, a[0], c(0.5));
      return arith::MulFOp::create(nb, l, half, onePlus).getResult();
    });
  }
  if (name == "relu") {
    return elementwise({x}, [](OpBuilder &nb, Location l, ValueRange a) {
      Value zero = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
      return arith::MaximumFOp::create(nb, l, a[0], zero).getResult();
    });
  }
  assert(name == "silu" && "the config reader admits no other activation");
  return elementwise({x}, [](OpBuilder &nb, Location l, ValueRange a) {
    Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1));
    Value negated = arith::NegFOp::create(nb, l, a[0]);
    Value denominator =
        arith::AddFOp::create(nb, l, one, math::ExpOp::create(nb, l, negated));
    return arith::DivFOp::create(nb, l, a[0], denominator).getResult();
  });
}

Value GraphBuilder::reduceRows(Value x, Value other, double start,
                               BodyFn body) {
  MLIRContext *ctx = b.getContext();
  const int64_t rows = shapeOf(x)[0];
  SmallVector<Value> inputs = {x};
  SmallVector<AffineMap> maps = {dimsMap(ctx, 2, {0, 1})};
  if (other) {
    inputs.push_back(other);
    maps.push_back(dimsMap(ctx, 2, {0}));
  }
  return generic({rows}, inputs, maps, filled({rows}, start),
                 dimsMap(ctx, 2, {0}), 2, body);
}

Value GraphBuilder::layerNorm(Value x, Value gamma, Value beta, double eps) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(x);
  const double width = shape[1];
  Value sum = reduceRows(x, Value(), 0.0,
                         [](OpBuilder &nb, Location l, ValueRange a) {
                           return arith::AddFOp::create(nb, l, a[0], a[1])
                               .getResult();
                         });
  auto centered = [width](OpBuilder &nb, Location l, Value v, Value total) {
    Value mean = arith::DivFOp::create(
        nb, l, total,
        arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(width)));
    return arith::SubFOp::create(nb, l, v, mean).getResult();
  };
  Value squares = reduceRows(
      x, sum, 0.0, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value d = centered(nb, l, a[0], a[1]);
        return arith::AddFOp::create(nb, l, a[2],
                                     arith::MulFOp::create(nb, l, d, d))
            .getResult();
      });
  return generic(
      shape, {x, sum, squares, gamma, beta},
      {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {0}), dimsMap(ctx, 2, {0}),
       dimsMap(ctx, 2, {1}), dimsMap(ctx, 2, {1})},
      Value(), dimsMap(ctx, 2, {0, 1}), 2,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        auto c = [&](double v) {
          return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(v));
        };
        Value variance = arith::DivFOp::create(nb, l, a[2], c(width));
        Value rstd = math::RsqrtOp::create(
            nb, l, arith::AddFOp::create(nb, l, variance, c(eps)));
        Value normalized = arith::MulFOp::create(
            nb, l, centered(nb, l, a[0], a[1]), rstd);
        return arith::AddFOp::create(
                   nb, l, arith::MulFOp::create(nb, l, normalized, a[3]), a[4])
            .getResult();
      });
}

Value GraphBuilder::rmsNorm(Value x, Value weight, double eps) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(x);
  const double width = shape[1];
  Value squares = reduceRows(
      x, Value(), 0.0, [](OpBuilder &nb, Location l, ValueRange a) {
        return arith::AddFOp::create(nb, l, a[1],
                                     arith::MulFOp::create(nb, l, a[0], a[0]))
            .getResult();
      });
  return generic(shape, {x, squares, weight},
                 {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {0}),
                  dimsMap(ctx, 2, {1})},
                 Value(), dimsMap(ctx, 2, {0, 1}), 2,
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   auto c = [&](double v) {
                     return arith::ConstantOp::create(nb, l,
                                                      nb.getF32FloatAttr(v));
                   };
                   Value mean = arith::DivFOp::create(nb, l, a[1], c(width));
                   Value rstd = math::RsqrtOp::create(
                       nb, l, arith::AddFOp::create(nb, l, mean, c(eps)));
                   Value normalized = arith::MulFOp::create(nb, l, a[0], rstd);
                   return arith::MulFOp::create(nb, l, a[2], normalized)
                       .getResult();
                 });
}

Value GraphBuilder::embedding(Value ids, Value table) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> idShape = shapeOf(ids);
  ArrayRef<int64_t> tableShape = shapeOf(table);
  const int64_t tokens = idShape[0] * idShape[1];
  const int64_t rows = tableShape[0], width = tableShape[1];
  Value flat = collapse(ids, {{0, 1}});
  return generic(
      {tokens, width}, {flat}, {dimsMap(ctx, 2, {0})}, Value(),
      dimsMap(ctx, 2, {0, 1}), 2,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value zero = arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(0));
        Value limit =
            arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(rows));
        Value inRange = arith::AndIOp::create(
            nb, l,
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, a[0],
                                  zero),
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, a[0],
                                  limit));
        cf::AssertOp::create(nb, l, inRange,
                             "token id out of the embedding table's range");
        Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        Value column = linalg::IndexOp::create(nb, l, 1);
        return tensor::ExtractOp::create(nb, l, table, ValueRange{row, column})
            .getResult();
      });
}

Value GraphBuilder::addPerPosition(Value x, Value rows, int64_t seqLen) {
  MLIRContext *ctx = b.getContext();
  AffineExpr t = getAffineDimExpr(0, ctx), h = getAffineDimExpr(1, ctx);
  return generic(shapeOf(x), {x, rows},
                 {dimsMap(ctx, 2, {0, 1}), mapOf(ctx, 2, {t % seqLen, h})},
                 Value(), dimsMap(ctx, 2, {0, 1}), 2,
                 [](OpBuilder &nb, Location l, ValueRange a) {
                   return arith::AddFOp::create(nb, l, a[0], a[1]).getResult();
                 });
}

Value GraphBuilder::maskToBias(Value mask) {
  return elementwise({mask}, [](OpBuilder &nb, Location l, ValueRange a) {
    Value zero = arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(0));
    Value keep =
        arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ne, a[0], zero);
    return arith::SelectOp::create(
               nb, l, keep,
               arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.0)),
               arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(kLowest)))
        .getResult();
  });
}

Value GraphBuilder::rotary(Value x, Value cos, Value sinSigned) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(x);
  const int64_t dim = shape[3];
  AffineExpr bb = getAffineDimExpr(0, ctx), s = getAffineDimExpr(1, ctx),
             h = getAffineDimExpr(2, ctx), d = getAffineDimExpr(3, ctx);
  // rotate_half(x)[d] = -x[d + D/2] for d < D/2, x[d - D/2] after: one
  // affine map reads the partner and the sign lives in the sin table.
  return generic(shape, {x, x, cos, sinSigned},
                 {dimsMap(ctx, 4, {0, 1, 2, 3}),
                  mapOf(ctx, 4, {bb, s, h, (d + dim / 2) % dim}),
                  dimsMap(ctx, 4, {1, 3}), dimsMap(ctx, 4, {1, 3})},
                 Value(), dimsMap(ctx, 4, {0, 1, 2, 3}), 4,
                 [](OpBuilder &nb, Location l, ValueRange a) {
                   Value direct = arith::MulFOp::create(nb, l, a[0], a[2]);
                   Value rotated = arith::MulFOp::create(nb, l, a[1], a[3]);
                   return arith::AddFOp::create(nb, l, direct, rotated)
                       .getResult();
                 });
}

Value GraphBuilder::attention(Value q, Value k, Value v, AttentionMask mask,
                              Value keyBias, double scale) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> qShape = shapeOf(q); // [B, S, KV, G, D]
  const int64_t batch = qShape[0], seq = qShape[1], kv = qShape[2],
                group = qShape[3], dim = qShape[4];
  SmallVector<int64_t> scoreShape = {batch, kv, group, seq, seq};

  // scores[b, kv, g, i, j] = sum_d q[b, i, kv, g, d] k[b, j, kv, d]
  Value scores = generic(
      scoreShape, {q, k},
      {dimsMap(ctx, 6, {0, 3, 1, 2, 5}), dimsMap(ctx, 6, {0, 4, 1, 5})},
      filled(scoreShape, 0.0), dimsMap(ctx, 6, {0, 1, 2, 3, 4}), 6,
      [](OpBuilder &nb, Location l, ValueRange a) {
        return arith::AddFOp::create(nb, l, a[2],
                                     arith::MulFOp::create(nb, l, a[0], a[1]))
            .getResult();
      });

  AffineMap scoreMap = dimsMap(ctx, 5, {0, 1, 2, 3, 4});
  AffineMap rowMap = dimsMap(ctx, 5, {0, 1, 2, 3});
  Value logits;
  if (mask == AttentionMask::KeyBias) {
    logits = generic(scoreShape, {scores, keyBias},
                     {scoreMap, dimsMap(ctx, 5, {0, 4})}, Value(), scoreMap, 5,
                     [&](OpBuilder &nb, Location l, ValueRange a) {
                       Value scaled = arith::MulFOp::create(
                           nb, l, a[0],
                           arith::ConstantOp::create(
                               nb, l, nb.getF32FloatAttr(scale)));
                       return arith::AddFOp::create(nb, l, scaled, a[1])
                           .getResult();
                     });
  } else {
    logits = generic(
        scoreShape, {scores}, {scoreMap}, Value(), scoreMap, 5,
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value scaled = arith::MulFOp::create(
              nb, l, a[0],
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(scale)));
          Value i = linalg::IndexOp::create(nb, l, 3);
          Value j = linalg::IndexOp::create(nb, l, 4);
          Value future =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, j, i);
          return arith::SelectOp::create(
                     nb, l, future,
                     arith::ConstantOp::create(nb, l,
                                               nb.getF32FloatAttr(kLowest)),
                     scaled)
              .getResult();
        });
  }

  // Softmax over j, shifted by the row maximum.
  SmallVector<int64_t> rowShape = {batch, kv, group, seq};
  Value maximum = generic(rowShape, {logits}, {scoreMap},
                          filled(rowShape, kLowest), rowMap, 5,
                          [](OpBuilder &nb, Location l, ValueRange a) {
                            return arith::MaximumFOp::create(nb, l, a[0], a[1])
                                .getResult();
                          });
  Value exponentials = generic(
      scoreShape, {logits, maximum}, {scoreMap, rowMap}, Value(), scoreMap, 5,
      [](OpBuilder &nb, Location l, ValueRange a) {
        return math::ExpOp::create(nb, l,
                                   arith::SubFOp::create(nb, l, a[0], a[1]))
            .getResult();
      });
  Value sums = generic(rowShape, {exponentials}, {scoreMap},
                       filled(rowShape, 0.0), rowMap, 5,
                       [](OpBuilder &nb, Location l, ValueRange a) {
                         return arith::AddFOp::create(nb, l, a[0], a[1])
                             .getResult();
                       });
  Value probabilities = generic(
      scoreShape, {exponentials, sums}, {scoreMap, rowMap}, Value(), scoreMap,
      5, [](OpBuilder &nb, Location l, ValueRange a) {
        return arith::DivFOp::create(nb, l, a[0], a[1]).getResult();
      });

  // out[b, i, kv, g, d] = sum_j p[b, kv, g, i, j] v[b, j, kv, d]
  SmallVector<int64_t> outShape = {batch, seq, kv, group, dim};
  return generic(
      outShape, {probabilities, v},
      {dimsMap(ctx, 6, {0, 2, 3, 1, 5}), dimsMap(ctx, 6, {0, 5, 2, 4})},
      filled(outShape, 0.0), dimsMap(ctx, 6, {0, 1, 2, 3, 4}), 6,
      [](OpBuilder &nb, Location l, ValueRange a) {
        return arith::AddFOp::create(nb, l, a[2],
                                     arith::MulFOp::create(nb, l, a[0], a[1]))
            .getResult();
      });
}

Value GraphBuilder::expand(Value x, ArrayRef<int64_t> shape,
                           ArrayRef<ReassociationIndices> groups) {
  auto type = RankedTensorType::get(
      shape, cast<RankedTensorType>(x.getType()).getElementType());
  return tensor::ExpandShapeOp::create(b, loc, type, x, groups);
}

Value GraphBuilder::collapse(Value x, ArrayRef<ReassociationIndices> groups) {
  return tensor::CollapseShapeOp::create(b, loc, x, groups);
}
