#!/usr/bin/env python3
"""Trains a small Llama-style language model on a real English corpus with a
warmup-stable-decay (WSD) learning-rate schedule and saves Hugging Face
checkpoints along the way, for the quantization-robustness study
(scripts/qwha_robustness.py; arXiv 2510.06213).

    python3 train.py --out run/ [--steps 3000] [--save-every 100] ...

Corpus: the fortune files of Debian's `fortunes` and `fortunes-min` packages
(/usr/share/games/fortunes; BSD-licensed text from BSD fortune(6): quotations,
jokes, definitions, poems, computing lore). The `fortunes-off` (offensive)
sets are not used and need not be installed; the ASCII-art sets (art,
ascii-art) are skipped as not prose, and ethnic, men-women and politics are
skipped to keep stereotype jokes out. --corpus FILE takes any other text
instead (entries separated by `%` lines, else blank lines, else one a line).

The entries (split on `%` lines, backspace overstriking removed) are
shuffled with a fixed seed; the last --held-out share goes to heldout.txt,
the rest to train.txt. A byte-level BPE tokenizer (`tokenizers` package,
--vocab entries) is trained on train.txt. The model is
transformers.LlamaForCausalLM from a LlamaConfig (--hidden, --layers,
--heads, --kv-heads, --intermediate), trained on random windows of
--seq-len tokens of the training stream with AdamW.

Schedule (WSD): linear warmup over --warmup steps to --lr, constant, then
linear decay to --min-lr over the last --decay share of the steps.

Writes into --out: step-NNNNN/ (config.json, model.safetensors,
tokenizer.json) every --save-every steps and at the end; tokenizer.json;
train.txt and heldout.txt; schedule.json ({"steps": [...], "lr": [...],
"loss": [...], "warmup_steps", "decay_start", "total_steps",
"checkpoints": [...]}) and a line per --log-every steps.
"""

import argparse
import json
import math
import os
import pathlib
import random
import re
import time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

FORTUNES = pathlib.Path("/usr/share/games/fortunes")
SKIPPED = {"art", "ascii-art", "ethnic", "men-women", "politics"}


def fortune_entries(directory=FORTUNES):
    files = sorted(p for p in directory.iterdir()
                   if p.is_file() and not p.suffix and p.name not in SKIPPED)
    if not files:
        raise SystemExit(f"error: no fortune files in {directory}: "
                         "apt-get install fortunes fortunes-min, or pass --corpus FILE")
    entries = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r".\x08", "", text)             # overstriking (bold / underline)
        entries += [e.strip("\n") for e in re.split(r"^%\s*$", text, flags=re.M)]
    return [e for e in entries if e.strip()], [p.name for p in files]


def file_entries(path):
    """Entries of a text file: separated by `%` lines if it has any, else by
    blank lines, else one per line."""
    text = pathlib.Path(path).read_text(encoding="utf-8", errors="replace")
    for pattern in (r"^%\s*$", r"\n\s*\n", r"\n"):
        parts = [p.strip("\n") for p in re.split(pattern, text, flags=re.M) if p.strip()]
        if len(parts) > 1:
            break
    return parts, [pathlib.Path(path).name]


def train_tokenizer(train_file, vocab):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([os.fspath(train_file)], trainer)
    return tok


def wsd(step, total, peak, warmup, decay_start, floor):
    """Learning rate at optimizer step `step` (0-based)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if step < decay_start:
        return peak
    frac = (step - decay_start + 1) / max(1, total - decay_start)
    return peak + (floor - peak) * frac


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=pathlib.Path, required=True)
    p.add_argument("--corpus", type=pathlib.Path, default=None,
                   help="text file instead of the fortune files")
    p.add_argument("--max-chars", type=int, default=0,
                   help="use at most this many characters of the shuffled corpus (0: all)")
    p.add_argument("--held-out", type=float, default=0.05)
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--intermediate", type=int, default=384)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-lr", type=float, default=0.0)
    p.add_argument("--warmup", type=int, default=None, help="default: 5%% of the steps")
    p.add_argument("--decay", type=float, default=0.2, help="share of the steps that decay")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (more than the free cores is much slower)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    entries, sources = file_entries(args.corpus) if args.corpus else fortune_entries()
    random.Random(args.seed).shuffle(entries)
    if args.max_chars:
        kept, size = [], 0
        for e in entries:
            if size >= args.max_chars:
                break
            kept.append(e)
            size += len(e) + 2
        entries = kept
    n_held = max(1, int(len(entries) * args.held_out))
    train_text = "\n\n".join(entries[:-n_held]) + "\n"
    held_text = "\n\n".join(entries[-n_held:]) + "\n"
    (args.out / "train.txt").write_text(train_text)
    (args.out / "heldout.txt").write_text(held_text)

    tok = train_tokenizer(args.out / "train.txt", args.vocab)
    tok.save(os.fspath(args.out / "tokenizer.json"))
    ids = torch.tensor(tok.encode(train_text).ids, dtype=torch.long)
    print(f"corpus: {len(entries)} entries from {len(sources)} files "
          f"({len(train_text)} + {len(held_text)} characters train + held out); "
          f"{len(ids)} training tokens, vocabulary {tok.get_vocab_size()}", flush=True)

    config = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=args.hidden,
        intermediate_size=args.intermediate, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        max_position_embeddings=max(256, args.seq_len), rope_theta=10000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=None, eos_token_id=None)
    model = transformers.LlamaForCausalLM(config)
    params = sum(t.numel() for t in model.parameters())
    decay_params = [t for n, t in model.named_parameters() if t.dim() >= 2]
    other_params = [t for n, t in model.named_parameters() if t.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay_params, "weight_decay": args.weight_decay},
                             {"params": other_params, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    warmup = args.warmup if args.warmup is not None else max(1, round(0.05 * args.steps))
    decay_start = args.steps - round(args.decay * args.steps)
    print(f"model: {params / 1e6:.2f} M parameters; {args.steps} steps of {args.batch} x "
          f"{args.seq_len} tokens; WSD: warmup {warmup}, decay from step {decay_start}, "
          f"peak lr {args.lr}", flush=True)

    schedule = {"schedule": "wsd", "peak_lr": args.lr, "min_lr": args.min_lr,
                "warmup_steps": warmup, "decay_start": decay_start,
                "total_steps": args.steps, "batch": args.batch, "seq_len": args.seq_len,
                "corpus": sources, "parameters": params,
                "steps": [], "lr": [], "loss": [], "checkpoints": []}
    gen = torch.Generator().manual_seed(args.seed + 1)
    starts_max = len(ids) - args.seq_len - 1
    model.train()
    start = time.perf_counter()
    running = None
    for step in range(args.steps):
        lr = wsd(step, args.steps, args.lr, warmup, decay_start, args.min_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, starts_max, (args.batch,), generator=gen)
        batch = torch.stack([ids[s:s + args.seq_len] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        done = step + 1
        value = loss.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        schedule["steps"].append(done)
        schedule["lr"].append(lr)
        schedule["loss"].append(value)
        if done % args.log_every == 0 or done == args.steps:
            print(f"step {done:6d}  lr {lr:.2e}  loss {value:.4f}  (smoothed {running:.4f})  "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        if done % args.save_every == 0 or done == args.steps:
            name = f"step-{done:05d}"
            model.eval().save_pretrained(args.out / name)
            model.train()
            tok.save(os.fspath(args.out / name / "tokenizer.json"))
            schedule["checkpoints"].append({"step": done, "path": name, "lr": lr,
                                            "train_loss_smoothed": running})
            (args.out / "schedule.json").write_text(json.dumps(schedule) + "\n")
    if not math.isfinite(running):
        raise SystemExit("error: the training loss is not finite")
    print(f"saved {len(schedule['checkpoints'])} checkpoints in {args.out} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
