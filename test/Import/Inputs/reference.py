"""Checks a compiled imported model against an independent numpy (float64)
implementation of the BERT and Llama forward passes, written from the
architectures' definitions, reading the weights with the tests' own
safetensors reader. No torch needed: the transformers comparisons
(transformers-*.test) cover the same ground where torch is installed.

    reference.py MODEL_DIR LIBRARY.so --batch B --seq-len S
"""

import argparse
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
import safetensors_lite  # noqa: E402
from qwha_runtime import CompiledModel  # noqa: E402


def load(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(index))["weight_map"].values()))
             if os.path.exists(index) else ["model.safetensors"])
    weights = {}
    for file in files:
        tensors, _ = safetensors_lite.read(os.path.join(directory, file))
        weights.update({name: np.array(values, np.float64).reshape(shape)
                        for name, (dtype, shape, values) in tensors.items()})
    return weights


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def bert(w, config, ids, mask):
    h, heads = config["hidden_size"], config["num_attention_heads"]
    d = h // heads
    seq = ids.shape[1]
    erf = np.vectorize(math.erf)

    def norm(x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + config["layer_norm_eps"])
                * w[name + ".weight"] + w[name + ".bias"])

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:seq]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    bias = np.where(mask != 0, 0.0, -1e30)[:, None, None, :]
    for layer in range(config["num_hidden_layers"]):
        at = f"encoder.layer.{layer}."
        split = lambda t: t.reshape(t.shape[0], seq, heads, d)  # noqa: E731
        q = split(linear(x, at + "attention.self.query"))
        k = split(linear(x, at + "attention.self.key"))
        v = split(linear(x, at + "attention.self.value"))
        p = softmax(np.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(d) + bias)
        context = np.einsum("bhij,bjhd->bihd", p, v).reshape(x.shape)
        x = norm(linear(context, at + "attention.output.dense") + x,
                 at + "attention.output.LayerNorm")
        inner = linear(x, at + "intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
        x = norm(linear(inner, at + "output.dense") + x, at + "output.LayerNorm")
    return x


def llama(w, config, ids):
    h, heads = config["hidden_size"], config["num_attention_heads"]
    kv = config.get("num_key_value_heads", heads)
    d = h // heads
    seq = ids.shape[1]
    eps = config["rms_norm_eps"]
    qwen2 = config["model_type"] == "qwen2"

    def rms(x, name):
        return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w[name]

    def linear(x, name, bias=False):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if bias else y

    inverse = 1.0 / config["rope_theta"] ** (np.arange(0, d, 2) / d)
    angles = np.arange(seq)[:, None] * inverse[None, :]
    angles = np.concatenate([angles, angles], -1)
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]

    def rope(t):
        rotated = np.concatenate([-t[..., d // 2:], t[..., :d // 2]], -1)
        return t * cos + rotated * sin

    causal = np.triu(np.full((seq, seq), -1e30), 1)
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(config["num_hidden_layers"]):
        at = f"model.layers.{layer}."
        y = rms(x, at + "input_layernorm.weight")
        q = linear(y, at + "self_attn.q_proj", qwen2).reshape(-1, seq, heads, d)
        k = linear(y, at + "self_attn.k_proj", qwen2).reshape(-1, seq, kv, d)
        v = linear(y, at + "self_attn.v_proj", qwen2).reshape(-1, seq, kv, d)
        q, k = rope(q), rope(k)
        k = np.repeat(k, heads // kv, axis=2)
        v = np.repeat(v, heads // kv, axis=2)
        p = softmax(np.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(d) + causal)
        context = np.einsum("bhij,bjhd->bihd", p, v).reshape(x.shape[0], seq, -1)
        x = x + linear(context, at + "self_attn.o_proj")
        y = rms(x, at + "post_attention_layernorm.weight")
        gate = linear(y, at + "mlp.gate_proj")
        gate = gate / (1 + np.exp(-gate))
        x = x + linear(gate * linear(y, at + "mlp.up_proj"), at + "mlp.down_proj")
    x = rms(x, "model.norm.weight")
    head = (w["model.embed_tokens.weight"] if config.get("tie_word_embeddings")
            else w["lm_head.weight"])
    return x @ head.T


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("library")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    args = parser.parse_args()
    config = json.load(open(os.path.join(args.model, "config.json")))
    w = load(args.model)
    rng = np.random.RandomState(1)
    shape = (args.batch, args.seq_len)
    ids = rng.randint(0, config["vocab_size"], size=shape).astype(np.int64)
    model = CompiledModel(args.library)
    if config["model_type"] == "bert":
        # Later rows are padded further, the first row not at all.
        mask = np.ones(shape, np.int64)
        for row in range(1, args.batch):
            mask[row, max(1, args.seq_len - 2 * row):] = 0
        expected = bert(w, config, ids, mask)
        actual = model.forward(ids, mask)
    else:
        expected = llama(w, config, ids)
        actual = model.forward(ids)
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    print(f"shape {list(actual.shape)} relative error {error:.2e}")
    if actual.shape != expected.shape or not error < 1e-5:
        sys.exit("mismatch")
    print("match")


if __name__ == "__main__":
    main()
