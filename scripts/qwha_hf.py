"""Helpers shared by the scripts that run Hugging Face models through QWHA
(scripts/demo.py, scripts/lm_eval.py, test/Import/Inputs/*.py): finding and
running the tools, tokenizing, writing sample files, pooling, and reading
layer sizes back from the IR.

Standard library and numpy; the `tokenizers` package (or transformers) only
when a tokenizer is loaded.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- tools


class ToolError(RuntimeError):
    pass


def find_tool(name, bin_dir=None):
    """`bin_dir/name` when given, else the first `name` on PATH, else
    build/bin/name of this checkout."""
    if bin_dir is not None:
        path = pathlib.Path(bin_dir) / name
        if not path.exists():
            raise ToolError(f"{path} does not exist (build it first)")
        return path
    found = shutil.which(name)
    if found:
        return pathlib.Path(found)
    path = ROOT / "build" / "bin" / name
    if path.exists():
        return path
    raise ToolError(f"{name} is neither on PATH nor in {ROOT / 'build' / 'bin'}")


def run(cmd, quiet=True):
    """Runs a command, raising ToolError with its output when it fails;
    returns (CompletedProcess, seconds)."""
    cmd = [os.fspath(c) for c in cmd]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=quiet, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        output = "" if not quiet else (result.stderr or "") + (result.stdout or "")
        if len(output) > 6000:
            output = output[:3000] + "\n[...]\n" + output[-3000:]
        raise ToolError(f"{' '.join(cmd)} failed (exit {result.returncode}):\n{output}")
    return result, seconds


# ---------------------------------------------------------------- files

_ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
              np.dtype(np.float16): "F16", np.dtype(np.int64): "I64",
              np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
              np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: ndarray} in the safetensors format (little endian)."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _ST_DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_config(model_dir):
    return json.loads((pathlib.Path(model_dir) / "config.json").read_text())


# ---------------------------------------------------------------- tokenizers


class Tokenizer:
    """A model directory's tokenizer without padding or truncation:
    `encode(text, special)` -> list of ids. `prefix` / `suffix` are the
    special ids the tokenizer puts around one sequence (BERT: [CLS] / [SEP];
    Llama: <s> / nothing)."""

    def __init__(self, model_dir):
        model_dir = pathlib.Path(model_dir)
        self.source = None
        path = model_dir / "tokenizer.json"
        if path.exists():
            try:
                from tokenizers import Tokenizer as HFTokenizer
                self._tok = HFTokenizer.from_file(os.fspath(path))
                self._tok.no_padding()
                self._tok.no_truncation()
                self._encode = lambda text, special: self._tok.encode(
                    text, add_special_tokens=special).ids
                self.source = f"{path} (tokenizers)"
            except ImportError:
                pass
        if self.source is None:
            try:
                from transformers import AutoTokenizer
            except ImportError:
                sys.exit(f"error: reading the tokenizer of {model_dir} needs the 'tokenizers' "
                         "package (pip install tokenizers) or transformers")
            self._tok = AutoTokenizer.from_pretrained(os.fspath(model_dir))
            self._encode = lambda text, special: self._tok(
                text, add_special_tokens=special)["input_ids"]
            self.source = f"{model_dir} (transformers AutoTokenizer)"
        probe = "hello"
        bare = self._encode(probe, False)
        full = self._encode(probe, True)
        start = next((i for i in range(len(full)) if full[i:i + len(bare)] == bare), 0)
        self.prefix = full[:start]
        self.suffix = full[start + len(bare):]

    def encode(self, text, special=True):
        return list(self._encode(text, special))


def read_lines(path):
    return [line.strip() for line in pathlib.Path(path).read_text().splitlines()
            if line.strip()]


def pack_sentences(token_lists, seq_len, prefix, suffix):
    """Packs sentences (ids without special tokens) into full chunks of
    `seq_len`: each chunk is `prefix + stream[...]` where the stream is the
    sentences each followed by `suffix` (BERT: [CLS] s1 [SEP] s2 [SEP] ...,
    a sentence may continue into the next chunk). The tail that does not
    fill a chunk is dropped. Returns an int64 array [chunks, seq_len]."""
    stream = []
    for ids in token_lists:
        stream += list(ids) + list(suffix)
    body = seq_len - len(prefix)
    chunks = [list(prefix) + stream[i:i + body] for i in range(0, len(stream) - body + 1, body)]
    return np.array(chunks, dtype=np.int64).reshape(-1, seq_len)


def pad_batch(token_lists, seq_len, pad_id=0):
    """ids, mask of shape [n, seq_len] (int64), right-padded."""
    ids = np.full((len(token_lists), seq_len), pad_id, np.int64)
    mask = np.zeros((len(token_lists), seq_len), np.int64)
    for row, tokens in enumerate(token_lists):
        if len(tokens) > seq_len:
            raise ValueError(f"a sequence of {len(tokens)} tokens does not fit seq-len {seq_len}")
        ids[row, :len(tokens)] = tokens
        mask[row, :len(tokens)] = 1
    return ids, mask


# ---------------------------------------------------------------- pooling


def pooling_mode(model_dir):
    """sentence-transformers' pooling of a model directory: 'mean', 'cls',
    'max' or 'mean_sqrt_len', and whether it L2-normalizes. Plain
    transformers directories default to mean pooling, normalized."""
    model_dir = pathlib.Path(model_dir)
    mode, normalize = "mean", True
    modules = model_dir / "modules.json"
    if modules.exists():
        entries = json.loads(modules.read_text())
        normalize = any(e.get("type", "").endswith("Normalize") for e in entries)
        for e in entries:
            if e.get("type", "").endswith("Pooling"):
                config = json.loads((model_dir / e["path"] / "config.json").read_text())
                for key, name in (("pooling_mode_cls_token", "cls"),
                                  ("pooling_mode_max_tokens", "max"),
                                  ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
                                  ("pooling_mode_mean_tokens", "mean")):
                    if config.get(key):
                        mode = name
    return mode, normalize


def pool(hidden, mask, mode="mean", normalize=True):
    """Sentence embeddings from token states [n, S, H] and mask [n, S], as
    sentence-transformers computes them."""
    hidden = hidden.astype(np.float64)
    m = mask.astype(np.float64)[..., None]
    if mode == "cls":
        out = hidden[:, 0]
    elif mode == "max":
        out = np.where(m > 0, hidden, -1e9).max(axis=1)
    else:
        total = (hidden * m).sum(axis=1)
        count = np.clip(m.sum(axis=1), 1e-9, None)
        out = total / (np.sqrt(count) if mode == "mean_sqrt_len" else count)
    if normalize:
        out = out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
    return out


# ---------------------------------------------------------------- IR


_LAYER = re.compile(r'qwha\.(?P<op>linear|qlinear|qlinear_wha) "(?P<name>[^"]+)"(?P<rest>.*)$')
_TENSOR = re.compile(r"tensor<(?P<dims>(?:[0-9?]+x)*)(?P<elt>[a-z]+\d*)>")


def _tensor(text):
    m = _TENSOR.fullmatch(text.strip())
    if not m:
        return None
    dims = [-1 if d == "?" else int(d) for d in m.group("dims").split("x") if d]
    elt = m.group("elt")
    bits = int(re.sub(r"\D", "", elt) or 0)
    return dims, elt, bits


def _nbytes(t):
    dims, _, bits = t
    count = 1
    for d in dims:
        count *= d
    return (count * bits + 7) // 8


def layer_table(ir_text):
    """The layers of a module printed as text (constants may be elided):
    [{name, op, out, in, bits, weight_bytes, adapter_entries}]. Weight bytes
    count what the layer stores: f32 weights, or codes at their width plus
    scales, zero points, g_idx and the adapter's CSR arrays."""
    layers = []
    for line in ir_text.splitlines():
        m = _LAYER.search(line)
        if not m:
            continue
        rest = m.group("rest")
        adapter = []
        am = re.search(r"adapter\([^:]*:(?P<types>[^)]*)\)", rest)
        if am:
            adapter = [_tensor(t) for t in am.group("types").split(",")]
            rest = rest[:am.start()] + rest[am.end():]
        head, _, types = rest.rpartition(" : ")
        operands = [_tensor(t) for t in types.split("->")[0].split(",")]
        if len(operands) < 2 or not all(operands[1:]):
            continue
        weight = operands[1]
        out_features, in_features = weight[0][-2], weight[0][-1]
        if m.group("op") == "linear":
            nbytes, bits = _nbytes(weight), weight[2]
        else:
            nbytes = sum(_nbytes(t) for t in operands[1:])  # codes, scales, zeros[, g_idx]
            bits = weight[2]
        entries = 0
        if adapter:
            nbytes += sum(_nbytes(t) for t in adapter if t)
            entries = adapter[1][0][0] if adapter[1] else 0
        layers.append({"name": m.group("name"), "op": m.group("op"), "out": out_features,
                       "in": in_features, "bits": bits, "weight_bytes": nbytes,
                       "adapter_entries": entries})
    return layers


def elided_text(qwha_opt, module):
    """The module as text with constants and resources elided (fast to read)."""
    result, _ = run([qwha_opt, module, "--mlir-elide-elementsattrs-if-larger=8",
                     "--mlir-elide-resource-strings-if-larger=8"])
    return result.stdout


def group_size_for(layers, wanted):
    """The largest divisor of every layer's input features that is at most
    `wanted` (-1 stays -1), so one group size fits all layers."""
    if wanted == -1:
        return -1
    from math import gcd
    g = 0
    for layer in layers:
        g = gcd(g, layer["in"])
    best = 1
    for d in range(1, min(g, wanted) + 1):
        if g % d == 0:
            best = d
    return best


# ---------------------------------------------------------------- quantization configs

_CONFIG = re.compile(r"^(?P<method>rtn|gptq)(?P<bits>[2348])(?:-g(?P<group>-?\d+))?"
                     r"(?P<seq>-seq)?(?:\+wha(?P<rank>\d+))?$")


class QuantConfig:
    """A quantization configuration spelled `<rtn|gptq><bits>[-g<group>][+wha<rank>]`,
    e.g. `gptq4`, `rtn3-g64`, `gptq2-g64+wha8` (group size default 128, -1 for
    one group per row)."""

    def __init__(self, spec, default_group=128):
        m = _CONFIG.match(spec.strip().lower())
        if not m:
            raise ValueError(f"bad configuration '{spec}': expected <rtn|gptq><bits>[-g<group>]"
                             f"[+wha<rank>], e.g. gptq4, rtn3-g64, gptq2-g64+wha8")
        self.spec = spec.strip().lower()
        self.method = m.group("method")
        self.bits = int(m.group("bits"))
        self.group = int(m.group("group")) if m.group("group") else default_group
        self.rank = int(m.group("rank")) if m.group("rank") else 0
        if self.rank and self.method != "gptq":
            raise ValueError(f"'{spec}': adapters are initialised after GPTQ only")
        if m.group("seq"):
            raise ValueError(f"'{spec}': sequential quantization is not offered here")

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9]+", "-", self.spec).strip("-")

    def label(self, group=None):
        group = self.group if group is None else group
        text = f"{self.method.upper()} {self.bits}-bit " + ("g-1" if group == -1 else f"g{group}")
        return text + (f" + WHA r{self.rank}" if self.rank else "")

    def pipeline(self, calib, report, wha_report=None, group=None, gptq_options=""):
        """The pass pipeline (after qwha-raise-linear) as qwha-opt's
        --pass-pipeline wants it, without the builtin.module().
        `gptq_options` (e.g. "act-order damp=0.05") go to qwha-gptq only."""
        group = self.group if group is None else group
        common = f"bits={self.bits} group-size={group} calibration={calib} report={report}"
        if self.method == "rtn":
            return f"qwha-rtn{{{common}}}"
        if gptq_options:
            common += " " + gptq_options.strip()
        if not self.rank:
            return f"qwha-gptq{{{common}}}"
        # QWHA: the quantizer keeps the float weight, adapters are fitted to
        # the quantization error under the calibration statistics, then the
        # layer and its adapter are fused into qwha.qlinear_wha.
        return (f"qwha-gptq{{{common} keep-float-weight}}, "
                f"qwha-wha-init{{calibration={calib} rank={self.rank} report={wha_report}}}, "
                "qwha-fuse-adapters")


def mean_layer_error(report_path):
    """Mean over layers of ||(W - Q)X||^2 / ||WX||^2 from a qwha-gptq, qwha-rtn
    or qwha-wha-init report."""
    layers = json.loads(pathlib.Path(report_path).read_text())["layers"]
    errors = [layer["relative_error"] for layer in layers if "relative_error" in layer]
    return sum(errors) / len(errors) if errors else float("nan")
