//===- BertBuilder.cpp - BERT encoders (MiniLM) ---------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// transformers' BertModel in inference mode: embeddings (word + absolute
// position + token type 0) and LayerNorm, then post-norm encoder layers of
// self-attention and a GELU MLP. The result is the last hidden state;
// pooling is left to the caller, as sentence-transformers configures it
// outside the model.
//
//===----------------------------------------------------------------------===//

#include "ModelBuilders.h"

#include <cmath>

using namespace mlir;
using namespace qwha;
using namespace qwha::import;

void qwha::import::buildBert(GraphBuilder &graph, WeightLoader &weights,
                             const TransformerConfig &config,
                             const ImportOptions &options,
                             func::FuncOp function) {
  const int64_t batch = options.batch, seq = options.seqLen;
  const int64_t hidden = config.hiddenSize, heads = config.numHeads;
  const int64_t headDim = config.headDim, inner = config.intermediateSize;
  // BertModel checkpoints name tensors from the model; task models
  // (BertForMaskedLM, ...) put the encoder under "bert.".
  const std::string prefix =
      weights.has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  OpBuilder &b = graph.getBuilder();

  Value ids = function.getArgument(0);
  Value mask = function.getArgument(1);

  // Position and token-type embeddings do not depend on the input: one
  // [S, H] table of their sums.
  std::vector<float> positions =
      weights.read(prefix + "embeddings.position_embeddings.weight",
                   {config.maxPositions, hidden});
  std::vector<float> types =
      weights.read(prefix + "embeddings.token_type_embeddings.weight",
                   {config.typeVocabSize, hidden});
  std::vector<float> perPosition(seq * hidden);
  if (!positions.empty() && !types.empty())
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t h = 0; h < hidden; ++h)
        perPosition[s * hidden + h] =
            positions[s * hidden + h] + types[h];
  Value x = graph.embedding(
      ids, weights.constant(prefix + "embeddings.word_embeddings.weight",
                            {config.vocabSize, hidden}));
  x = graph.addPerPosition(
      x,
      graph.constant(prefix + "embeddings.position_and_token_type", {seq, hidden},
                     perPosition),
      seq);
  auto layerNorm = [&](Value input, const std::string &name) {
    return graph.layerNorm(input, weights.constant(name + ".weight", {hidden}),
                           weights.constant(name + ".bias", {hidden}),
                           config.normEps);
  };
  auto linear = [&](Value input, const std::string &name, int64_t out,
                    int64_t in) {
    return graph.linear(input, weights.constant(name + ".weight", {out, in}),
                        weights.constant(name + ".bias", {out}), name);
  };
  x = layerNorm(x, prefix + "embeddings.LayerNorm");
  Value keyBias = graph.maskToBias(mask);

  for (int64_t layer = 0; layer < config.numLayers; ++layer) {
    const std::string at = prefix + "encoder.layer." + std::to_string(layer);
    graph.setLoc(NameLoc::get(b.getStringAttr(at)));
    Value q = linear(x, at + ".attention.self.query", hidden, hidden);
    Value k = linear(x, at + ".attention.self.key", hidden, hidden);
    Value v = linear(x, at + ".attention.self.value", hidden, hidden);
    Value context = graph.attention(
        graph.expand(q, {batch, seq, heads, 1, headDim}, {{0, 1}, {2, 3, 4}}),
        graph.expand(k, {batch, seq, heads, headDim}, {{0, 1}, {2, 3}}),
        graph.expand(v, {batch, seq, heads, headDim}, {{0, 1}, {2, 3}}),
        AttentionMask::KeyBias, keyBias, 1.0 / std::sqrt(double(headDim)));
    context = graph.collapse(context, {{0, 1}, {2, 3, 4}});
    Value attended = linear(context, at + ".attention.output.dense", hidden,
                            hidden);
    x = layerNorm(graph.add(attended, x), at + ".attention.output.LayerNorm");
    Value up = graph.activation(
        linear(x, at + ".intermediate.dense", inner, hidden),
        config.hiddenAct);
    Value down = linear(up, at + ".output.dense", hidden, inner);
    x = layerNorm(graph.add(down, x), at + ".output.LayerNorm");
  }
  graph.setLoc(function.getLoc());
  Value out = graph.expand(x, {batch, seq, hidden}, {{0, 1}, {2}});
  func::ReturnOp::create(b, graph.getLoc(), out);
}
