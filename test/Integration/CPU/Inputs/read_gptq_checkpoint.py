"""An independent reader of GPTQ checkpoints, written from the format
description rather than from this project's code: each packed column is a
little-endian bit stream in which value i occupies bits [bits*i, bits*i +
bits) (this is what AutoGPTQ's 2/4/8-bit packing and its 3-bit
32-values-in-3-words scheme both amount to); v1 ("gptq") zero points are
stored minus one. Dequantizes the layers of make_mlp.py's model and prints
the model's output for the input in the JSON file, as printMemrefF32 would.
With an adapter file, each layer also adds F (H x / sqrt(K)) with H the
Sylvester matrix, H[i][j] = (-1)^popcount(i & j) (K is a power of two here).

usage: read_gptq_checkpoint.py <test/lib> <checkpoint dir> <model.json> [adapters]
"""

import json
import math
import os
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402


def unpack(words, rows, cols, count, bits):
    """words: rows x cols int32 (flat); unpacks `count` values along the
    row direction of every column."""
    mask = (1 << bits) - 1
    out = [[0] * cols for _ in range(count)]
    for c in range(cols):
        stream = 0
        for r in range(rows):
            stream |= (words[r * cols + c] & 0xFFFFFFFF) << (32 * r)
        for i in range(count):
            out[i][c] = (stream >> (bits * i)) & mask
    return out


def main():
    directory = sys.argv[2]
    config = json.load(open(os.path.join(directory, "quantize_config.json")))
    bits, v1 = config["bits"], config.get("checkpoint_format", "gptq") == "gptq"
    tensors, _ = safetensors_lite.read(os.path.join(directory, "model.safetensors"))
    weights = {}
    for name in ("mlp.fc1", "mlp.fc2"):
        _, qshape, qweight = tensors[name + ".qweight"]
        _, zshape, qzeros = tensors[name + ".qzeros"]
        _, sshape, scales = tensors[name + ".scales"]
        _, _, g_idx = tensors[name + ".g_idx"]
        k, n = qshape[0] * 32 // bits, qshape[1]
        groups = sshape[0]
        codes = unpack(qweight, qshape[0], n, k, bits)                # [k][n]
        zeros_t = unpack(qzeros, 1, zshape[0] * zshape[1], 1, bits)  # placeholder
        zeros = [[0] * n for _ in range(groups)]
        for g in range(groups):
            row = unpack(qzeros[g * zshape[1]:(g + 1) * zshape[1]], zshape[1], 1, n, bits)
            for j in range(n):
                zeros[g][j] = row[j][0] + (1 if v1 else 0)
        w = [[(codes[c][j] - zeros[g_idx[c]][j]) * scales[g_idx[c] * n + j] for c in range(k)]
             for j in range(n)]
        weights[name] = w
        del zeros_t
    adapters = safetensors_lite.read(sys.argv[4])[0] if len(sys.argv) > 4 else {}

    def layer(name, rows, bias):
        w = weights[name]
        out = [[sum(a * b for a, b in zip(row, wr)) + bi for wr, bi in zip(w, bias)]
               for row in rows]
        if name + ".wha.indices" in adapters:
            k = len(w[0])
            indices = adapters[name + ".wha.indices"][2]
            values = adapters[name + ".wha.values"][2]
            for r, row in enumerate(rows):
                hx = [sum((-1) ** bin(i & j).count("1") * row[j] for j in range(k)) / math.sqrt(k)
                      for i in range(k)]
                for flat, v in zip(indices, values):
                    out[r][flat // k] += v * hx[flat % k]
        return out

    model = json.load(open(sys.argv[3]))
    h = [[max(0.0, v) for v in row] for row in layer("mlp.fc1", model["x"], model["b1"])]
    y = layer("mlp.fc2", h, model["b2"])
    print("data =", [[float(v) for v in row] for row in y])


main()
