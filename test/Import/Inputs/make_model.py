"""Writes a tiny Hugging Face model directory (config.json and
model.safetensors, or shards with an index) with random weights, for the
importer's tests; --break spoils it in one named way. Standard library only
(lit's interpreter has no torch).

    make_model.py DIR --family bert|llama|qwen2 [--shards N] [--wide]
                  [--break KIND]
"""

import argparse
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import safetensors_lite  # noqa: E402

HIDDEN, HEADS, KV_HEADS, INNER, VOCAB, LAYERS, POSITIONS = 16, 4, 2, 24, 40, 2, 128


def bert():
    config = {"model_type": "bert", "hidden_size": HIDDEN,
              "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
              "intermediate_size": INNER, "vocab_size": VOCAB,
              "max_position_embeddings": POSITIONS, "type_vocab_size": 2,
              "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    shapes = {"embeddings.word_embeddings.weight": [VOCAB, HIDDEN],
              "embeddings.position_embeddings.weight": [POSITIONS, HIDDEN],
              "embeddings.token_type_embeddings.weight": [2, HIDDEN],
              "embeddings.LayerNorm.weight": [HIDDEN],
              "embeddings.LayerNorm.bias": [HIDDEN]}
    for layer in range(LAYERS):
        at = f"encoder.layer.{layer}."
        for name, out, inp in [("attention.self.query", HIDDEN, HIDDEN),
                               ("attention.self.key", HIDDEN, HIDDEN),
                               ("attention.self.value", HIDDEN, HIDDEN),
                               ("attention.output.dense", HIDDEN, HIDDEN),
                               ("intermediate.dense", INNER, HIDDEN),
                               ("output.dense", HIDDEN, INNER)]:
            shapes[at + name + ".weight"] = [out, inp]
            shapes[at + name + ".bias"] = [out]
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[at + norm + ".weight"] = [HIDDEN]
            shapes[at + norm + ".bias"] = [HIDDEN]
    return config, shapes


def llama(qwen2):
    head = HIDDEN // HEADS
    config = {"model_type": "qwen2" if qwen2 else "llama",
              "hidden_size": HIDDEN, "num_attention_heads": HEADS,
              "num_key_value_heads": KV_HEADS, "num_hidden_layers": LAYERS,
              "intermediate_size": INNER, "vocab_size": VOCAB,
              "max_position_embeddings": POSITIONS, "rms_norm_eps": 1e-6,
              "rope_theta": 10000.0, "hidden_act": "silu",
              "tie_word_embeddings": qwen2}
    shapes = {"model.embed_tokens.weight": [VOCAB, HIDDEN],
              "model.norm.weight": [HIDDEN]}
    if not qwen2:
        shapes["lm_head.weight"] = [VOCAB, HIDDEN]
    for layer in range(LAYERS):
        at = f"model.layers.{layer}."
        for name, out, inp in [("self_attn.q_proj", HEADS * head, HIDDEN),
                               ("self_attn.k_proj", KV_HEADS * head, HIDDEN),
                               ("self_attn.v_proj", KV_HEADS * head, HIDDEN),
                               ("self_attn.o_proj", HIDDEN, HEADS * head),
                               ("mlp.gate_proj", INNER, HIDDEN),
                               ("mlp.up_proj", INNER, HIDDEN),
                               ("mlp.down_proj", HIDDEN, INNER)]:
            shapes[at + name + ".weight"] = [out, inp]
            if qwen2 and name[-6:] in ("q_proj", "k_proj", "v_proj"):
                shapes[at + name + ".bias"] = [out]
        shapes[at + "input_layernorm.weight"] = [HIDDEN]
        shapes[at + "post_attention_layernorm.weight"] = [HIDDEN]
    return config, shapes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--family", choices=["bert", "llama", "qwen2"],
                        required=True)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--break", dest="spoil", default="")
    parser.add_argument("--wide", action="store_true",
                        help="hidden 32, intermediate 64: widths GPTQ "
                             "checkpoints can pack")
    args = parser.parse_args()
    if args.wide:
        global HIDDEN, INNER
        HIDDEN, INNER = 32, 64

    config, shapes = bert() if args.family == "bert" else llama(
        args.family == "qwen2")
    rng = random.Random(0)
    tensors = {}
    for name, shape in shapes.items():
        count = 1
        for d in shape:
            count *= d
        if name.endswith("LayerNorm.weight") or name.endswith("norm.weight"):
            values = [1 + rng.uniform(-0.1, 0.1) for _ in range(count)]
        else:
            values = [rng.uniform(-0.3, 0.3) for _ in range(count)]
        tensors[name] = ("F32", shape, values)

    first = sorted(tensors)[0]
    spoil = args.spoil
    if spoil == "missing-tensor":
        del tensors[first]
    elif spoil == "wrong-shape":
        dtype, shape, values = tensors[first]
        tensors[first] = (dtype, shape[:-1] + [shape[-1] - 1],
                          values[:len(values) - len(values) // shape[-1]])
    elif spoil == "wrong-dtype":
        dtype, shape, values = tensors[first]
        tensors[first] = ("I32", shape, [int(v) for v in values])
    elif spoil == "nonfinite":
        dtype, shape, values = tensors[first]
        tensors[first] = (dtype, shape, [float("nan")] + values[1:])
    elif spoil == "unknown-model-type":
        config["model_type"] = "gpt_neox"
    elif spoil == "no-model-type":
        del config["model_type"]
    elif spoil == "bad-heads":
        config["num_key_value_heads"] = 3
    elif spoil == "rope-scaling":
        config["rope_scaling"] = {"rope_type": "yarn", "factor": 8.0}
    elif spoil == "bad-config-value":
        config["hidden_size"] = -16
    elif spoil == "huge-config":
        # The tensors stay tiny: every one disagrees with the config, whose
        # weights would take tens of GiB.
        config["hidden_size"] = 1 << 16
        config["intermediate_size"] = 1 << 18
    elif spoil == "activation":
        config["hidden_act"] = "swish_beta"

    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, "config.json"), "w") as f:
        f.write("{ not json" if spoil == "bad-json" else json.dumps(config))

    names = sorted(tensors)
    shards = [names[i::args.shards] for i in range(args.shards)]
    weight_map = {}
    for index, shard in enumerate(shards):
        file = ("model.safetensors" if args.shards == 1 else
                f"model-{index + 1:05d}-of-{args.shards:05d}.safetensors")
        safetensors_lite.write(os.path.join(args.dir, file),
                               {n: tensors[n] for n in shard})
        for n in shard:
            weight_map[n] = file
    path = os.path.join(args.dir, "model.safetensors")
    if spoil == "truncated":
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:-7])
    elif spoil == "lying-offsets":
        with open(path, "rb") as f:
            data = bytearray(f.read())
        (size,) = struct.unpack_from("<Q", data)
        header = json.loads(data[8:8 + size])
        header[first]["data_offsets"][1] += 4
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data[8 + size:])
    if args.shards > 1:
        if spoil == "lying-index":
            weight_map[first] = (
                "model-00002-of-%05d.safetensors" % args.shards
                if weight_map[first].startswith("model-00001") else
                "model-00001-of-%05d.safetensors" % args.shards)
        with open(os.path.join(args.dir, "model.safetensors.index.json"),
                  "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)


if __name__ == "__main__":
    main()
