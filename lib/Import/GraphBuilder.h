//===- GraphBuilder.h - Tensor-level building blocks of models --*- C++ -*-===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The layers transformer importers are made of, written once as linalg ops
// on f32 tensors: linear layers in the torch-mlir form qwha-raise-linear
// recognises, normalisations, activations, embeddings and attention. Token
// activations are 2-D `[tokens, features]`; attention reshapes to
// `[batch, seq, kv_heads, group, head_dim]` so grouped-query attention needs
// no copies of keys and values.
//
//===----------------------------------------------------------------------===//

#ifndef QWHA_LIB_IMPORT_GRAPHBUILDER_H
#define QWHA_LIB_IMPORT_GRAPHBUILDER_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

#include <memory>
#include <vector>

namespace qwha::import {

/// The attention mask an attention layer applies on top of its scores.
enum class AttentionMask {
  /// Keys masked by a per-sequence bias `[batch, seq]` (BERT padding).
  KeyBias,
  /// Key j is hidden from query i when j > i (decoders).
  Causal,
};

class GraphBuilder {
public:
  GraphBuilder(mlir::OpBuilder &builder, mlir::Location loc)
      : b(builder), loc(loc) {}

  mlir::OpBuilder &getBuilder() { return b; }
  mlir::Location getLoc() const { return loc; }
  /// Location of the ops built from now on (the layer being built).
  void setLoc(mlir::Location newLoc) { loc = newLoc; }

  /// An f32 `dense_resource` constant holding a copy of `values`.
  mlir::Value constant(llvm::StringRef key, llvm::ArrayRef<int64_t> shape,
                       llvm::ArrayRef<float> values);
  /// An f32 `dense_resource` constant over `bytes` without a copy; the blob
  /// keeps `owner` (what holds the bytes, e.g. the mapped checkpoint) alive.
  mlir::Value constantView(llvm::StringRef key, llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<char> bytes,
                           std::shared_ptr<const void> owner);
  /// An f32 `tensor.empty` of `shape`: a value of the right type that holds
  /// no data (scratch outputs, and placeholders after an import error).
  mlir::Value empty(llvm::ArrayRef<int64_t> shape);

  /// x [T, K] times weight [N, K]^T (plus bias [N]): `linalg.transpose` of
  /// the weight into a zero-filled `linalg.matmul` named `name`.
  mlir::Value linear(mlir::Value x, mlir::Value weight, mlir::Value bias,
                     llvm::StringRef name);

  mlir::Value add(mlir::Value lhs, mlir::Value rhs);
  mlir::Value mul(mlir::Value lhs, mlir::Value rhs);
  /// An activation by its Hugging Face name (gelu, gelu_new,
  /// gelu_pytorch_tanh, relu, silu), elementwise.
  mlir::Value activation(mlir::Value x, llvm::StringRef name);

  /// LayerNorm over the last dimension of x [T, H] (biased variance).
  mlir::Value layerNorm(mlir::Value x, mlir::Value gamma, mlir::Value beta,
                        double eps);
  /// RMSNorm (Llama): x * rsqrt(mean(x^2) + eps) * weight.
  mlir::Value rmsNorm(mlir::Value x, mlir::Value weight, double eps);

  /// table[ids[t], :] for ids [B, S] (i64) -> [B * S, H]. An id outside the
  /// table stops the program with a message (cf.assert).
  mlir::Value embedding(mlir::Value ids, mlir::Value table);
  /// x [B * S, H] plus rows [S, H] repeated for every sequence.
  mlir::Value addPerPosition(mlir::Value x, mlir::Value rows, int64_t seqLen);

  /// 0 where mask [B, S] (i64) is nonzero, the lowest float elsewhere.
  mlir::Value maskToBias(mlir::Value mask);

  /// Rotary embedding (rotate-half form) of x [B, S, heads, D] with tables
  /// cos [S, D] and sinSigned [S, D] (sin with the first half negated).
  mlir::Value rotary(mlir::Value x, mlir::Value cos, mlir::Value sinSigned);

  /// Scaled dot-product attention: q [B, S, KV, G, D], k and v
  /// [B, S, KV, D] -> [B, S, KV, G, D]. `keyBias` [B, S] for KeyBias masks.
  mlir::Value attention(mlir::Value q, mlir::Value k, mlir::Value v,
                        AttentionMask mask, mlir::Value keyBias, double scale);

  /// Reshapes that keep the row-major order.
  mlir::Value expand(mlir::Value x, llvm::ArrayRef<int64_t> shape,
                     llvm::ArrayRef<mlir::ReassociationIndices> groups);
  mlir::Value collapse(mlir::Value x,
                       llvm::ArrayRef<mlir::ReassociationIndices> groups);

private:
  using BodyFn = llvm::function_ref<mlir::Value(
      mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

  mlir::Value filled(llvm::ArrayRef<int64_t> shape, double value);
  mlir::Value f32(double value);
  /// A linalg.generic with one f32 result of `shape` whose loop dimensions
  /// are the result's followed by `reductions` more (reduced into `init`).
  /// `body` gets the input elements then the accumulator.
  mlir::Value generic(llvm::ArrayRef<int64_t> shape, mlir::ValueRange inputs,
                      llvm::ArrayRef<mlir::AffineMap> inputMaps,
                      mlir::Value init, mlir::AffineMap outputMap,
                      unsigned numLoops, BodyFn body);
  /// Elementwise over equally shaped tensors.
  mlir::Value elementwise(mlir::ValueRange inputs, BodyFn body);
  /// Reduces x [T, H] over H into [T], starting from `start`.
  mlir::Value reduceRows(mlir::Value x, mlir::Value other, double start,
                         BodyFn body);

  mlir::OpBuilder &b;
  mlir::Location loc;
};

} // namespace qwha::import

#endif // QWHA_LIB_IMPORT_GRAPHBUILDER_H
