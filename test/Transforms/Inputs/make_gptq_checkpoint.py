"""Writes small GPTQ checkpoints for the qwha-load-gptq error tests.

usage: make_gptq_checkpoint.py <test/lib> <dir> <kind>
kind: good | bad-shape | bad-gidx | nan-scale | v1-overflow | bad-config | extra-layer
      | per-channel (group_size -1)
The layer is 'fc', 32 outputs x 32 inputs, 4 bits, group size 32."""

import json
import os
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

directory, kind = sys.argv[2], sys.argv[3]
os.makedirs(directory, exist_ok=True)
config = {"bits": 4, "group_size": 32, "desc_act": False, "sym": True,
          "checkpoint_format": "gptq", "quant_method": "gptq"}
if kind == "bad-config":
    config["bits"] = 5
if kind == "per-channel":
    config["group_size"] = -1
json.dump(config, open(os.path.join(directory, "quantize_config.json"), "w"))
# codes all 9, zero 8 (stored as 7 in v1): 0x99999999 and 0x77777777.
qweight = [-1717986919] * (4 * 32)                 # 0x99999999 as int32
qzeros = [0x77777777] * 4
if kind == "v1-overflow":
    qzeros[0] = 0x7777777F                           # stored 15 -> zero 16
scales = [0.5] * 32
if kind == "nan-scale":
    scales[3] = float("nan")
g_idx = [0] * 32
if kind == "bad-gidx":
    g_idx[5] = 3
tensors = {
    "fc.qweight": ("I32", [4, 32] if kind != "bad-shape" else [4, 16], qweight if kind != "bad-shape" else qweight[:64]),
    "fc.qzeros": ("I32", [1, 4], qzeros),
    "fc.scales": ("F16", [1, 32], scales),
    "fc.g_idx": ("I32", [32], g_idx),
}
if kind == "extra-layer":
    for suffix, value in list(tensors.items()):
        tensors["other" + suffix[2:]] = value
safetensors_lite.write(os.path.join(directory, "model.safetensors"), tensors)
