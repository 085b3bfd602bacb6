"""Peak memory of the import -> calibrate -> GPTQ path on a Llama checkpoint
whose layer statistics (Hessians) are three times its weights, against the
same path on a tiny checkpoint (so that the libraries' own memory cancels).

usage: bounded_memory.py <test/lib> <make_model.py> <work dir>   (tools from PATH)

Each tool runs as a child whose peak resident set size comes from wait4
(ru_maxrss; pages of mapped files that were read count too). Checks:
  - qwha-import reads the F32 weights in place: peak <= checkpoint + 16 MiB;
  - qwha-calibrate --max-statistics-mib=16 writes the same bytes as an
    unbounded run, and its peak grows by at most the weights twice (mapped
    and packed for the CPU kernels) plus the bound plus the largest layer
    plus 16 MiB, while the unbounded run holds every layer's sums;
  - qwha-opt -qwha-gptq on the bytecode model with the calibration file
    holds one layer's Hessian at a time: peak <= weights + 2 x the largest
    layer's statistics + 16 MiB.
Prints the figures and exits with 1 when a bound is exceeded."""

import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

MIB = 1 << 20
SLACK = 16 * MIB
HIDDEN, INNER, LAYERS, VOCAB, HEADS = 512, 1024, 4, 256, 8
BATCH, SEQ, SAMPLES = 1, 32, 4
BOUND_MIB = 16


def peak_rss(command):
    """Peak resident set size of `command` in bytes, and its wall time."""
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    stderr = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed:\n%s" % (" ".join(command), stderr))
    return usage.ru_maxrss * 1024, time.monotonic() - start


def write_safetensors(path, tensors):
    """tensors: name -> numpy array (float32 or int64)."""
    safetensors_lite.write(path, {
        name: ({"float32": "F32", "int64": "I64"}[a.dtype.name], list(a.shape),
               np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
               .tobytes())
        for name, a in tensors.items()})


def make_large(directory):
    """A Llama checkpoint: 4 layers, hidden 512, MLP 1024, full heads."""
    import json
    rng = np.random.default_rng(0)
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN),
              "model.norm.weight": (HIDDEN,), "lm_head.weight": (VOCAB, HIDDEN)}
    for layer in range(LAYERS):
        at = "model.layers.%d." % layer
        for name, shape in [("self_attn.q_proj", (HIDDEN, HIDDEN)),
                            ("self_attn.k_proj", (HIDDEN, HIDDEN)),
                            ("self_attn.v_proj", (HIDDEN, HIDDEN)),
                            ("self_attn.o_proj", (HIDDEN, HIDDEN)),
                            ("mlp.gate_proj", (INNER, HIDDEN)),
                            ("mlp.up_proj", (INNER, HIDDEN)),
                            ("mlp.down_proj", (HIDDEN, INNER))]:
            shapes[at + name + ".weight"] = shape
        shapes[at + "input_layernorm.weight"] = (HIDDEN,)
        shapes[at + "post_attention_layernorm.weight"] = (HIDDEN,)
    tensors = {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            tensors[name] = np.ones(shape, np.float32)
        else:
            scale = 1 / np.sqrt(shape[-1])
            tensors[name] = (rng.standard_normal(shape) * scale).astype(
                np.float32)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "hidden_size": HIDDEN,
                   "num_attention_heads": HEADS, "num_key_value_heads": HEADS,
                   "num_hidden_layers": LAYERS, "intermediate_size": INNER,
                   "vocab_size": VOCAB, "max_position_embeddings": 64,
                   "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                   "hidden_act": "silu", "tie_word_embeddings": False}, f)
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    linear = [n for n in shapes if n.endswith("_proj.weight")] + [
        "lm_head.weight"]
    weights = sum(tensors[n].nbytes for n in linear)
    stats = [12 * shapes[n][1] ** 2 for n in linear]  # double sum + float
    return weights, sum(stats), max(stats)


def run_path(model_dir, work, vocab, bound_mib):
    """import, calibrate (bounded and not), GPTQ; peak RSS of each step."""
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "model.mlirbc")
    samples = os.path.join(work, "samples.safetensors")
    ids = np.random.default_rng(1).integers(0, vocab, (SAMPLES, BATCH, SEQ))
    write_safetensors(samples, {"input_ids": ids.astype(np.int64)})
    peaks = {}
    peaks["import"], _ = peak_rss(
        ["qwha-import", model_dir, "-o", model,
         "--batch=%d" % BATCH, "--seq-len=%d" % SEQ, "--emit-bytecode",
         "--quiet"])
    calib = {}
    for label, budget in [("calibrate", 0), ("calibrate-bounded", bound_mib)]:
        calib[label] = os.path.join(work, label + ".safetensors")
        peaks[label], _ = peak_rss(
            ["qwha-calibrate", model, "--inputs", samples,
             "-o", calib[label], "--max-statistics-mib=%d" % budget])
    with open(calib["calibrate"], "rb") as a, \
            open(calib["calibrate-bounded"], "rb") as b:
        if a.read() != b.read():
            sys.exit("%s: bounded calibration wrote other bytes" % work)
    peaks["gptq"], _ = peak_rss(
        ["qwha-opt", model, "-qwha-raise-linear",
         "-qwha-gptq=calibration=%s group-size=32" %
         calib["calibrate-bounded"],
         "--emit-bytecode", "-o", os.path.join(work, "quantized.mlirbc")])
    return peaks


def main():
    make_model, work = sys.argv[2:4]
    tiny = os.path.join(work, "tiny")
    subprocess.run([sys.executable, make_model, tiny, "--family", "llama",
                    "--wide"],
                   check=True)
    large = os.path.join(work, "large")
    weights, stats, largest = make_large(large)
    checkpoint = os.path.getsize(os.path.join(large, "model.safetensors"))
    base = run_path(tiny, os.path.join(work, "tiny-run"), 40, 1)
    peak = run_path(large, os.path.join(work, "large-run"), VOCAB,
                    BOUND_MIB)
    extra = {k: peak[k] - base[k] for k in peak}

    print("checkpoint: %.1f MiB, linear weights %.1f MiB, statistics %.1f MiB "
          "(largest layer %.1f MiB)" % (checkpoint / MIB, weights / MIB,
                                        stats / MIB, largest / MIB))
    for k in peak:
        print("%-18s peak RSS %7.1f MiB, %7.1f MiB over the tiny model" %
              (k, peak[k] / MIB, extra[k] / MIB))
    bounds = {
        "import": checkpoint + SLACK,
        "calibrate-bounded": 2 * weights + BOUND_MIB * MIB + largest + SLACK,
        "gptq": weights + 2 * largest + SLACK,
    }
    failed = False
    for k, bound in bounds.items():
        ok = extra[k] <= bound
        failed |= not ok
        print("bound %-18s %7.1f MiB <= %7.1f MiB: %s" %
              (k, extra[k] / MIB, bound / MIB, "ok" if ok else "EXCEEDED"))
    # The unbounded run must actually hold what the bound saves, or the
    # comparison above proves nothing: every layer's double-precision sum
    # (2/3 of the statistics) at once, where the bounded run holds a group's.
    saved = extra["calibrate"] - extra["calibrate-bounded"]
    expected = stats * 2 / 3 - BOUND_MIB * MIB - largest
    ok = saved >= expected
    failed |= not ok
    print("bounded calibration saves %.1f MiB (>= %.1f MiB): %s"
          % (saved / MIB, expected / MIB, "ok" if ok else "NO"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
