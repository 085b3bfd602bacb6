#!/usr/bin/env python3
"""Writes the benchmark layers of bench/gpu as MLIR modules (here, where
MLIR is), for `qwha-compile --target=cuda`.

    python3 bench/gpu/make_layers.py OUT_DIR [--shapes 4096x4096,...]
        [--bits 4] [--group 128] [--rank 64]

For each N x K shape: `<N>x<K>.mlir` with `@forward(tensor<?xKxf32>)` a
random W4 g128 `qwha.qlinear`, and `<N>x<K>-wha.mlir` the same layer as
`qwha.qlinear_wha` with a sparse adapter of the parameter count of a rank-r
LoRA (r (N + K) entries, spread evenly over the rows: QWHA's budget).
`fwht-<d>.mlir` for the transform sizes. Weights are dense_resource blobs
(seeded), so a 8192 x 8192 layer is written in seconds.
"""

import argparse
import pathlib

import numpy as np


def blob(name, array):
    # dense_resource blobs: a 4-byte alignment header, then the raw bytes.
    return f"      {name}: \"0x04000000{np.ascontiguousarray(array).tobytes().hex()}\""


def layer_module(n, k, bits, group, rank, rng):
    groups = k // group
    codes = rng.integers(0, 2**bits, size=(n, k), dtype=np.uint8)
    scales = rng.uniform(0.005, 0.02, size=(n, groups)).astype(np.float32)
    zeros = rng.integers(0, 2**bits, size=(n, groups), dtype=np.uint8)
    ci, ft = f"tensor<{n}x{k}xi{bits}>", f"tensor<{n}x{groups}xf32>"
    zi = f"tensor<{n}x{groups}xi{bits}>"
    x, y = f"tensor<?x{k}xf32>", f"tensor<?x{n}xf32>"
    head = (f"  %codes = arith.constant dense_resource<codes> : {ci}\n"
            f"  %s = arith.constant dense_resource<scales> : {ft}\n"
            f"  %z = arith.constant dense_resource<zeros> : {zi}\n")
    blobs = [blob("codes", codes), blob("scales", scales),
             blob("zeros", zeros)]
    plain = (f"func.func @forward(%x: {x}) -> {y} {{\n{head}"
             f'  %y = qwha.qlinear "layer" %x, %codes, %s, %z group_size '
             f"{group} : {x}, {ci}, {ft}, {zi} -> {y}\n  return %y : {y}\n}}\n")
    per_row = max(1, rank * (n + k) // n)
    cols = np.concatenate([np.sort(rng.choice(k, per_row, replace=False))
                           for _ in range(n)]).astype(np.int32)
    rows = (np.arange(n + 1) * per_row).astype(np.int32)
    vals = rng.normal(0, 0.01, size=n * per_row).astype(np.float32)
    e = n * per_row
    wha = (f"func.func @forward(%x: {x}) -> {y} {{\n{head}"
           f"  %rows = arith.constant dense_resource<rows> : tensor<{n + 1}xi32>\n"
           f"  %cols = arith.constant dense_resource<cols> : tensor<{e}xi32>\n"
           f"  %vals = arith.constant dense_resource<vals> : tensor<{e}xf32>\n"
           f'  %y = qwha.qlinear_wha "layer" %x, %codes, %s, %z group_size '
           f"{group} adapter(%rows, %cols, %vals : tensor<{n + 1}xi32>, "
           f"tensor<{e}xi32>, tensor<{e}xf32>) : {x}, {ci}, {ft}, {zi} -> {y}\n"
           f"  return %y : {y}\n}}\n")
    wha_blobs = blobs + [blob("rows", rows), blob("cols", cols),
                         blob("vals", vals)]

    def wrap(text, bl):
        return (text + "\n{-#\n  dialect_resources: {\n    builtin: {\n"
                + ",\n".join(bl) + "\n    }\n  }\n#-}\n")
    return wrap(plain, blobs), wrap(wha, wha_blobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--shapes",
                        default="4096x4096,11008x4096,4096x11008,8192x8192",
                        help="N x K (outputs x inputs), comma-separated")
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group", type=int, default=128)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--fwht", default="4096,8192,11008,16384,32768")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        n, k = (int(v) for v in shape.split("x"))
        plain, wha = layer_module(n, k, args.bits, args.group, args.rank, rng)
        (out / f"{n}x{k}.mlir").write_text(plain)
        (out / f"{n}x{k}-wha.mlir").write_text(wha)
    for d in args.fwht.split(","):
        t = f"tensor<?x{d}xf32>"
        (out / f"fwht-{d}.mlir").write_text(
            f"func.func @forward(%x: {t}) -> {t} {{\n"
            f"  %y = qwha.fwht %x normalized : {t}\n  return %y : {t}\n}}\n")


if __name__ == "__main__":
    main()
