#!/usr/bin/env python3
"""GPTQ against PyTorch on the CPU, same data, same machine, one run.

    python3 bench/gptq/compare_torch.py --build build [--rows 4096 --cols 4096]

Makes one layer: a weight W (N x K, normal, std 0.02) and the Hessian
H = (2/S) X^T X of S correlated input rows (X = Z A + noise, so that
act-order and error feedback matter, as in real activations). Stores both
in a safetensors file, then quantizes them

  * with this project's GPTQ (bench/gptq/qwha-bench-gptq, OpenBLAS), and
  * with GPTQ in PyTorch: a port of the reference implementation
    (IST-DASLab/gptq, gptq.py `fasterquant` and quant.py `Quantizer`),

both 4-bit, group size 128, act-order, block 128, damp 0.01, and reports
the time of each (fastest of --repeat runs) and the objective
tr((W - Q) H (W - Q)^T), computed the same way (float64) for both.

Needs torch (pip); the threads of both sides are set to --threads.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time

import torch


# --- GPTQ reference, ported to a function (gptq.py / quant.py) -------------

def quantize(x, scale, zero, maxq):
    q = torch.clamp(torch.round(x / scale) + zero, 0, maxq)
    return scale * (q - zero)


class Quantizer:
    def __init__(self, bits, sym=False):
        self.maxq = torch.tensor(2 ** bits - 1)
        self.sym = sym

    def find_params(self, x):
        tmp = torch.zeros(x.shape[0])
        xmin = torch.minimum(x.min(1)[0], tmp)
        xmax = torch.maximum(x.max(1)[0], tmp)
        if self.sym:
            xmax = torch.maximum(torch.abs(xmin), xmax)
            tmp = xmin < 0
            if torch.any(tmp):
                xmin[tmp] = -xmax[tmp]
        tmp = (xmin == 0) & (xmax == 0)
        xmin[tmp] = -1
        xmax[tmp] = +1
        self.scale = (xmax - xmin) / self.maxq
        if self.sym:
            self.zero = torch.full_like(self.scale, (self.maxq + 1) / 2)
        else:
            self.zero = torch.round(-xmin / self.scale)
        self.scale = self.scale.unsqueeze(1)
        self.zero = self.zero.unsqueeze(1)


def gptq_torch(W, H, bits, groupsize, actorder, blocksize=128, percdamp=0.01):
    W = W.clone().float()
    H = H.clone()
    columns = W.shape[1]
    quantizer = Quantizer(bits)
    quantizer.find_params(W)
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    if actorder:
        perm = torch.argsort(torch.diag(H), descending=True)
        W = W[:, perm]
        H = H[perm][:, perm]
        invperm = torch.argsort(perm)
    Q = torch.zeros_like(W)
    damp = percdamp * torch.mean(torch.diag(H))
    diag = torch.arange(columns)
    H[diag, diag] += damp
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    H = torch.linalg.cholesky(H, upper=True)
    Hinv = H
    for i1 in range(0, columns, blocksize):
        i2 = min(i1 + blocksize, columns)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if groupsize != -1 and (i1 + i) % groupsize == 0:
                quantizer.find_params(W[:, (i1 + i):(i1 + i + groupsize)])
            q = quantize(w.unsqueeze(1), quantizer.scale, quantizer.zero,
                         quantizer.maxq).flatten()
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    if actorder:
        Q = Q[:, invperm]
    return Q


# --- data ----------------------------------------------------------------

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in sorted(tensors.items()):
        data = t.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_layer(rows, cols, samples, seed):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(rows, cols, generator=g) * 0.02
    rank = max(cols // 8, 1)
    Z = torch.randn(samples, rank, generator=g)
    A = torch.randn(rank, cols, generator=g)
    scales = torch.exp(torch.randn(cols, generator=g))  # outlier features
    X = (Z @ A + 0.1 * torch.randn(samples, cols, generator=g)) * scales
    H = (2.0 / samples) * (X.T.double() @ X.double())
    return W, H.float()


def objective(W, Q, H):
    E = (W.double() - Q.double())
    return float(torch.sum((E @ H.double()) * E))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--output", default=None, help="also write the results as JSON")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    W, H = make_layer(args.rows, args.cols, args.samples, seed=0)
    path = os.path.join(args.build, "bench", "gptq", "layer.safetensors")
    write_safetensors(path, {"weight": W, "hessian": H})
    print(f"layer {args.rows}x{args.cols}, {args.bits}-bit g{args.group_size} act-order, "
          f"{args.threads} threads, torch {torch.__version__}", flush=True)

    binary = os.path.join(args.build, "bench", "gptq", "qwha-bench-gptq")
    ours = json.loads(subprocess.run(
        [binary, path, f"--bits={args.bits}", f"--group-size={args.group_size}",
         "--act-order", f"--repeat={args.repeat}"],
        check=True, capture_output=True, text=True, env=os.environ).stdout)

    best, Q = math.inf, None
    for _ in range(args.repeat):
        start = time.perf_counter()
        Q = gptq_torch(W, H, args.bits, args.group_size, actorder=True)
        best = min(best, time.perf_counter() - start)
    reference = {"seconds": best, "objective": objective(W, Q, H)}
    rtn = Quantizer(args.bits)
    Qr = torch.empty_like(W)
    for g in range(0, args.cols, args.group_size):
        rtn.find_params(W[:, g:g + args.group_size])
        Qr[:, g:g + args.group_size] = quantize(W[:, g:g + args.group_size], rtn.scale,
                                                rtn.zero, rtn.maxq)
    rtn_objective = objective(W, Qr, H)

    print(f"{'implementation':<28} {'seconds':>9} {'objective':>12}")
    print(f"{'PyTorch (reference port)':<28} {reference['seconds']:>9.2f} {reference['objective']:>12.5g}")
    print(f"{'QWHA (OpenBLAS)':<28} {ours['seconds']:>9.2f} {ours['objective_direct']:>12.5g}")
    print(f"{'round-to-nearest':<28} {'':>9} {rtn_objective:>12.5g}")
    speedup = reference["seconds"] / ours["seconds"]
    ratio = ours["objective_direct"] / reference["objective"]
    print(f"speed-up {speedup:.2f}x, objective ratio (QWHA / PyTorch) {ratio:.4f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"torch": reference, "qwha": ours, "rtn_objective": rtn_objective,
                       "speedup": speedup, "objective_ratio": ratio, "args": vars(args)},
                      f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
