//===- LlamaBuilder.cpp - Llama-style decoders ----------------------------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// transformers' LlamaForCausalLM (and Mistral, Qwen2, SmolLM, which share
// its shape) in inference mode without a KV cache: token embeddings, then
// pre-norm decoder layers of causal grouped-query self-attention with rotary
// position embeddings and a SwiGLU MLP, a final RMSNorm and the LM head.
// Qwen2 adds biases to the q/k/v projections; Llama has them when
// `attention_bias` is set.
//
//===----------------------------------------------------------------------===//

#include "ModelBuilders.h"

#include <cmath>

using namespace mlir;
using namespace qwha;
using namespace qwha::import;

namespace {

/// Inverse frequencies base^(-2i/D) with transformers' RoPE scaling, in
/// float32 as transformers computes them.
std::vector<float> inverseFrequencies(int64_t dim, const TransformerConfig &c) {
  std::vector<float> inverse(dim / 2);
  const TransformerConfig::RopeScaling &scaling = c.ropeScaling;
  const float factor = float(scaling.factor);
  for (int64_t i = 0; i < dim / 2; ++i) {
    float exponent = float(2 * i) / float(dim);
    float f = 1.0f / std::pow(float(c.ropeTheta), exponent);
    if (scaling.type == "linear") {
      f /= factor;
    } else if (scaling.type == "llama3") {
      const float context = float(scaling.originalMaxPositions);
      const float low = float(scaling.lowFreqFactor);
      const float high = float(scaling.highFreqFactor);
      const float lowWavelength = context / low, highWavelength = context / high;
      const float wavelength = float(2 * M_PI) / f;
      float scaled = wavelength > lowWavelength ? f / factor : f;
      if (!(wavelength < highWavelength) && !(wavelength > lowWavelength)) {
        float smooth = (context / wavelength - low) / (high - low);
        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
      }
      f = scaled;
    }
    inverse[i] = f;
  }
  return inverse;
}

/// cos and sin tables [S, D] of the rotary embedding (angles position *
/// frequency, the half-table repeated); the sin table has its first half
/// negated for the rotate-half form.
void rotaryTables(int64_t seq, int64_t dim, const TransformerConfig &config,
                  std::vector<float> &cos, std::vector<float> &sinSigned) {
  cos.assign(seq * dim, 0);
  sinSigned.assign(seq * dim, 0);
  const int64_t half = dim / 2;
  std::vector<float> inverse = inverseFrequencies(dim, config);
  for (int64_t i = 0; i < half; ++i) {
    for (int64_t s = 0; s < seq; ++s) {
      float angle = float(s) * inverse[i];
      float c = std::cos(angle), sn = std::sin(angle);
      cos[s * dim + i] = cos[s * dim + i + half] = c;
      sinSigned[s * dim + i] = -sn;
      sinSigned[s * dim + i + half] = sn;
    }
  }
}

} // namespace

void qwha::import::buildLlama(GraphBuilder &graph, WeightLoader &weights,
                              const TransformerConfig &config,
                              const ImportOptions &options,
                              func::FuncOp function) {
  const int64_t batch = options.batch, seq = options.seqLen;
  const int64_t hidden = config.hiddenSize, heads = config.numHeads;
  const int64_t kvHeads = config.numKeyValueHeads, dim = config.headDim;
  const int64_t group = heads / kvHeads, inner = config.intermediateSize;
  OpBuilder &b = graph.getBuilder();
  // Biases are used exactly when transformers would use them (it ignores
  // bias tensors the config does not ask for): Qwen2 on q/k/v, Llama and
  // Mistral with attention_bias on q/k/v/o.
  const bool qkvBias = config.attentionBias;
  const bool outputBias =
      config.attentionBias && config.modelType != "qwen2";
  auto linear = [&](Value input, const std::string &name, int64_t out,
                    int64_t in, bool withBias) {
    return graph.linear(
        input, weights.constant(name + ".weight", {out, in}),
        withBias ? weights.constant(name + ".bias", {out}) : Value(), name);
  };
  auto rmsNorm = [&](Value input, const std::string &name) {
    return graph.rmsNorm(input, weights.constant(name + ".weight", {hidden}),
                         config.normEps);
  };

  std::vector<float> cosTable, sinTable;
  rotaryTables(seq, dim, config, cosTable, sinTable);
  Value cos = graph.constant("model.rotary_emb.cos", {seq, dim}, cosTable);
  Value sin = graph.constant("model.rotary_emb.sin_signed", {seq, dim},
                             sinTable);
  Value embed = weights.constant("model.embed_tokens.weight",
                                 {config.vocabSize, hidden});
  Value x = graph.embedding(function.getArgument(0), embed);

  for (int64_t layer = 0; layer < config.numLayers; ++layer) {
    const std::string at = "model.layers." + std::to_string(layer);
    graph.setLoc(NameLoc::get(b.getStringAttr(at)));
    Value h = rmsNorm(x, at + ".input_layernorm");
    const std::string attn = at + ".self_attn";
    Value q = linear(h, attn + ".q_proj", heads * dim, hidden, qkvBias);
    Value k = linear(h, attn + ".k_proj", kvHeads * dim, hidden, qkvBias);
    Value v = linear(h, attn + ".v_proj", kvHeads * dim, hidden, qkvBias);
    Value q4 = graph.rotary(
        graph.expand(q, {batch, seq, heads, dim}, {{0, 1}, {2, 3}}), cos, sin);
    Value k4 = graph.rotary(
        graph.expand(k, {batch, seq, kvHeads, dim}, {{0, 1}, {2, 3}}), cos,
        sin);
    Value v4 = graph.expand(v, {batch, seq, kvHeads, dim}, {{0, 1}, {2, 3}});
    Value context = graph.attention(
        graph.expand(q4, {batch, seq, kvHeads, group, dim},
                     {{0}, {1}, {2, 3}, {4}}),
        k4, v4, AttentionMask::Causal, Value(), 1.0 / std::sqrt(double(dim)));
    context = graph.collapse(context, {{0, 1}, {2, 3, 4}});
    x = graph.add(x, linear(context, attn + ".o_proj", hidden, heads * dim,
                            outputBias));

    Value h2 = rmsNorm(x, at + ".post_attention_layernorm");
    const std::string mlp = at + ".mlp";
    Value gate = graph.activation(
        linear(h2, mlp + ".gate_proj", inner, hidden, false), config.hiddenAct);
    Value up = linear(h2, mlp + ".up_proj", inner, hidden, false);
    x = graph.add(x, linear(graph.mul(gate, up), mlp + ".down_proj", hidden,
                            inner, false));
  }
  graph.setLoc(function.getLoc());
  x = rmsNorm(x, "model.norm");
  // Tied embeddings: the LM head is the embedding table (transformers then
  // ignores any lm_head.weight in the file).
  Value head = config.tieWordEmbeddings
                   ? embed
                   : weights.constant("lm_head.weight",
                                      {config.vocabSize, hidden});
  Value logits = graph.linear(x, head, Value(), "lm_head");
  func::ReturnOp::create(
      b, graph.getLoc(),
      graph.expand(logits, {batch, seq, config.vocabSize}, {{0, 1}, {2}}));
}
