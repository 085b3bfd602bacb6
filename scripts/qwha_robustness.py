#!/usr/bin/env python3
"""Quantization robustness over a training run: how much each checkpoint's
cross-entropy rises when it is quantized (arXiv 2510.06213).

    python3 scripts/qwha_robustness.py RUN_DIR --text heldout.txt \\
        [--configs rtn4,gptq4,rtn3,gptq3] [--group-size 64] [--act-order] \\
        [--schedule RUN_DIR/schedule.json] [--lawa 5 --stride 1] \\
        [--json r.json] [--plot r.png]

Checkpoints: the subdirectories of RUN_DIR holding a config.json (e.g.
step-00100, checkpoint-1200), or the checkpoint directories given
explicitly. They are ordered by training step: the number that ends the
name, else `global_step` in trainer_state.json. --every N keeps the
checkpoints whose step is a multiple of N (and the last one).

Data: the text is tokenized once, with the first checkpoint's tokenizer
(every checkpoint's tokenizer.json must be the same file), and cut into
chunks of --seq-len tokens exactly as scripts/lm_eval.py does: the first
--calib-chunks calibrate, the next (at most --max-eval-chunks) are held
out. The same chunks serve every checkpoint.

Each checkpoint goes through lm_eval.evaluate: qwha-import, qwha-calibrate,
the float model and every configuration quantized, qwha-compile'd and run
on the held-out chunks; the result per configuration is
CE_q / CE_fp - 1 (CE: mean cross-entropy in nats per predicted token).

--lawa K [--stride S]: at every evaluated step that has K checkpoints at
stride S up to it, the LAWA average of them (qwha-average --mode=lawa
--last=K --stride=S over the checkpoints up to that step) is evaluated the
same way, so that the two curves can be compared.

Output: a progress line per checkpoint, a table at the end, --json (all
numbers, and lm_eval's full result per model), --markdown (the table)
and --plot (PNG: CE_q/CE_fp
- 1 against the step, LAWA dashed, float CE below, the learning rate from
--schedule, a trainer's JSON with "steps" and "lr" lists, drawn behind).
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.fspath(pathlib.Path(__file__).resolve().parent))
import lm_eval  # noqa: E402
import qwha_hf  # noqa: E402
from qwha_hf import QuantConfig  # noqa: E402


# ---------------------------------------------------------------- checkpoints


def checkpoint_step(path):
    """Training step of a checkpoint directory: the number ending its name,
    else trainer_state.json's global_step, else None."""
    m = re.search(r"(\d+)$", path.name)
    if m:
        return int(m.group(1))
    state = path / "trainer_state.json"
    if state.is_file():
        step = json.loads(state.read_text()).get("global_step")
        if isinstance(step, int):
            return step
    return None


def find_checkpoints(paths):
    """[(step, path)] sorted by step, from checkpoint directories or a run
    directory holding them."""
    found = []
    for path in map(pathlib.Path, paths):
        if (path / "config.json").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if (p / "config.json").is_file())
        else:
            raise ValueError(f"{path}: not a checkpoint directory (no config.json) nor a "
                             "directory of them")
    if not found:
        raise ValueError(f"no checkpoint (a directory with config.json) in {' '.join(paths)}")
    steps = []
    for path in found:
        step = checkpoint_step(path)
        if step is None:
            raise ValueError(f"{path}: no training step in its name (step-00100, "
                             "checkpoint-1200) nor in trainer_state.json")
        steps.append((step, path))
    steps.sort(key=lambda sp: sp[0])
    for (a, pa), (b, pb) in zip(steps, steps[1:]):
        if a == b:
            raise ValueError(f"{pa} and {pb} are both step {a}")
    return steps


def check_tokenizers(checkpoints):
    """Every checkpoint must carry the same tokenizer.json as the first."""
    first = checkpoints[0][1] / "tokenizer.json"
    if not first.is_file():
        return
    data = first.read_bytes()
    for _, path in checkpoints[1:]:
        other = path / "tokenizer.json"
        if other.is_file() and other.read_bytes() != data:
            raise ValueError(f"{other} differs from {first}: the checkpoints must share one "
                             "tokenizer so that every one is scored on the same tokens")


def lawa_members(checkpoints, index, k, stride):
    """The checkpoints LAWA averages at checkpoints[index], newest first, or
    None when there are fewer than k of them."""
    picks = [index - j * stride for j in range(k)]
    if picks[-1] < 0:
        return None
    return [checkpoints[i] for i in picks]


def build_lawa(qwha_average, checkpoints, index, k, stride, out):
    """qwha-average --mode=lawa over the checkpoints up to `index`."""
    if out.exists():
        shutil.rmtree(out)
    _, seconds = qwha_hf.run([qwha_average, *[p for _, p in checkpoints[:index + 1]],
                              "-o", out, "--mode=lawa", f"--last={k}", f"--stride={stride}"])
    return seconds


# ---------------------------------------------------------------- schedule


def read_schedule(path):
    """(steps, lr) arrays from a trainer's JSON: {"steps": [...], "lr": [...]},
    or a list of {"step", "lr"} entries (Hugging Face's log_history has
    "learning_rate")."""
    data = json.loads(pathlib.Path(path).read_text())
    if isinstance(data, dict) and "steps" in data and "lr" in data:
        steps, lr = data["steps"], data["lr"]
    else:
        entries = data.get("log_history", data) if isinstance(data, dict) else data
        pairs = [(e["step"], e.get("lr", e.get("learning_rate"))) for e in entries
                 if isinstance(e, dict) and "step" in e
                 and e.get("lr", e.get("learning_rate")) is not None]
        if not pairs:
            raise ValueError(f"{path}: no learning rates (expected \"steps\" and \"lr\" lists "
                             "or entries with \"step\" and \"lr\"/\"learning_rate\")")
        steps, lr = zip(*pairs)
    return np.asarray(steps, dtype=np.float64), np.asarray(lr, dtype=np.float64)


# ---------------------------------------------------------------- report


def summary_row(result):
    return {"float_ce": result["float"]["cross_entropy"],
            "ce_ratio": {row["spec"]: row["ce_ratio"] for row in result["configs"]},
            "cross_entropy": {row["spec"]: row["cross_entropy"] for row in result["configs"]}}


def config_labels(report):
    """The configurations' labels as lm_eval names them (with the group size
    actually used), from the first checkpoint's result."""
    rows = report["checkpoints"][0]["checkpoint_result"]["configs"]
    return [row["label"] for row in rows]


def format_table(report):
    configs = report["configs"]
    has_lr = any(c.get("lr") is not None for c in report["checkpoints"])
    head = f"  {'step':>7} " + (f"{'lr':>9} " if has_lr else "") + f"{'model':<6} {'CE_fp':>8}"
    head += "".join(f" {label.split(' g')[0]:>11}" for label in config_labels(report))
    lines = [head]
    for c in report["checkpoints"]:
        for kind in ("checkpoint", "lawa"):
            r = c.get(kind)
            if not r:
                continue
            lr = "" if not has_lr else (f"{c['lr']:>9.2e} " if c.get("lr") is not None
                                        else f"{'-':>9} ")
            if kind == "lawa":
                lr = " " * len(lr)
            line = (f"  {c['step']:>7} {lr}{'ckpt' if kind == 'checkpoint' else 'LAWA':<6} "
                    f"{r['float_ce']:>8.4f}")
            line += "".join(f" {r['ce_ratio'][s]:>+11.3%}" for s in configs)
            lines.append(line)
    return "\n".join(lines)


def format_markdown(report):
    """The table as Markdown: one row per step, the checkpoint's ratios and,
    where evaluated, the LAWA average's."""
    configs = report["configs"]
    labels = config_labels(report)
    lawa = any(c.get("lawa") for c in report["checkpoints"])
    head = ["step", "lr", "CE_fp"] + labels
    if lawa:
        head += ["LAWA CE_fp"] + [f"LAWA {label}" for label in labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for c in report["checkpoints"]:
        r = c["checkpoint"]
        cells = [str(c["step"]), "-" if c.get("lr") is None else f"{c['lr']:.2e}",
                 f"{r['float_ce']:.4f}"] + [f"{r['ce_ratio'][s]:+.3%}" for s in configs]
        if lawa:
            a = c.get("lawa")
            cells += ([f"{a['float_ce']:.4f}"] + [f"{a['ce_ratio'][s]:+.3%}" for s in configs]
                      if a else ["-"] * (1 + len(configs)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(report, schedule, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["checkpoints"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (spec, label) in enumerate(zip(report["configs"], config_labels(report))):
        xs = [c["step"] for c in rows]
        top.plot(xs, [100 * c["checkpoint"]["ce_ratio"][spec] for c in rows], "o-",
                 color=colors[i % len(colors)], label=label, markersize=3)
        lawa = [c for c in rows if c.get("lawa")]
        if lawa:
            top.plot([c["step"] for c in lawa], [100 * c["lawa"]["ce_ratio"][spec] for c in lawa],
                     "s--", color=colors[i % len(colors)], markersize=3,
                     label=f"{label}, LAWA")
    top.set_ylabel("CE_q / CE_fp - 1 (%)")
    top.axhline(0, color="black", linewidth=0.5)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=7, ncol=2)
    bottom.plot([c["step"] for c in rows], [c["checkpoint"]["float_ce"] for c in rows], "o-",
                color="black", markersize=3, label="float CE, checkpoint")
    lawa = [c for c in rows if c.get("lawa")]
    if lawa:
        bottom.plot([c["step"] for c in lawa], [c["lawa"]["float_ce"] for c in lawa], "s--",
                    color="gray", markersize=3, label="float CE, LAWA")
    bottom.set_ylabel("held-out CE (nats)")
    bottom.set_xlabel("training step")
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=7)
    if schedule is not None:
        for ax in (top, bottom):
            twin = ax.twinx()
            twin.fill_between(schedule[0], schedule[1], color="tab:gray", alpha=0.12, step="post")
            twin.set_ylabel("learning rate", color="tab:gray")
            twin.tick_params(axis="y", colors="tab:gray")
            twin.set_ylim(bottom=0)
            ax.set_zorder(twin.get_zorder() + 1)
            ax.patch.set_visible(False)
    lawa_text = "" if not report.get("lawa") else \
        f"; LAWA of the last {report['lawa']['last']} at stride {report['lawa']['stride']}"
    top.set_title(f"Quantization error over training{lawa_text}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+",
                        help="a run directory holding checkpoint directories, or checkpoints")
    lm_eval.add_data_arguments(parser)
    parser.add_argument("--configs", default=lm_eval.DEFAULT_CONFIGS,
                        help=f"comma-separated <rtn|gptq><bits>[-g<group>] "
                             f"(default {lm_eval.DEFAULT_CONFIGS})")
    parser.add_argument("--group-size", type=int, default=None,
                        help="group size for configurations that do not spell one "
                             "(default 128; -1: one group per row)")
    parser.add_argument("--act-order", action="store_true", help="GPTQ with act-order")
    parser.add_argument("--gptq-options", default="",
                        help="more qwha-gptq options, e.g. \"damp=0.05 symmetric\"")
    parser.add_argument("--every", type=int, default=None,
                        help="evaluate only checkpoints whose step is a multiple of this "
                             "(and the last)")
    parser.add_argument("--lawa", type=int, default=None, metavar="K",
                        help="also evaluate the LAWA average of the last K checkpoints")
    parser.add_argument("--stride", type=int, default=1, help="LAWA stride (default 1)")
    parser.add_argument("--schedule", type=pathlib.Path, default=None,
                        help="trainer's JSON with the learning rate per step (drawn on the plot)")
    parser.add_argument("--work", type=pathlib.Path, default=None,
                        help="directory for IR, libraries and LAWA averages "
                             "(default <build>/robustness)")
    parser.add_argument("--json", type=pathlib.Path, default=None)
    parser.add_argument("--plot", type=pathlib.Path, default=None, help="PNG to write")
    parser.add_argument("--markdown", type=pathlib.Path, default=None,
                        help="write the table as Markdown here")
    args = parser.parse_args()

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if args.group_size is not None:
        configs = [c if "-g" in c else re.sub(r"^(rtn|gptq)(\d)", rf"\1\2-g{args.group_size}", c)
                   for c in configs]
    for spec in configs:
        QuantConfig(spec)      # reject a bad spelling before any work
    gptq_options = " ".join(o for o in ["act-order" if args.act_order else "",
                                        args.gptq_options.strip()] if o)
    if args.lawa is not None and (args.lawa < 1 or args.stride < 1):
        raise ValueError("--lawa and --stride must be at least 1")
    schedule = read_schedule(args.schedule) if args.schedule else None

    checkpoints = find_checkpoints(args.checkpoints)
    check_tokenizers(checkpoints)
    chosen = [i for i, (step, _) in enumerate(checkpoints)
              if not args.every or step % args.every == 0 or i == len(checkpoints) - 1]
    tools = lm_eval.find_tools(args.build)
    bin_dir = None if args.build is None else args.build / "bin"
    qwha_average = qwha_hf.find_tool("qwha-average", bin_dir) if args.lawa else None

    first = checkpoints[0][1]
    if args.text:
        tokens = lm_eval.tokenize_text(first, args.text.read_text())
        source = f"{args.text} ({len(tokens)} tokens, tokenizer of {first.name})"
    else:
        tokens = lm_eval.read_tokens(args.tokens)
        source = f"{args.tokens} ({len(tokens)} tokens)"
    vocab = qwha_hf.read_config(first).get("vocab_size")
    if vocab and (tokens.min() < 0 or tokens.max() >= vocab):
        raise ValueError(f"token ids range over [{tokens.min()}, {tokens.max()}], outside the "
                         f"model's vocabulary of {vocab}")
    calib, held = lm_eval.split_chunks(tokens, args.seq_len, args.calib_chunks)
    if args.max_eval_chunks:
        held = held[:args.max_eval_chunks]
    work = args.work or ((args.build or qwha_hf.ROOT / "build") / "robustness")
    work.mkdir(parents=True, exist_ok=True)
    print(f"{len(chosen)} of {len(checkpoints)} checkpoints (steps {checkpoints[0][0]}.."
          f"{checkpoints[-1][0]}); {source}; {len(calib)} calibration and {len(held)} held-out "
          f"chunks of {args.seq_len} tokens; configurations {', '.join(configs)}"
          + (f" (GPTQ options: {gptq_options})" if gptq_options else "")
          + (f"; LAWA of the last {args.lawa} at stride {args.stride}" if args.lawa else "")
          + f"; work in {work}", flush=True)

    report = {"source": source, "seq_len": args.seq_len, "calib_chunks": int(len(calib)),
              "held_chunks": int(len(held)), "held_predictions": int(len(held) * (args.seq_len - 1)),
              "configs": configs, "group_size": args.group_size, "gptq_options": gptq_options,
              "lawa": {"last": args.lawa, "stride": args.stride} if args.lawa else None,
              "schedule": os.fspath(args.schedule) if args.schedule else None,
              "checkpoints": []}
    quiet = lambda *a, **k: None  # noqa: E731
    start = time.perf_counter()
    for n, index in enumerate(chosen, 1):
        step, path = checkpoints[index]
        t0 = time.perf_counter()
        entry = {"step": step, "path": os.fspath(path),
                 "lr": None if schedule is None else float(np.interp(step, *schedule))}
        result = lm_eval.evaluate(path, calib, held, configs, work / path.name, tools,
                                  args.batch, log=quiet, gptq_options=gptq_options)
        entry["checkpoint"] = summary_row(result)
        entry["checkpoint_result"] = result
        line = (f"[{n}/{len(chosen)}] step {step}: CE_fp {result['float']['cross_entropy']:.4f}  "
                + "  ".join(f"{s} {r['ce_ratio']:+.3%}" for s, r in
                            zip(configs, result["configs"])))
        if args.lawa:
            members = lawa_members(checkpoints, index, args.lawa, args.stride)
            if members:
                avg = work / f"lawa-{path.name}"
                avg_seconds = build_lawa(qwha_average, checkpoints, index, args.lawa,
                                         args.stride, avg)
                lawa = lm_eval.evaluate(avg, calib, held, configs, work / f"lawa-{path.name}-eval",
                                        tools, args.batch, log=quiet, gptq_options=gptq_options)
                lawa["average_seconds"] = avg_seconds
                entry["lawa"] = summary_row(lawa)
                entry["lawa"]["members"] = [s for s, _ in members]
                entry["lawa_result"] = lawa
                line += (f"\n        LAWA of steps {','.join(str(s) for s, _ in members)}: CE_fp "
                         f"{lawa['float']['cross_entropy']:.4f}  "
                         + "  ".join(f"{s} {r['ce_ratio']:+.3%}" for s, r in
                                     zip(configs, lawa["configs"])))
        report["checkpoints"].append(entry)
        print(line + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if args.json:          # after every checkpoint, so a long run can be watched
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=1) + "\n")

    report["seconds"] = time.perf_counter() - start
    print(f"\nCE_q / CE_fp - 1 on {report['held_predictions']} held-out predictions "
          "(CE_fp: float model's cross-entropy, nats per token):")
    print(format_table(report))
    print(f"\n{report['seconds']:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(format_markdown(report))
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(report, schedule, args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (qwha_hf.ToolError, ValueError, RuntimeError) as e:
        sys.exit(f"error: {e}")
