"""Writes small Hugging Face style checkpoints for the qwha-average tests.

usage: make_checkpoints.py <test/lib> run <dir> <step>...
           checkpoint-<step> directories of a training run, the i-th (from 1)
           with the tensors of index i
       make_checkpoints.py <test/lib> one <path> <index> [<variant>]
           one checkpoint: a directory, or a file if <path> ends in
           .safetensors; <variant> breaks or reshapes it (see VARIANTS)

A checkpoint of index k holds a tensor of every dtype the tool handles:
BF16, F32, F16 and F64 values that depend on k (most of them inexact in
their dtype, so that averages must round), I64 position ids and a BOOL mask
equal in every checkpoint, an empty tensor and a scalar. A directory also
holds what training leaves beside the weights: config and tokenizer files
(config.json records k, so tests can tell which one was copied), training
state, a subdirectory and a hidden file."""

import json
import math
import os
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

VARIANTS = {
    "nan": "a nan in model.layer.weight (element 5)",
    "inf-bf16": "an inf in model.embed.weight (element 2)",
    "int-differs": "model.position_ids element 3 is 7",
    "bool-differs": "model.mask element 1 is true",
    "shape": "model.layer.bias has shape [2, 2]",
    "dtype": "model.layer.bias is F32",
    "missing": "no model.norm.scale",
    "extra": "an extra tensor model.extra",
    "sharded": "two shards and model.safetensors.index.json",
    "bad-index": "an index that is not JSON",
    "index-missing": "an index listing a tensor its shard does not hold",
    "index-slash": "an index whose shard name has a directory",
    "index-no-map": "an index without a weight_map",
    "two-shards": "model.embed.weight in both shards",
    "bad-state": "a trainer_state.json that is not JSON",
    "no-step": "a trainer_state.json without global_step",
    "no-weights": "a directory without weights",
    "huge-f64": "F64 values near the top of the double range",
}


def tensors_of(k, variant=None):
    t = {
        "model.embed.weight": ("BF16", [2, 3], [k + i / 8 for i in range(6)]),
        "model.layer.weight": ("F32", [3, 4],
                               [(k * 1.1 + i) / 7 for i in range(12)]),
        "model.layer.bias": ("F16", [4], [(k + i) / 3 for i in range(4)]),
        "model.norm.scale": ("F64", [2], [k / 3 + i for i in range(2)]),
        "model.position_ids": ("I64", [1, 5], list(range(5))),
        "model.mask": ("BOOL", [3], [True, False, True]),
        "model.empty": ("F32", [0, 2], []),
        "model.scalar": ("F32", [], [k * 0.5]),
    }
    if variant == "nan":
        t["model.layer.weight"][2][5] = math.nan
    elif variant == "inf-bf16":
        t["model.embed.weight"][2][2] = math.inf
    elif variant == "int-differs":
        t["model.position_ids"][2][3] = 7
    elif variant == "bool-differs":
        t["model.mask"][2][1] = True
    elif variant == "shape":
        t["model.layer.bias"] = ("F16", [2, 2], t["model.layer.bias"][2])
    elif variant == "dtype":
        t["model.layer.bias"] = ("F32", [4], t["model.layer.bias"][2])
    elif variant == "missing":
        del t["model.norm.scale"]
    elif variant == "extra":
        t["model.extra"] = ("F32", [1], [1.0])
    elif variant == "huge-f64":
        t["model.norm.scale"] = ("F64", [2], [1.5e308, -1.0])
    return t


def write_directory(directory, k, variant=None):
    os.makedirs(directory, exist_ok=True)
    tensors = tensors_of(k, variant)
    metadata = {"format": "pt"}
    if variant in ("sharded", "bad-index", "index-missing", "index-slash",
                   "index-no-map", "two-shards"):
        first = {n: v for n, v in tensors.items() if n < "model.mask"}
        second = {n: v for n, v in tensors.items() if n >= "model.mask"}
        if variant == "two-shards":
            second["model.embed.weight"] = first["model.embed.weight"]
        shards = {"model-00001-of-00002.safetensors": first,
                  "model-00002-of-00002.safetensors": second}
        weight_map = {}
        for shard, content in shards.items():
            safetensors_lite.write(os.path.join(directory, shard), content,
                                   metadata)
            weight_map.update({n: shard for n in content})
        if variant == "index-missing":
            weight_map["model.ghost"] = "model-00001-of-00002.safetensors"
        if variant == "index-slash":
            weight_map["model.mask"] = "../model-00002-of-00002.safetensors"
        index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
        if variant == "index-no-map":
            del index["weight_map"]
        index = json.dumps(index, indent=2)
        if variant == "bad-index":
            index = index[:-3]
        with open(os.path.join(directory, "model.safetensors.index.json"),
                  "w") as f:
            f.write(index)
    elif variant != "no-weights":
        safetensors_lite.write(os.path.join(directory, "model.safetensors"),
                               tensors, metadata)
    files = {
        "config.json": json.dumps({"model_type": "tiny", "k": k}),
        "tokenizer.json": json.dumps({"version": "1.0"}),
        "tokenizer_config.json": json.dumps({"model_max_length": 5}),
        "trainer_state.json": json.dumps({"global_step": k * 100}),
        "optimizer.pt": "state",
        "training_args.bin": "args",
        "rng_state.pth": "rng",
        ".hidden": "hidden",
    }
    if variant == "bad-state":
        files["trainer_state.json"] = "{"
    if variant == "no-step":
        files["trainer_state.json"] = json.dumps({"epoch": 1.0})
    for name, text in files.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    os.makedirs(os.path.join(directory, "global_step%d" % (k * 100)),
                exist_ok=True)
    with open(os.path.join(directory, "global_step%d" % (k * 100), "state"),
              "w") as f:
        f.write("deepspeed")


def main():
    what = sys.argv[2]
    if what == "run":
        root = sys.argv[3]
        for k, step in enumerate(sys.argv[4:], start=1):
            write_directory(os.path.join(root, "checkpoint-%s" % step), k)
    elif what == "one":
        path, k = sys.argv[3], float(sys.argv[4])
        k = int(k) if k.is_integer() else k
        variant = sys.argv[5] if len(sys.argv) > 5 else None
        assert variant is None or variant in VARIANTS, variant
        if path.endswith(".safetensors"):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            safetensors_lite.write(path, tensors_of(k, variant),
                                   {"format": "pt"})
        else:
            write_directory(path, k, variant)
    else:
        sys.exit("unknown command " + what)


main()
