#!/usr/bin/env python3
"""Times the layers bench/gpu/make_layers.py wrote, compiled with
`qwha-compile --target=cuda`, on the GPU machine (torch, no MLIR needed).

Here:   python3 bench/gpu/make_layers.py /tmp/gpu-bench
        for f in /tmp/gpu-bench/*.mlir; do
          build/bin/qwha-compile $f --target=cuda --chip=sm_90 \\
              --cuda-pipeline-options=format=bin -o ${f%.mlir}.so; done
        cp build/lib/libqwha_cuda_runtime.so /tmp/gpu-bench/
There:  python3 bench/gpu/bench_layers.py /tmp/gpu-bench [--batches 1,16,64]

For each `<N>x<K>.so` and batch M: the layer's time (CUDA events around
`--iters` calls on torch's stream, median of `--repeat`), the bandwidth it
reaches on its packed weight (N K bits / 8 + scales) against a
device-to-device copy of as many bytes timed in the same run, and the
speed-up over torch fp16 `x @ W^T` (cuBLAS) of the same shape; `-wha`
libraries give the adapter overhead over the plain layer; `fwht-<d>.so`
is compared with the dense transform through cuBLAS (`x @ H`) and with
copy bandwidth, and with the fast-hadamard-transform package if it
imports. Prints a table and writes bench.json next to the libraries.
Targets (issue 7): bandwidth >= 80% of copy at batch 1, >= 3x torch fp16
at batch 1, faster at 16, adapter overhead <= 10%.

With the default options batches 1-16 run the warp-per-rows kernels and
batch 64 the TF32 tensor-core ones (mma-min-batch 17 on sm_80 and newer).
To time batch 16 on the tensor cores too, compile a second set with
`--cuda-pipeline-options="format=bin mma-min-batch=16"` into another
directory and run this on it.
"""

import argparse
import importlib.util
import json
import pathlib
import re
import statistics
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_runtime():
    spec = importlib.util.spec_from_file_location(
        "qwha_runtime", ROOT / "python-bindings" / "qwha" / "runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_ms(fn, iters, repeat):
    fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeat):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / iters)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--batches", default="1,16,64")
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group", type=int, default=128)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runtime = load_runtime()
    directory = pathlib.Path(args.dir)
    device = torch.device("cuda")
    batches = [int(b) for b in args.batches.split(",")]
    rows, results = [], []

    def copy_ms(nbytes):
        src = torch.empty(nbytes, dtype=torch.uint8, device=device)
        dst = torch.empty_like(src)
        return time_ms(lambda: dst.copy_(src), args.iters, args.repeat)

    for path in sorted(directory.glob("*x*.so")):
        match = re.fullmatch(r"(\d+)x(\d+)(-wha)?", path.stem)
        if not match or match.group(3):
            continue
        n, k = int(match.group(1)), int(match.group(2))
        model = runtime.CompiledModel(str(path))
        wha_path = path.with_name(f"{n}x{k}-wha.so")
        wha = runtime.CompiledModel(str(wha_path)) if wha_path.exists() else None
        weight_bytes = n * k * args.bits // 8 + 2 * n * (k // args.group) * 4
        copy = copy_ms(weight_bytes)
        w16 = torch.randn(n, k, device=device, dtype=torch.float16)
        for m in batches:
            x = torch.randn(m, k, device=device)
            x16 = x.half()
            ours = time_ms(lambda: model.forward(x), args.iters, args.repeat)
            cublas = time_ms(lambda: x16 @ w16.t(), args.iters, args.repeat)
            entry = {"layer": f"{n}x{k}", "batch": m, "ms": ours,
                     "copy_ms": copy, "bandwidth_vs_copy": copy / ours,
                     "torch_fp16_ms": cublas, "speedup_vs_fp16": cublas / ours}
            if wha:
                with_adapter = time_ms(lambda: wha.forward(x), args.iters,
                                       args.repeat)
                entry["wha_ms"] = with_adapter
                entry["adapter_overhead"] = with_adapter / ours - 1
            results.append(entry)
            rows.append(f"{n:>6}x{k:<6} {m:>4} {ours * 1e3:9.1f} "
                        f"{100 * copy / ours:7.1f}% {cublas / ours:7.2f}x "
                        + (f"{100 * entry['adapter_overhead']:7.1f}%"
                           if wha else "      -"))

    try:
        import fast_hadamard_transform as fht
    except ImportError:
        fht = None
    fwht_rows = []
    for path in sorted(directory.glob("fwht-*.so")):
        d = int(path.stem.split("-")[1])
        model = runtime.CompiledModel(str(path))
        for m in batches:
            x = torch.randn(m, d, device=device)
            ours = time_ms(lambda: model.forward(x), args.iters, args.repeat)
            h = torch.randn(d, d, device=device)
            dense = time_ms(lambda: x @ h, args.iters, args.repeat)
            copy = copy_ms(2 * m * d * 4)
            entry = {"fwht": d, "batch": m, "ms": ours, "dense_cublas_ms": dense,
                     "copy_ms": copy}
            line = (f"{d:>6} {m:>4} {ours * 1e3:9.1f} {dense / ours:8.2f}x "
                    f"{100 * copy / ours:7.1f}%")
            if fht and d & (d - 1) == 0:
                package = time_ms(lambda: fht.hadamard_transform(x, d ** -0.5),
                                  args.iters, args.repeat)
                entry["fast_hadamard_transform_ms"] = package
                line += f" {package / ours:8.2f}x"
            results.append(entry)
            fwht_rows.append(line)

    print(f"{'layer':>13} {'M':>4} {'us':>9} {'vs copy':>8} {'vs fp16':>8} "
          f"{'adapter':>8}")
    print("\n".join(rows))
    if fwht_rows:
        print(f"\n{'fwht':>6} {'M':>4} {'us':>9} {'vs dense':>9} {'vs copy':>8}"
              + (" vs fht pkg" if fht else ""))
        print("\n".join(fwht_rows))
    (directory / "bench.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
