"""An independent reader of GPTQ checkpoints, written from the format
description rather than from this project's code: each packed column is a
little-endian bit stream in which value i occupies bits [bits*i, bits*i +
bits) (this is what AutoGPTQ's 2/4/8-bit packing and its 3-bit
32-values-in-3-words scheme both amount to); v1 ("gptq") zero points are
stored minus one. Dequantizes the layers of make_mlp.py's model and prints
the model's output for the input in the JSON file, as printMemrefF32 would.

usage: read_gptq_checkpoint.py <test/lib> <checkpoint dir> <model.json>
"""

import json
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
    model = json.load(open(sys.argv[3]))
    x = model["x"]
    h = [[max(0.0, sum(a * b for a, b in zip(row, w)) + b1)
          for w, b1 in zip(weights["mlp.fc1"], model["b1"])] for row in x]
    y = [[sum(a * b for a, b in zip(row, w)) + b2
          for w, b2 in zip(weights["mlp.fc2"], model["b2"])] for row in h]
    print("data =", [[float(v) for v in row] for row in y])


main()
