#!/usr/bin/env python3
"""Checks `qwha-compile --target=cuda` against `--target=cpu` on a GPU
machine that has torch and CUDA but neither MLIR nor a build of QWHA.

    python3 scripts/gpu-check.py build OUT_DIR [--cpu-only]     # here
    python3 scripts/gpu-check.py run OUT_DIR [--sanitize]       # on the GPU

`build` (needs the build: qwha-compile and libqwha_cuda_runtime.so) compiles
every case, test/Integration/GPU/Inputs/*.mlir by default (each a module
with a public function @forward of tensors), and whole tiny models it
generates (--models: a random BERT and a random Llama from
test/Import/Inputs/make_model.py, imported and quantized to 4 bits, so that
embeddings, norms, attention and activations run in the loop kernels),
for both targets: OUT_DIR/<case>.cpu.so and OUT_DIR/<case>.cuda.so with
their headers. It runs the CPU library on deterministic random inputs of
@forward's argument shapes (dynamic dimensions get --dynamic-size, or the
size a case names in a `// gpu-check: dynamic-size=N` line; floats are
standard normal, integers uniform below the bounds of an `int-range=N,M`
setting, one per integer argument, else 2) and saves the inputs and the
outputs as .npy files, copies libqwha_cuda_runtime.so and the Python driver
(python-bindings/qwha/runtime.py) into OUT_DIR, and describes it all in
OUT_DIR/manifest.json. --cpu-only skips the CUDA compilation (to try this
flow where the CUDA target cannot compile the cases). A case that fails to
compile or run is reported and left out; the exit status says whether any
did. Keep OUT_DIR small and inside the work tree (about 7 MB for the
default cases) to carry it to the GPU machine.

`run` (needs numpy and torch with a CUDA device) calls each case's CUDA
library through qwha.runtime's CompiledModel (loaded by file path: the
native part of the qwha package is not needed) on the saved input moved to
the GPU, compares with the CPU outputs (|gpu - cpu| <= atol + rtol |cpu|,
rtol 1e-4 and atol 1e-4 max|cpu|, or what a case's `// gpu-check:
tolerance=T` line says: rtol T / 3 and atol T max|cpu|, for the TF32
tensor-core kernels), prints a table and exits non-zero on any
mismatch or error. Each case is then captured into a CUDA graph (after a
call on a side stream, as torch advises), its outputs cleared and the
graph replayed, and the replay's outputs are checked the same way:
libraries copy their constants to the GPU when loaded, so every call may
be captured (--no-graph skips this). --time adds the median time of a call between CUDA
events recorded around it (which includes the Python driver's host time
where that exceeds the GPU's; bench/gpu times the kernels alone). --sanitize
runs the same check again under compute-sanitizer's memcheck, then its
racecheck (from PATH or /usr/local/cuda/bin), and fails when either reports
an error.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import traceback
import zlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUNTIME_PY = ROOT / "python-bindings" / "qwha" / "runtime.py"
CUDA_RUNTIME = "libqwha_cuda_runtime.so"
DEFAULT_CASES = ROOT / "test" / "Integration" / "GPU" / "Inputs"
MANIFEST = "manifest.json"
RTOL = 1e-4
ATOL_RELATIVE = 1e-4  # times max |cpu output|


def load_runtime(out_dir=None):
    """qwha.runtime by file path: the source tree's, else the copy `build`
    put in OUT_DIR (for a machine that has the artefacts only)."""
    path = RUNTIME_PY
    if not path.is_file() and out_dir is not None:
        path = pathlib.Path(out_dir) / "runtime.py"
    spec = importlib.util.spec_from_file_location("qwha_runtime_gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_directives(source):
    """The `key=value` settings of a case's `// gpu-check:` lines."""
    settings = {}
    for line in source.read_text().splitlines():
        match = re.match(r"\s*//\s*gpu-check:(.*)", line)
        if not match:
            continue
        for item in match.group(1).split():
            key, _, value = item.partition("=")
            if key not in ("dynamic-size", "tolerance", "int-range") or not value:
                raise ValueError(f"{source.name}: unknown gpu-check setting '{item}'")
            if key == "int-range":
                settings[key] = [int(v) for v in value.split(",")]
                if any(v < 1 for v in settings[key]):
                    raise ValueError(f"{source.name}: int-range values must be positive: '{item}'")
            else:
                settings[key] = int(value) if key == "dynamic-size" else float(value)
    return settings


def compare(got, expected, atol_relative=ATOL_RELATIVE, rtol=RTOL):
    """(passed, max abs error, max abs error relative to max |expected|); a
    NaN anywhere fails."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return False, float("inf"), float("inf")
    if not expected.size:
        return True, 0.0, 0.0
    scale = float(np.abs(expected).max())
    error = np.abs(got - expected)
    passed = bool(np.all(error <= atol_relative * scale + rtol * np.abs(expected)))
    max_error = float(error.max())
    return passed, max_error, max_error / scale if scale else max_error


# --- build ---------------------------------------------------------------------


def make_inputs(entry, directives, dynamic_size, rng):
    """Seeded inputs for @forward's tensor arguments: standard normal floats,
    integers uniform in [0, N) with N from the case's int-range (one per
    integer argument, in order; 2 when not given), e.g. token ids below the
    vocabulary size and a 0/1 attention mask."""
    ranges = list(directives.get("int-range", []))
    inputs = []
    for arg in entry.args:
        if not arg.is_memref:
            raise ValueError(f"@forward takes a scalar ({arg!r}); cases take tensors only: "
                             f"{entry.signature}")
        shape = arg.shape if arg.shape is not None else (None,) * arg.rank
        shape = tuple(dynamic_size if n is None else n for n in shape)
        if arg.dtype.kind == "f":
            inputs.append(rng.standard_normal(shape).astype(arg.dtype))
        elif arg.dtype.kind in "iu":
            high = ranges.pop(0) if ranges else 2
            inputs.append(rng.integers(0, high, size=shape).astype(arg.dtype))
        else:
            raise ValueError(f"@forward argument {arg!r} is neither float nor integer")
    if ranges:
        raise ValueError(f"int-range names {len(directives['int-range'])} ranges, "
                         f"@forward has fewer integer arguments: {entry.signature}")
    return inputs


MAKE_MODEL = ROOT / "test" / "Import" / "Inputs" / "make_model.py"
MODEL_FAMILIES = ("bert", "llama")
MODEL_TOLERANCE = 1e-3  # libdevice's exp/erf/rsqrt and other summation orders


def generate_model_case(family, out_dir, args):
    """A whole tiny model of `family` (test/Import/Inputs/make_model.py's
    random BERT or Llama, hidden size 32), imported at batch 1 and 8
    tokens, its linear layers quantized to 4 bits (RTN, groups of 8): a
    case exercising the loop kernels (embeddings, norms with a warp per
    row, attention, activations) next to the quantized ones. Returns the
    path of its module."""
    model_dir = out_dir / "models" / family
    shutil.rmtree(model_dir, ignore_errors=True)
    tools = args.build_dir / "bin"
    imported = model_dir / "model.mlir"
    quantized = model_dir / "quantized.mlir"
    steps = {
        "make_model.py": [sys.executable, os.fspath(MAKE_MODEL), os.fspath(model_dir),
                          "--family", family, "--wide"],
        "qwha-import": [os.fspath(tools / "qwha-import"), os.fspath(model_dir),
                        "-o", os.fspath(imported), "--batch=1", "--seq-len=8", "--quiet"],
        "qwha-opt": [os.fspath(tools / "qwha-opt"), os.fspath(imported), "-o",
                     os.fspath(quantized), "--pass-pipeline=builtin.module("
                     "qwha-raise-linear,qwha-rtn{bits=4 group-size=8})"],
    }
    for step, command in steps.items():
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{step} failed:\n{proc.stderr.strip()}")
    with open(model_dir / "config.json") as f:
        vocab = json.load(f)["vocab_size"]
    # Token ids below the vocabulary size; BERT's attention mask 0 or 1.
    ranges = f"{vocab},2" if family == "bert" else f"{vocab}"
    source = out_dir / f"model-{family}-rtn4.mlir"
    source.write_text(f"// gpu-check: int-range={ranges} tolerance={MODEL_TOLERANCE:g}\n"
                      + quantized.read_text())
    return source


def build_case(source, out_dir, args, runtime):
    """Compiles and runs one case; its manifest entry."""
    name = source.stem
    case = {"name": name, "source": os.path.relpath(source, ROOT)
            if source.is_relative_to(ROOT) else str(source)}
    compiler = args.build_dir / "bin" / "qwha-compile"
    targets = ["cpu"] if args.cpu_only else ["cpu", "cuda"]
    for target in targets:
        library = f"{name}.{target}.so"
        proc = subprocess.run([os.fspath(compiler), os.fspath(source), f"--target={target}",
                               "-o", os.fspath(out_dir / library)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"qwha-compile --target={target} failed:\n{proc.stderr.strip()}")
        case[target] = library
    case.setdefault("cuda", None)
    directives = read_directives(source)
    tolerance = directives.get("tolerance")
    case["atol_relative"] = tolerance if tolerance else ATOL_RELATIVE
    case["rtol"] = tolerance / 3 if tolerance else RTOL

    model = runtime.CompiledModel(out_dir / case["cpu"])
    if "forward" not in model.entry_points:
        raise ValueError(f"{source.name} has no public @forward "
                         f"(it has {', '.join(sorted(model.entry_points))})")
    # Seeded by the case's name: the same inputs on every build.
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = make_inputs(model.entry_points["forward"], directives,
                         directives.get("dynamic-size", args.dynamic_size), rng)
    outputs = model.forward(*inputs)
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    case["inputs"], case["input_shapes"] = [], []
    for i, x in enumerate(inputs):
        file = f"{name}.input.{i}.npy"
        np.save(out_dir / file, x)
        case["inputs"].append(file)
        case["input_shapes"].append(list(x.shape))
    case["outputs"] = []
    for i, y in enumerate(outputs):
        if not isinstance(y, np.ndarray):
            raise ValueError(f"@forward result {i} is not a tensor: {y!r}")
        file = f"{name}.expected.{i}.npy"
        np.save(out_dir / file, y)
        case["outputs"].append(file)
    return case


def command_build(args):
    runtime = load_runtime()
    out_dir = pathlib.Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = sorted(pathlib.Path(c).resolve() for c in args.case) if args.case \
        else sorted(args.cases_dir.resolve().glob("*.mlir"))
    if args.case:
        args.models = []
    unknown = [f for f in args.models if f not in MODEL_FAMILIES]
    if unknown:
        print(f"error: unknown model families {unknown} (known: {', '.join(MODEL_FAMILIES)})",
              file=sys.stderr)
        return 2
    if not sources and not args.models:
        print(f"error: no cases (*.mlir) in {args.cases_dir}", file=sys.stderr)
        return 1
    manifest = {"created_by": "scripts/gpu-check.py build", "cpu_only": args.cpu_only,
                "rtol": RTOL, "atol_relative": ATOL_RELATIVE,
                "cuda_runtime": None, "cases": [], "failed": []}
    cuda_runtime = args.build_dir / "lib" / CUDA_RUNTIME
    if cuda_runtime.is_file():
        shutil.copy2(cuda_runtime, out_dir / CUDA_RUNTIME)
        manifest["cuda_runtime"] = CUDA_RUNTIME
    elif not args.cpu_only:
        print(f"error: {cuda_runtime} is not built (ninja qwha_cuda_runtime)", file=sys.stderr)
        return 1
    shutil.copy2(RUNTIME_PY, out_dir / "runtime.py")
    for family in args.models:
        try:
            sources.append(generate_model_case(family, out_dir, args))
        except Exception as e:  # reported like a case that fails to build
            name = f"model-{family}-rtn4"
            print(f"FAIL {name}: {e}", file=sys.stderr)
            manifest["failed"].append({"name": name, "error": str(e)})
    for source in sources:
        try:
            case = build_case(source, out_dir, args, runtime)
        except Exception as e:  # reported, and the other cases go on
            print(f"FAIL {source.stem}: {e}", file=sys.stderr)
            manifest["failed"].append({"name": source.stem, "error": str(e)})
            continue
        manifest["cases"].append(case)
        shapes = ", ".join(str(tuple(shape)) for shape in case["input_shapes"])
        print(f"ok   {source.stem}: input {shapes}, {len(case['outputs'])} output(s)")
    with open(out_dir / MANIFEST, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(manifest['cases'])} case(s) in {out_dir}"
          + (f", {len(manifest['failed'])} failed" if manifest["failed"] else ""))
    return 1 if manifest["failed"] else 0


# --- run -----------------------------------------------------------------------


def time_call(torch, model, inputs, repeat):
    """Median milliseconds between CUDA events recorded around a call on
    the current stream (host-inclusive: the GPU may wait for the host)."""
    for _ in range(3):
        model.forward(*inputs)
    times = []
    for _ in range(repeat):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        model.forward(*inputs)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def check_outputs(torch, got, case, out_dir):
    """(status, max abs error, max rel error, notes) of a call's outputs
    against the CPU's."""
    got = list(got) if isinstance(got, tuple) else [got]
    if len(got) != len(case["outputs"]):
        return "MISMATCH", float("inf"), float("inf"), \
            [f"{len(got)} outputs, the CPU gave {len(case['outputs'])}"]
    status, worst_abs, worst_rel, notes = "ok", 0.0, 0.0, []
    for i, (y, file) in enumerate(zip(got, case["outputs"])):
        expected = np.load(out_dir / file)
        if not isinstance(y, torch.Tensor) or y.device.type != "cuda":
            return "MISMATCH", float("inf"), float("inf"), \
                [f"output {i} is {type(y).__name__}, not a CUDA tensor"]
        y = y.cpu().numpy()
        passed, max_abs, max_rel = compare(
            y, expected, case.get("atol_relative", ATOL_RELATIVE), case.get("rtol", RTOL))
        if y.shape != expected.shape:
            notes.append(f"output {i} shape {y.shape}, expected {expected.shape}")
        if not passed:
            status = "MISMATCH"
        worst_abs, worst_rel = max(worst_abs, max_abs), max(worst_rel, max_rel)
    return status, worst_abs, worst_rel, notes


def replay_graph(torch, model, inputs):
    """The outputs of a call captured into a CUDA graph, cleared, then
    written by one replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        model.forward(*inputs)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        got = model.forward(*inputs)
    outputs = list(got) if isinstance(got, tuple) else [got]
    for y in outputs:
        y.zero_()
    graph.replay()
    torch.cuda.synchronize()
    return got


def run_case(case, out_dir, args, runtime, torch):
    """One row of the table: (status, max abs error, max rel error, ms, note)."""
    runtime_path = out_dir / CUDA_RUNTIME
    model = runtime.CompiledModel(out_dir / case["cuda"], cuda_runtime=runtime_path
                                  if runtime_path.is_file() else None)
    if model.target != "cuda":
        raise RuntimeError(f"{case['cuda']}'s header does not say QWHA_TARGET_CUDA")
    inputs = [torch.from_numpy(np.load(out_dir / file)).cuda() for file in case["inputs"]]
    got = model.forward(*inputs)
    torch.cuda.synchronize()
    status, worst_abs, worst_rel, notes = check_outputs(torch, got, case, out_dir)
    if args.graph and status == "ok":
        try:
            replayed = replay_graph(torch, model, inputs)
        except Exception as e:
            return "GRAPH", worst_abs, worst_rel, None, \
                f"capturing a call into a CUDA graph failed: {type(e).__name__}: {e}"
        status, graph_abs, graph_rel, graph_notes = check_outputs(torch, replayed, case, out_dir)
        if status != "ok":
            status = "GRAPH"
            notes.append("the CUDA graph's replay differs from the CPU")
        notes += graph_notes
        worst_abs, worst_rel = max(worst_abs, graph_abs), max(worst_rel, graph_rel)
    ms = time_call(torch, model, inputs, args.repeat) if args.time else None
    return status, worst_abs, worst_rel, ms, "; ".join(notes)


def command_run(args):
    out_dir = pathlib.Path(args.out_dir).resolve()
    if args.sanitize:
        return sanitize(args, out_dir)
    try:
        with open(out_dir / MANIFEST) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        print(f"error: cannot read {out_dir / MANIFEST}: {e} "
              "(write it with `gpu-check.py build`)", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print("error: torch cannot be imported", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("error: torch sees no CUDA device", file=sys.stderr)
        return 2
    runtime = load_runtime(out_dir)
    cases = [c for c in manifest.get("cases", [])
             if not args.filter or any(f in c["name"] for f in args.filter)]
    rows, failures = [], 0
    for case in cases:
        if not case.get("cuda"):
            rows.append((case["name"], "SKIPPED", None, None, None, "no CUDA library (--cpu-only)"))
            failures += 1
            continue
        try:
            status, max_abs, max_rel, ms, note = run_case(case, out_dir, args, runtime, torch)
        except Exception as e:  # every case gets a row
            status, max_abs, max_rel, ms = "ERROR", None, None, None
            note = f"{type(e).__name__}: {e}"
            if args.verbose:
                traceback.print_exc()
        failures += status != "ok"
        rows.append((case["name"], status, max_abs, max_rel, ms, note))
    for failed in manifest.get("failed", []):
        rows.append((failed["name"], "BUILD", None, None, None, failed["error"]))
        failures += 1
    print_table(rows, torch.cuda.get_device_name())
    if not rows:
        print("error: no cases to run", file=sys.stderr)
        return 1
    return 1 if failures else 0


def print_table(rows, device):
    def number(v):
        return "-" if v is None else f"{v:.3g}"
    header = ("case", "status", "max abs err", "max rel err", "ms", "")
    table = [header] + [(n, s, number(a), number(r), number(ms), note.splitlines()[0]
                         if note else "") for n, s, a, r, ms, note in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    print(f"{device}; tolerance rtol {RTOL:g}, atol {ATOL_RELATIVE:g} x max|cpu output| "
          "unless a case sets its own (TF32 tensor-core cases)")
    for row in table:
        print(("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]).rstrip())
    for name, status, _, _, _, note in rows:
        if note and "\n" in note:
            print(f"\n{name}: {note}")


def find_compute_sanitizer():
    found = shutil.which("compute-sanitizer")
    if found:
        return found
    fallback = pathlib.Path("/usr/local/cuda/bin/compute-sanitizer")
    return os.fspath(fallback) if fallback.is_file() else None


def sanitize(args, out_dir):
    """This check again under compute-sanitizer, one tool after the other."""
    sanitizer = find_compute_sanitizer()
    if not sanitizer:
        print("error: compute-sanitizer is neither on PATH nor in /usr/local/cuda/bin",
              file=sys.stderr)
        return 2
    command = [sys.executable, os.fspath(pathlib.Path(__file__).resolve()), "run",
               os.fspath(out_dir)]
    # Capture needs torch's caching allocator, which is off there (below).
    command += ["--no-graph"] + [a for f in args.filter for a in ("-k", f)]
    if args.verbose:
        command.append("--verbose")
    # torch's caching allocator would hide out-of-bounds accesses into its
    # cached blocks from memcheck.
    env = dict(os.environ, PYTORCH_NO_CUDA_MEMORY_CACHING="1")
    status = 0
    for tool in ("memcheck", "racecheck"):
        print(f"== compute-sanitizer --tool {tool}", flush=True)
        rc = subprocess.run([sanitizer, "--tool", tool, "--error-exitcode", "99",
                             *command], env=env).returncode
        if rc:
            print(f"== {tool}: exit status {rc}"
                  + (" (sanitizer errors)" if rc == 99 else ""), flush=True)
            status = 1
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="compile the cases and record CPU outputs")
    build.add_argument("out_dir")
    build.add_argument("--build-dir", type=pathlib.Path,
                       default=pathlib.Path(os.environ.get("QWHA_BINARY_DIR", ROOT / "build")),
                       help="the build with bin/qwha-compile and lib/" + CUDA_RUNTIME
                       + " (default: $QWHA_BINARY_DIR, else build/)")
    build.add_argument("--cases-dir", type=pathlib.Path, default=DEFAULT_CASES,
                       help="compile every *.mlir there (default: %(default)s)")
    build.add_argument("--case", action="append", default=[],
                       help="compile this .mlir file instead (repeatable)")
    build.add_argument("--cpu-only", action="store_true",
                       help="do not compile for CUDA (run then has nothing to check)")
    build.add_argument("--models", default=",".join(MODEL_FAMILIES),
                       type=lambda v: [] if v in ("", "none") else v.split(","),
                       help="whole tiny models to generate and add as cases: "
                       "comma-separated families of " + ", ".join(MODEL_FAMILIES)
                       + " (default: all; 'none' for none; off with --case)")
    build.add_argument("--dynamic-size", type=int, default=4,
                       help="size of @forward's dynamic dimensions (default 4)")
    build.set_defaults(run=command_build)
    run = commands.add_parser("run", help="run the CUDA libraries and compare (GPU)")
    run.add_argument("out_dir")
    run.add_argument("-k", dest="filter", action="append", default=[],
                     help="only the cases whose name contains this (repeatable)")
    run.add_argument("--time", action="store_true", help="also time each call")
    run.add_argument("--no-graph", dest="graph", action="store_false",
                     help="do not check calls captured into CUDA graphs")
    run.add_argument("--repeat", type=int, default=20, help="timed calls (default 20)")
    run.add_argument("--sanitize", action="store_true",
                     help="run under compute-sanitizer memcheck, then racecheck")
    run.add_argument("--verbose", action="store_true", help="tracebacks of errors")
    run.set_defaults(run=command_run)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
