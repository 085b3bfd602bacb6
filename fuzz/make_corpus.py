#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into fuzz/corpus/<target>/: small valid
inputs for each reader (built with test/lib/safetensors_lite.py, which was
written from the format description, not from the C++ reader; config.json
and trainer_state.json as Hugging Face writes them) and the repository's
MLIR tests split at `// -----`. Deterministic; rerun after changing it and
commit the result.

usage: fuzz/make_corpus.py [--out fuzz/corpus]
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
import safetensors_lite  # noqa: E402

# Seeds longer than this would be cut by the MLIR fuzzer's -max_len anyway.
MLIR_MAX_SEED = 8192


def safetensors_bytes(tensors, metadata=None):
    """safetensors_lite writes files; the fuzzers want bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.safetensors")
        safetensors_lite.write(path, tensors, metadata)
        with open(path, "rb") as f:
            return f.read()


def raw_safetensors(header, data):
    """For what safetensors_lite cannot write (BF16, BOOL)."""
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    seeds = {
        "empty": safetensors_bytes({}),
        "f32": safetensors_bytes({"w": ("F32", [2, 3], [1.0, -2.0, 0.5, 3.25, 0.0, -0.0])}),
        "scalar-and-empty": safetensors_bytes({
            "s": ("I64", [], [42]), "z": ("F32", [0, 4], []), "v": ("I8", [3], [-1, 0, 1])}),
        "metadata": safetensors_bytes({"x": ("F16", [2], [1.0, -65504.0])},
                                      {"format": "pt", "note": "seed"}),
    }
    all_types = {
        "f64": ("F64", [2], [1e300, -2.5]),
        "f32": ("F32", [2], [float("inf"), 1.5]),
        "f16": ("F16", [2], [0.000061, 2.0]),
        "i64": ("I64", [2], [-(2 ** 63), 2 ** 63 - 1]),
        "i32": ("I32", [2], [-(2 ** 31), 7]),
        "i16": ("I16", [1, 2], [-300, 300]),
        "i8": ("I8", [2, 1], [-128, 127]),
        "u8": ("U8", [2], [0, 255]),
    }
    seeds["all-dtypes"] = safetensors_bytes(all_types)
    # BF16 1.0 and -2.0; BOOL true, false.
    seeds["bf16-bool"] = raw_safetensors(
        {"b": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
         "t": {"dtype": "BOOL", "shape": [2], "data_offsets": [4, 6]}},
        struct.pack("<HH", 0x3F80, 0xC000) + bytes([1, 0]))
    return seeds


def calibration_seeds():
    rng = random.Random(1)
    def layer(name, k, samples):
        hessian = [0.0] * (k * k)
        for i in range(k):
            for j in range(i, k):
                v = round(rng.uniform(-1, 1), 3) if i != j else round(rng.uniform(1, 2), 3)
                hessian[i * k + j] = hessian[j * k + i] = v
        return {name + ".hessian": ("F32", [k, k], hessian),
                name + ".nsamples": ("I64", [], [samples])}
    one = layer("fc1", 4, 128)
    two = dict(layer("model.layers.0.mlp.up_proj", 8, 7), **layer("fc2", 2, 1))
    meta = {"format": "qwha-calibration"}
    return {"one-layer": safetensors_bytes(one, meta),
            "two-layers": safetensors_bytes(two, meta),
            "no-features": safetensors_bytes(layer("empty", 0, 3), meta)}


def adapter_seeds():
    meta = {"format": "qwha-adapters"}
    one = {"fc.wha.indices": ("I32", [4], [0, 5, 17, 63]),
           "fc.wha.values": ("F32", [4], [0.5, -0.25, 1.0, 2.0])}
    half = {"a.wha.indices": ("I32", [2], [3, 1]),
            "a.wha.values": ("F16", [2], [0.125, -4.0]),
            "b.wha.indices": ("I32", [0], []),
            "b.wha.values": ("F32", [0], [])}
    return {"one-layer": safetensors_bytes(one, meta),
            "f16-and-empty": safetensors_bytes(half, meta)}


def pack_runs(values, bits):
    """Runs of 32 values -> `bits` words each, value i at bits
    [bits * i, bits * i + bits) of one little-endian bit stream."""
    words = []
    for start in range(0, len(values), 32):
        stream = 0
        for i, v in enumerate(values[start:start + 32]):
            stream |= v << (bits * i)
        for w in range(bits):
            word = (stream >> (32 * w)) & 0xFFFFFFFF
            words.append(word - (1 << 32) if word >= 1 << 31 else word)
    return words


def gptq_seed(bits, n, k, group_size, fmt, act_order, seed):
    rng = random.Random(seed)
    g = group_size if group_size != -1 else k
    groups = k // g
    codes = [[rng.randrange(1 << bits) for _ in range(k)] for _ in range(n)]
    zeros = [[rng.randrange(1, 1 << bits) for _ in range(groups)] for _ in range(n)]
    scales = [[round(rng.uniform(0.01, 0.1), 4) for _ in range(n)] for _ in range(groups)]
    g_idx = [c // g for c in range(k)]
    if act_order:
        rng.shuffle(g_idx)
    qweight = [[0] * n for _ in range(k // 32 * bits)]
    for col in range(n):
        words = pack_runs(codes[col], bits)
        for block in range(k // 32):
            for w in range(bits):
                qweight[block * bits + w][col] = words[block * bits + w]
    stored = 1 if fmt == "gptq" else 0
    qzeros = []
    for grp in range(groups):
        qzeros.append(pack_runs([zeros[col][grp] - stored for col in range(n)], bits))
    flat = lambda rows: [v for row in rows for v in row]  # noqa: E731
    tensors = {
        "model.fc.qweight": ("I32", [k // 32 * bits, n], flat(qweight)),
        "model.fc.qzeros": ("I32", [groups, n // 32 * bits], flat(qzeros)),
        "model.fc.scales": ("F16", [groups, n], flat(scales)),
        "model.fc.g_idx": ("I32", [k], g_idx),
    }
    config = {"bits": bits, "group_size": group_size, "desc_act": act_order,
              "sym": False, "static_groups": False, "quant_method": "gptq",
              "checkpoint_format": fmt}
    return (json.dumps(config, indent=2).encode() + b"\0"
            + safetensors_bytes(tensors, {"format": "pt"}))


def gptq_seeds():
    seeds = {}
    for i, (bits, n, k, group, fmt, act) in enumerate([
            (4, 32, 64, 32, "gptq", False),
            (3, 32, 64, 32, "gptq", True),
            (2, 32, 32, -1, "gptq_v2", False),
            (8, 32, 64, 64, "gptq_v2", True)]):
        seeds["%dbit-%s%s" % (bits, fmt, "-act" if act else "")] = \
            gptq_seed(bits, n, k, group, fmt, act, i)
    # Regression: an empty qweight implies a layer without input features,
    # which with group_size -1 made the reader divide by zero.
    config = {"bits": 4, "group_size": -1, "checkpoint_format": "gptq_v2"}
    seeds["regress-no-input-features"] = (
        json.dumps(config).encode() + b"\0" + safetensors_bytes({
            "fc.qweight": ("I32", [0, 32], []),
            "fc.qzeros": ("I32", [1, 4], [0] * 4),
            "fc.scales": ("F16", [1, 32], [1.0] * 32)}))
    return seeds


# CheckpointIndexFuzzer.cpp: the index, a NUL, then the shards in file name
# order with this between them.
SHARD_SEPARATOR = b"\n--\n"


def index_seed(shards, metadata=None):
    """shards: {file name: {tensor: (dtype, shape, values)}}. The index as
    transformers writes it (sorted keys, indent 2, total_size)."""
    weight_map = {}
    blobs = []
    total = 0
    for file in sorted(shards):
        for name, (dtype, shape, values) in shards[file].items():
            weight_map[name] = file
            total += len(values) * {"F32": 4, "F16": 2, "I64": 8,
                                    "I32": 4, "I8": 1}[dtype]
        blobs.append(safetensors_bytes(shards[file], {"format": "pt"}))
    index = {"metadata": dict({"total_size": total}, **(metadata or {})),
             "weight_map": weight_map}
    return (json.dumps(index, indent=2, sort_keys=True).encode() + b"\0"
            + SHARD_SEPARATOR.join(blobs))


def checkpoint_index_seeds():
    rng = random.Random(2)
    def weights(*shape):
        count = 1
        for d in shape:
            count *= d
        return ("F32", list(shape), [round(rng.uniform(-1, 1), 3)
                                     for _ in range(count)])
    first, second = "model-00001-of-00002.safetensors", \
        "model-00002-of-00002.safetensors"
    llama = {
        first: {"model.embed_tokens.weight": weights(8, 4),
                "model.layers.0.self_attn.q_proj.weight": weights(4, 4),
                "model.layers.0.input_layernorm.weight": weights(4)},
        second: {"model.layers.0.mlp.down_proj.weight": weights(4, 6),
                 "model.norm.weight": weights(4),
                 "lm_head.weight": ("F16", [8, 4], [0.5] * 32)},
    }
    three = {
        "a.safetensors": {"x": weights(2), "y": ("I64", [], [7])},
        "b.safetensors": {"z": weights(0, 3)},
        "pytorch_model-3.safetensors": {"bert.pooler.dense.bias": weights(3)},
    }
    return {
        "two-shards": index_seed(llama),
        "three-shards-odd-names": index_seed(three, {"format": "pt"}),
        "one-shard": index_seed({"model.safetensors": {"w": weights(2, 2)}}),
        "empty-weight-map": b'{"metadata": {}, "weight_map": {}}\0',
        # Regression: a NUL in a shard name passed as a plain file name
        # (opening it would open "one.safetensors").
        "regress-nul-in-shard-name": (
            b'{"weight_map": {"w": "one.safetensors\\u0000x"}}\0'
            + safetensors_bytes({"w": weights(2)})),
    }


def transformer_config_seeds():
    """config.json as transformers writes it (sorted keys, indent 2), with
    the keys the importer ignores left in."""
    common = {"architectures": None, "torch_dtype": "float32",
              "transformers_version": "4.46.0", "use_cache": True}
    bert = dict(common, **{
        "architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None, "gradient_checkpointing": False,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 384,
        "initializer_range": 0.02, "intermediate_size": 1536,
        "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
        "model_type": "bert", "num_attention_heads": 12,
        "num_hidden_layers": 6, "pad_token_id": 0,
        "position_embedding_type": "absolute", "type_vocab_size": 2,
        "vocab_size": 30522})
    llama = dict(common, **{
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 0,
        "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.041666,
        "intermediate_size": 1536, "max_position_embeddings": 2048,
        "mlp_bias": False, "model_type": "llama", "num_attention_heads": 9,
        "num_hidden_layers": 30, "num_key_value_heads": 3,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 10000.0, "tie_word_embeddings": True,
        "vocab_size": 49152})
    llama3 = dict(llama, **{
        "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 1,
        "head_dim": 32, "max_position_embeddings": 131072,
        "rope_theta": 500000.0, "tie_word_embeddings": False,
        "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0,
                         "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192,
                         "rope_type": "llama3"}})
    llama_v5 = dict(llama, **{
        "rope_theta": None, "transformers_version": "5.0.0",
        "attention_bias": True,
        "rope_parameters": {"rope_theta": 100000.0, "rope_type": "linear",
                            "factor": 2.0}})
    mistral = dict(common, **{
        "architectures": ["MistralForCausalLM"], "hidden_act": "silu",
        "hidden_size": 256, "intermediate_size": 512,
        "max_position_embeddings": 32768, "model_type": "mistral",
        "num_attention_heads": 8, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0, "sliding_window": 4096,
        "tie_word_embeddings": False, "vocab_size": 32000})
    qwen2 = dict(common, **{
        "architectures": ["Qwen2ForCausalLM"], "hidden_act": "silu",
        "hidden_size": 896, "intermediate_size": 4864,
        "max_position_embeddings": 32768, "max_window_layers": 21,
        "model_type": "qwen2", "num_attention_heads": 14,
        "num_hidden_layers": 24, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": 32768, "tie_word_embeddings": True,
        "use_sliding_window": False, "vocab_size": 151936})
    # The smallest Llama config: only the required keys.
    minimal = {"model_type": "llama", "hidden_size": 8,
               "num_hidden_layers": 1, "num_attention_heads": 2,
               "intermediate_size": 16, "vocab_size": 10}
    dump = lambda c: json.dumps(c, indent=2, sort_keys=True).encode()  # noqa: E731
    seeds = {"bert-minilm": dump(bert), "llama-smollm": dump(llama),
             "llama3-rope-scaling": dump(llama3),
             "llama-transformers5-rope-parameters": dump(llama_v5),
             "mistral-sliding-window": dump(mistral),
             "qwen2": dump(qwen2),
             "llama-minimal": json.dumps(minimal).encode()}
    # Regressions (test/Import/config-errors.test): llama3 RoPE without
    # low_freq_factor, heads of no dimension, weight shapes that overflow
    # int64, and 2^63 as a double (undefined behaviour to convert).
    rope = dict(llama3["rope_scaling"])
    del rope["low_freq_factor"]
    seeds["regress-llama3-no-low-freq-factor"] = dump(
        dict(llama3, rope_scaling=rope))
    seeds["regress-no-head-dim"] = json.dumps(
        dict(minimal, hidden_size=2, num_attention_heads=4)).encode()
    seeds["regress-huge-hidden"] = json.dumps(
        dict(minimal, hidden_size=10 ** 18)).encode()
    seeds["regress-huge-bert-heads"] = json.dumps(dict(
        bert, num_attention_heads=2 ** 62, head_dim=4)).encode()
    seeds["regress-two-to-63"] = \
        b'{"model_type": "mistral", "hidden_size": 9223372036854775808.0}'
    return seeds


def trainer_state_seeds():
    """trainer_state.json as the Hugging Face Trainer writes it."""
    log = [{"epoch": round(0.25 * i, 2), "grad_norm": round(1.5 / i, 4),
            "learning_rate": 5e-05 * (1 - i / 4), "loss": round(2.5 / i, 4),
            "step": 250 * i} for i in range(1, 4)]
    log.append({"epoch": 1.0, "step": 1000, "total_flos": 1.2e15,
                "train_loss": 1.1, "train_runtime": 600.5})
    state = {"best_metric": None, "best_model_checkpoint": None,
             "epoch": 1.0, "eval_steps": 500, "global_step": 1000,
             "is_hyper_param_search": False, "is_local_process_zero": True,
             "is_world_process_zero": True, "log_history": log,
             "logging_steps": 250, "max_steps": 1000,
             "num_input_tokens_seen": 0, "num_train_epochs": 1,
             "save_steps": 500,
             "stateful_callbacks": {"TrainerControl": {
                 "args": {"should_epoch_stop": False,
                          "should_evaluate": False, "should_log": False,
                          "should_save": True,
                          "should_training_stop": True},
                 "attributes": {}}},
             "total_flos": 1.2e15, "train_batch_size": 8,
             "trial_name": None, "trial_params": None}
    return {"trainer": json.dumps(state, indent=2, sort_keys=True).encode(),
            "step-zero": b'{"global_step": 0}',
            "float-step": b'{"global_step": 700.0, "epoch": 2.5}',
            "largest-step": b'{"global_step": 9223372036854775807}',
            # Regression: 2^63 as a double, undefined behaviour to convert.
            "regress-two-to-63": b'{"global_step": 9223372036854775808.0}'}


def mlir_seeds():
    seeds = {}
    for base, _, files in sorted(os.walk(os.path.join(ROOT, "test"))):
        for name in sorted(files):
            if not name.endswith(".mlir"):
                continue
            path = os.path.join(base, name)
            text = open(path).read()
            rel = os.path.relpath(path, os.path.join(ROOT, "test"))
            stem = rel[:-len(".mlir")].replace(os.sep, "-")
            for i, chunk in enumerate(text.split("// -----")):
                # Comment lines (RUN, CHECK, expected-error) are noise to
                # the fuzzer; the code stays.
                lines = [l for l in chunk.splitlines()
                         if not l.lstrip().startswith("//")]
                body = "\n".join(lines).strip() + "\n"
                if len(body) < 8 or len(body) > MLIR_MAX_SEED:
                    continue
                seeds["%s-%d" % (stem, i)] = body.encode()
    return seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "fuzz", "corpus"))
    args = parser.parse_args()
    targets = {
        "safetensors": safetensors_seeds(),
        "calibration": calibration_seeds(),
        "adapters": adapter_seeds(),
        "gptq-checkpoint": gptq_seeds(),
        "checkpoint-index": checkpoint_index_seeds(),
        "transformer-config": transformer_config_seeds(),
        "trainer-state": trainer_state_seeds(),
        "mlir": mlir_seeds(),
    }
    # Every safetensors seed is also a valid-header seed for the readers
    # built on it, and the reverse.
    for target in ("calibration", "adapters"):
        targets["safetensors"].update(
            {target + "-" + k: v for k, v in targets[target].items()})
    total = 0
    for target, seeds in targets.items():
        directory = os.path.join(args.out, target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        seen = set()
        for name, data in sorted(seeds.items()):
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
            total += len(data)
        print("%-18s %3d seeds" % (target, len(seen)))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
