#!/usr/bin/env python3
"""Perplexity of a decoder language model (Llama family) before and after
quantization, compiled for the CPU by QWHA.

    python3 scripts/lm_eval.py --build build --model DIR --text FILE \\
        [--seq-len 128] [--configs rtn4,gptq4,rtn3,gptq3] [--json out.json]

The text is tokenized once with the model directory's tokenizer
(tokenizer.json through the `tokenizers` package, else transformers'
AutoTokenizer), with the tokenizer's special tokens (Llama: <s> at the very
start), and cut into non-overlapping chunks of --seq-len tokens (the tail
that does not fill one is dropped), as GPTQ's perplexity evaluation does.
`--tokens FILE` takes pre-tokenized ids instead (.npy, or integers separated
by white space). The first chunks (--calib-chunks, default half of them)
calibrate; the rest are held out.

Steps: qwha-import (batch --batch, seq-len tokens, causal LM logits),
qwha-raise-linear, qwha-calibrate on the calibration chunks, then for the
float model and each configuration (<rtn|gptq><bits>[-g<group>][+wha<rank>])
quantize, qwha-compile and run every held-out chunk. The cross-entropy is
the mean over held-out chunks and positions of -log p(token t+1 | tokens
<= t) (S - 1 predictions per chunk), in nats; perplexity is exp(CE). The
table reports CE_q / CE_fp - 1 for each configuration.

The core is reusable (a robustness study loops it over checkpoints):

    import lm_eval
    tokens = lm_eval.tokenize_text(model_dir, text)
    calib, held = lm_eval.split_chunks(tokens, seq_len=128, calib_chunks=32)
    result = lm_eval.evaluate(model_dir, calib, held, configs=["gptq4", "rtn3"],
                              work=pathlib.Path("work"), tools=lm_eval.find_tools())

Needs numpy (and `tokenizers` or transformers for --text); no torch.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, os.fspath(pathlib.Path(__file__).resolve().parent))
import qwha_hf  # noqa: E402
from qwha_hf import QuantConfig  # noqa: E402
from qwha_runtime import CompiledModel  # noqa: E402

DEFAULT_CONFIGS = "rtn4,gptq4,rtn3,gptq3"
TOOLS = ("qwha-import", "qwha-opt", "qwha-calibrate", "qwha-compile")
LLAMA_FAMILY = ("llama", "qwen2", "mistral")


# ---------------------------------------------------------------- data


def find_tools(build=None):
    """{tool: path}: <build>/bin when given, else PATH, else this checkout's build/bin."""
    return {name: qwha_hf.find_tool(name, None if build is None else pathlib.Path(build) / "bin")
            for name in TOOLS}


def tokenize_text(model_dir, text):
    """The whole text as one sequence of ids (int64), with the tokenizer's
    special tokens."""
    return np.array(qwha_hf.Tokenizer(model_dir).encode(text, special=True), dtype=np.int64)


def read_tokens(path):
    """Pre-tokenized ids: a .npy array or integers separated by white space."""
    path = pathlib.Path(path)
    if path.suffix == ".npy":
        return np.load(path).astype(np.int64).ravel()
    return np.array(path.read_text().split(), dtype=np.int64)


def split_chunks(tokens, seq_len, calib_chunks=None):
    """Non-overlapping chunks [n, seq_len] of the token stream (the tail
    dropped), split into (calibration, held-out): the first `calib_chunks`
    (default: half, at least one) and the rest."""
    tokens = np.asarray(tokens, dtype=np.int64).ravel()
    n = len(tokens) // seq_len
    if n < 2:
        raise ValueError(f"{len(tokens)} tokens make {n} chunk(s) of {seq_len}: at least two "
                         "are needed (one to calibrate, one to evaluate)")
    chunks = tokens[:n * seq_len].reshape(n, seq_len)
    k = max(1, n // 2) if calib_chunks is None else calib_chunks
    if not 0 < k < n:
        raise ValueError(f"--calib-chunks {k} must leave held-out chunks (there are {n})")
    return chunks[:k], chunks[k:]


def batches(chunks, batch):
    """[m, batch, S] groups of chunks, the last one filled with repeats of
    the first chunks, and how many rows of it are real."""
    n = len(chunks)
    pad = (-n) % batch
    padded = np.concatenate([chunks, chunks[:pad]]) if pad else chunks
    return padded.reshape(-1, batch, chunks.shape[1]), n


# ---------------------------------------------------------------- scoring


def cross_entropy_sum(logits, ids):
    """Sum over positions of -log softmax(logits[t])[ids[t + 1]] for
    logits [B, S, V] and ids [B, S], in float64; returns (sum, count)."""
    x = logits[:, :-1].astype(np.float64)
    target = ids[:, 1:]
    peak = x.max(axis=-1, keepdims=True)
    logz = np.log(np.exp(x - peak).sum(axis=-1)) + peak[..., 0]
    picked = np.take_along_axis(x, target[..., None], axis=-1)[..., 0]
    return float((logz - picked).sum()), int(target.size)


def score(library, held, batch):
    """Mean cross-entropy (nats per predicted token) of a compiled model on
    the held-out chunks, and the seconds per chunk."""
    model = CompiledModel(library)
    groups, n = batches(held, batch)
    total, count, rows = 0.0, 0, 0
    start = time.perf_counter()
    for group in groups:
        logits = model.forward(group)
        real = min(batch, n - rows)
        s, c = cross_entropy_sum(logits[:real], group[:real])
        total, count, rows = total + s, count + c, rows + real
    return total / count, (time.perf_counter() - start) / n


# ---------------------------------------------------------------- the flow


def prepare(model_dir, calib, work, tools, seq_len, batch=1, log=print):
    """Import, raise and calibrate one model. Returns a dict with the raised
    module, the calibration file, the layers and the seconds of each step."""
    work.mkdir(parents=True, exist_ok=True)
    config = qwha_hf.read_config(model_dir)
    if config.get("model_type") not in LLAMA_FAMILY:
        raise ValueError(f"{model_dir}: model_type '{config.get('model_type')}' is not a "
                         f"Llama-family decoder ({', '.join(LLAMA_FAMILY)})")
    seconds = {}
    imported = work / "model.mlirbc"
    _, seconds["import"] = qwha_hf.run([tools["qwha-import"], model_dir, "-o", imported,
                                        f"--batch={batch}", f"--seq-len={seq_len}",
                                        "--emit-bytecode", "--quiet"])
    raised = work / "raised.mlirbc"
    _, seconds["raise"] = qwha_hf.run([tools["qwha-opt"], imported, "-qwha-raise-linear",
                                       "--emit-bytecode", "-o", raised])
    text = qwha_hf.elided_text(tools["qwha-opt"], raised)
    (work / "raised.mlir").write_text(text)
    layers = qwha_hf.layer_table(text)
    if not layers:
        raise RuntimeError(f"{model_dir}: no linear layer was raised")
    samples = work / "calib-samples.safetensors"
    # Whole groups only (a chunk repeated to fill the last one would count
    # twice in the Hessians), unless there are fewer chunks than a batch.
    whole = len(calib) // batch * batch
    groups, _ = batches(calib[:whole] if whole else calib, batch)
    qwha_hf.write_safetensors(samples, {"input_ids": groups})
    calib_file = work / "calib.safetensors"
    _, seconds["calibrate"] = qwha_hf.run([tools["qwha-calibrate"], raised, "--no-raise",
                                           "--function", "forward", "--inputs", samples,
                                           "-o", calib_file, "--quiet"])
    log(f"  imported, raised ({len(layers)} linear layers) and calibrated on "
        f"{groups.shape[0] * batch} chunks in {sum(seconds.values()):.1f} s")
    return {"config": config, "raised": raised, "calib": calib_file, "layers": layers,
            "calib_chunks_used": int(groups.shape[0] * batch), "seconds": seconds}


def run_config(prepared, spec, held, work, tools, batch=1, log=print, gptq_options=""):
    """Quantize (unless spec is 'float'), compile and score one configuration;
    `gptq_options` are extra qwha-gptq pass options (e.g. "act-order")."""
    layers = prepared["layers"]
    row = {"spec": spec}
    if spec == "float":
        module = prepared["raised"]
        row.update(label="float (f32)", bits=32, quantize_seconds=None, layer_error=None)
        quant_layers = layers
    else:
        cfg = QuantConfig(spec)
        group = qwha_hf.group_size_for(layers, cfg.group)
        report, wha_report = work / f"{cfg.slug}.json", work / f"{cfg.slug}-wha.json"
        module = work / f"{cfg.slug}.mlirbc"
        _, quantize_seconds = qwha_hf.run([
            tools["qwha-opt"], prepared["raised"], "--emit-bytecode", "-o", module,
            "--pass-pipeline=builtin.module("
            + cfg.pipeline(prepared["calib"], report, wha_report, group, gptq_options) + ")"])
        text = qwha_hf.elided_text(tools["qwha-opt"], module)
        (work / f"{cfg.slug}.mlir").write_text(text)
        quant_layers = qwha_hf.layer_table(text)
        row.update(label=cfg.label(group), bits=cfg.bits, group_size=group,
                   adapter_rank=cfg.rank, quantize_seconds=quantize_seconds,
                   layer_error=qwha_hf.mean_layer_error(wha_report if cfg.rank else report))
    slug = "float" if spec == "float" else QuantConfig(spec).slug
    library = work / f"{slug}.so"
    _, row["compile_seconds"] = qwha_hf.run([tools["qwha-compile"], module, "--target=cpu",
                                             "-o", library])
    row["weight_bytes"] = sum(layer["weight_bytes"] for layer in quant_layers)
    row["cross_entropy"], row["seconds_per_chunk"] = score(library, held, batch)
    row["perplexity"] = float(np.exp(row["cross_entropy"]))
    log(f"  {row['label']:<24} CE {row['cross_entropy']:.4f}  PPL {row['perplexity']:.3f}")
    return row


def evaluate(model_dir, calib, held, configs, work, tools, batch=1, log=print,
             gptq_options=""):
    """Float and each configuration of one model directory on the given
    calibration / held-out chunks ([n, S] int64). Returns a JSON-ready dict:
    {model, seq_len, calib_chunks, held_chunks, held_tokens, float: row,
    configs: [row, ...], seconds}; each row has cross_entropy (nats),
    perplexity, and for configurations ce_ratio = CE_q / CE_fp - 1."""
    model_dir = pathlib.Path(model_dir)
    work = pathlib.Path(work)
    start = time.perf_counter()
    seq_len = calib.shape[1]
    prepared = prepare(model_dir, calib, work, tools, seq_len, batch, log)
    float_row = run_config(prepared, "float", held, work, tools, batch, log)
    rows = []
    for spec in configs:
        row = run_config(prepared, spec, held, work, tools, batch, log, gptq_options)
        row["ce_ratio"] = row["cross_entropy"] / float_row["cross_entropy"] - 1.0
        rows.append(row)
    return {"model": os.fspath(model_dir), "model_type": prepared["config"].get("model_type"),
            "seq_len": int(seq_len), "batch": batch, "calib_chunks": int(len(calib)),
            "calib_chunks_used": prepared["calib_chunks_used"],
            "held_chunks": int(len(held)), "held_predictions": int(len(held) * (seq_len - 1)),
            "linear_layers": len(prepared["layers"]), "float": float_row, "configs": rows,
            "seconds": {**prepared["seconds"], "total": time.perf_counter() - start}}


def format_table(result):
    lines = [f"  {'configuration':<24} {'bits':>4} {'weight MB':>9} {'CE (nats)':>10} "
             f"{'PPL':>10} {'CE_q/CE_fp-1':>12} {'layer err':>9} {'quant s':>7}"]
    for row in [result["float"]] + result["configs"]:
        ratio = "-" if "ce_ratio" not in row else f"{row['ce_ratio']:+.4%}"
        layer = "-" if row.get("layer_error") is None else f"{row['layer_error']:.2e}"
        quant = "-" if row.get("quantize_seconds") is None else f"{row['quantize_seconds']:.1f}"
        lines.append(f"  {row['label']:<24} {row['bits']:>4} {row['weight_bytes'] / 1e6:>9.3f} "
                     f"{row['cross_entropy']:>10.5f} {row['perplexity']:>10.3f} {ratio:>12} "
                     f"{layer:>9} {quant:>7}")
    return "\n".join(lines)


def add_data_arguments(parser):
    """The options lm_eval and qwha_robustness share: tools, text and how it
    is cut into calibration and evaluation chunks."""
    parser.add_argument("--build", type=pathlib.Path, default=None,
                        help="build directory (tools in <build>/bin; default: PATH, then build/)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", type=pathlib.Path, help="text file to tokenize")
    source.add_argument("--tokens", type=pathlib.Path,
                        help="pre-tokenized ids (.npy, or integers separated by white space)")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1, help="chunks per call")
    parser.add_argument("--calib-chunks", type=int, default=None,
                        help="chunks that calibrate (default: the first half)")
    parser.add_argument("--max-eval-chunks", type=int, default=None,
                        help="evaluate at most this many held-out chunks")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=pathlib.Path, required=True,
                        help="Llama-family model directory (config.json, *.safetensors, "
                             "tokenizer.json)")
    add_data_arguments(parser)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS,
                        help=f"comma-separated configurations (default {DEFAULT_CONFIGS})")
    parser.add_argument("--work", type=pathlib.Path, default=None,
                        help="directory for IR, libraries and reports "
                             "(default <build>/lm-eval/<model name>)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write results here")
    args = parser.parse_args()

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for spec in configs:
        QuantConfig(spec)      # reject a bad spelling before any work
    tools = find_tools(args.build)
    if args.text:
        tokens = tokenize_text(args.model, args.text.read_text())
        source = f"{args.text} ({len(tokens)} tokens, tokenizer of {args.model.name})"
    else:
        tokens = read_tokens(args.tokens)
        source = f"{args.tokens} ({len(tokens)} tokens)"
    vocab = qwha_hf.read_config(args.model).get("vocab_size")
    if vocab and (tokens.min() < 0 or tokens.max() >= vocab):
        sys.exit(f"error: token ids range over [{tokens.min()}, {tokens.max()}], outside the "
                 f"model's vocabulary of {vocab}")
    calib, held = split_chunks(tokens, args.seq_len, args.calib_chunks)
    if args.max_eval_chunks:
        held = held[:args.max_eval_chunks]
    work = args.work or ((args.build or qwha_hf.ROOT / "build") / "lm-eval" / args.model.name)
    print(f"{args.model.name}: {source}; {len(calib)} calibration and {len(held)} held-out "
          f"chunks of {args.seq_len} tokens; work in {work}", flush=True)
    result = evaluate(args.model, calib, held, configs, work, tools, args.batch)
    result["source"] = source
    print(f"\nHeld-out cross-entropy ({result['held_predictions']} predictions; CE in nats per "
          "token, PPL = exp(CE)):")
    print(format_table(result))
    print(f"\n{result['seconds']['total']:.1f} s in all")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (qwha_hf.ToolError, ValueError, RuntimeError) as e:
        sys.exit(f"error: {e}")
