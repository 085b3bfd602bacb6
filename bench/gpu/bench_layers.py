#!/usr/bin/env python3
"""Times the layers bench/gpu/make_layers.py wrote, compiled with
`qwha-compile --target=cuda`, on the GPU machine (torch, no MLIR needed).

Here:   python3 bench/gpu/make_layers.py /tmp/gpu-bench
        for f in /tmp/gpu-bench/*.mlir; do
          build/bin/qwha-compile $f --target=cuda --chip=sm_90 \\
              --cuda-pipeline-options=format=bin -o ${f%.mlir}.so; done
        cp build/lib/libqwha_cuda_runtime.so /tmp/gpu-bench/
There:  python3 bench/gpu/bench_layers.py /tmp/gpu-bench [--batches 1,16,64]

For each `<N>x<K>.so` and batch M: the layer's GPU time, the bandwidth it
reaches on the bytes it must read and write (packed weight, scales and
offsets, input, output) against a device-to-device copy timed the same
way in the same run, and the speed-up over torch fp16 `x @ W^T` (cuBLAS)
of the same shape; `-wha` libraries give the adapter overhead over the
plain layer; `fwht-<d>.so` is compared with the dense transform through
cuBLAS (`x @ H`), with copy bandwidth, and with the fast-hadamard-transform
package if it imports. Prints a table and writes bench.json next to the
libraries. Targets (issue 7): bandwidth >= 80% of copy at batch 1, >= 3x
torch fp16 at batch 1, faster at 16, adapter overhead <= 10%.

How a call is timed (as triton.testing.do_bench does): each of --iters
samples first overwrites a buffer four times the size of the L2 cache, so
that weights come from DRAM as they do in a model too large for L2 (pass
--warm-l2 to skip it), then spins the GPU for a while so that the host
has queued the whole call before the GPU reaches it, then records CUDA
events around the call alone; the median is reported. The GPU time thus
excludes the Python driver's per-call cost, which the `host us` column
gives separately (wall-clock time per call of the host, without waiting):
when it exceeds the GPU time, eager calls from Python are host-bound, and
CUDA graphs recover the GPU time. A copy
moves its bytes twice (read and write), and is counted so.

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
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_runtime():
    spec = importlib.util.spec_from_file_location(
        "qwha_runtime", ROOT / "python-bindings" / "qwha" / "runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Timer:
    """GPU time of one call, from cold L2 unless told otherwise, and the
    host's time per call (module docstring)."""

    def __init__(self, device, iters, warm_l2):
        self.iters = iters
        props = torch.cuda.get_device_properties(device)
        l2 = getattr(props, "L2_cache_size", 0) or 50 << 20
        self.flush = None if warm_l2 else torch.empty(4 * l2, dtype=torch.uint8,
                                                      device=device)
        # torch.cuda._sleep spins for a number of clock cycles: measure how
        # many make a millisecond on this GPU at its present clock.
        self.cycles_per_ms = 0
        if not hasattr(torch.cuda, "_sleep"):
            print("warning: this torch has no torch.cuda._sleep: the GPU times "
                  "include the host's per-call cost where it exceeds them",
                  file=sys.stderr)
            return
        start, end = self._events(), self._events()
        torch.cuda._sleep(1000)
        start.record()
        torch.cuda._sleep(10 ** 6)
        end.record()
        end.synchronize()
        self.cycles_per_ms = 10 ** 6 / start.elapsed_time(end)

    @staticmethod
    def _events():
        return torch.cuda.Event(enable_timing=True)

    def host_us(self, fn, calls=20):
        torch.cuda.synchronize()
        begin = time.perf_counter()
        for _ in range(calls):
            fn()
        seconds = time.perf_counter() - begin
        torch.cuda.synchronize()
        return seconds / calls * 1e6

    def __call__(self, fn):
        """(median GPU milliseconds, host microseconds) per call of `fn`."""
        fn()
        host = self.host_us(fn)
        # The GPU waits three times the host's time per call (at least 50
        # us) before each sample, so the call is queued whole when it starts.
        spin = int(self.cycles_per_ms * max(0.05, 3 * host / 1e3))
        starts = [self._events() for _ in range(self.iters)]
        ends = [self._events() for _ in range(self.iters)]
        for start, end in zip(starts, ends):
            if self.flush is not None:
                self.flush.zero_()
            if spin:
                torch.cuda._sleep(spin)
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize()
        return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends)), host


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--batches", default="1,16,64")
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group", type=int, default=128)
    parser.add_argument("--iters", type=int, default=100,
                        help="samples per measurement (the median is reported)")
    parser.add_argument("--warm-l2", action="store_true",
                        help="do not flush the L2 cache before each sample")
    args = parser.parse_args()
    runtime = load_runtime()
    directory = pathlib.Path(args.dir)
    device = torch.device("cuda")
    batches = [int(b) for b in args.batches.split(",")]
    timer = Timer(device, args.iters, args.warm_l2)
    rows, results = [], []
    copies = {}

    def copy_gbps(nbytes):
        """Device-to-device copy bandwidth on `nbytes`, read and written."""
        if nbytes not in copies:
            src = torch.empty(nbytes, dtype=torch.uint8, device=device)
            dst = torch.empty_like(src)
            ms, _ = timer(lambda: dst.copy_(src))
            copies[nbytes] = 2 * nbytes / ms / 1e6
        return copies[nbytes]

    for path in sorted(directory.glob("*x*.so")):
        match = re.fullmatch(r"(\d+)x(\d+)(-wha)?", path.stem)
        if not match or match.group(3):
            continue
        n, k = int(match.group(1)), int(match.group(2))
        model = runtime.CompiledModel(str(path))
        wha_path = path.with_name(f"{n}x{k}-wha.so")
        wha = runtime.CompiledModel(str(wha_path)) if wha_path.exists() else None
        weight_bytes = n * k * args.bits // 8 + 2 * n * (k // args.group) * 4
        copy = copy_gbps(weight_bytes)
        w16 = torch.randn(n, k, device=device, dtype=torch.float16)
        for m in batches:
            x = torch.randn(m, k, device=device)
            x16 = x.half()
            ours, host = timer(lambda: model.forward(x))
            cublas, _ = timer(lambda: x16 @ w16.t())
            gbps = (weight_bytes + 4 * m * (k + n)) / ours / 1e6
            entry = {"layer": f"{n}x{k}", "batch": m, "ms": ours, "host_us": host,
                     "gbps": gbps, "copy_gbps": copy, "bandwidth_vs_copy": gbps / copy,
                     "torch_fp16_ms": cublas, "speedup_vs_fp16": cublas / ours}
            if wha:
                entry["wha_ms"], entry["wha_host_us"] = timer(lambda: wha.forward(x))
                entry["adapter_overhead"] = entry["wha_ms"] / ours - 1
            results.append(entry)
            rows.append(f"{n:>6}x{k:<6} {m:>4} {ours * 1e3:9.1f} {host:8.1f} "
                        f"{gbps:7.0f} {100 * gbps / copy:7.1f}% {cublas / ours:7.2f}x "
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
        h = torch.randn(d, d, device=device)
        for m in batches:
            x = torch.randn(m, d, device=device)
            ours, host = timer(lambda: model.forward(x))
            dense, _ = timer(lambda: x @ h)
            # Reads and writes m x d floats, as a copy of m x d floats does.
            gbps = 2 * m * d * 4 / ours / 1e6
            copy = copy_gbps(m * d * 4)
            entry = {"fwht": d, "batch": m, "ms": ours, "host_us": host,
                     "dense_cublas_ms": dense, "gbps": gbps, "copy_gbps": copy,
                     "bandwidth_vs_copy": gbps / copy}
            line = (f"{d:>6} {m:>4} {ours * 1e3:9.1f} {host:8.1f} {dense / ours:8.2f}x "
                    f"{100 * gbps / copy:7.1f}%")
            if fht and d & (d - 1) == 0:
                package, _ = timer(lambda: fht.hadamard_transform(x, d ** -0.5))
                entry["fast_hadamard_transform_ms"] = package
                line += f" {package / ours:8.2f}x"
            results.append(entry)
            fwht_rows.append(line)

    print(f"{'layer':>13} {'M':>4} {'GPU us':>9} {'host us':>8} {'GB/s':>7} "
          f"{'vs copy':>8} {'vs fp16':>8} {'adapter':>8}")
    print("\n".join(rows))
    if fwht_rows:
        print(f"\n{'fwht':>6} {'M':>4} {'GPU us':>9} {'host us':>8} {'vs dense':>9} "
              f"{'vs copy':>8}" + (" vs fht pkg" if fht else ""))
        print("\n".join(fwht_rows))
    print(f"\n(copy bandwidth, read + written: "
          + ", ".join(f"{v:.0f} GB/s on {b / 2 ** 20:.2f} MiB" for b, v in sorted(copies.items()))
          + ("; L2 warm" if args.warm_l2 else "; L2 flushed before each sample") + ")")
    (directory / "bench.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
