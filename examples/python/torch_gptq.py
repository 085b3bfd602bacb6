"""GPTQ on a torch model in place, the way GPTQModel does it: calibration
hooks on every nn.Linear, then the C++ GPTQ per layer. Compares RTN and
GPTQ at 3 bits on held-out inputs and exports a GPTQ checkpoint that
qwha-load-gptq (and AutoGPTQ / GPTQModel) read.

    python3 examples/python/torch_gptq.py [--out DIR]
"""

import argparse
import copy
import os
import tempfile

import torch
import transformers

import qwha.torch as qt

parser = argparse.ArgumentParser()
parser.add_argument("--out", default=None, help="checkpoint directory")
args = parser.parse_args()

torch.manual_seed(0)
config = transformers.LlamaConfig(vocab_size=256, hidden_size=128,
                                  intermediate_size=256, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2,
                                  tie_word_embeddings=False)
model = transformers.LlamaForCausalLM(config).eval()
g = torch.Generator().manual_seed(1)
calibration = [{"input_ids": torch.randint(0, 256, (4, 32), generator=g)}
               for _ in range(8)]
held_out = torch.randint(0, 256, (4, 32), generator=g)
with torch.no_grad():
    reference = model(input_ids=held_out).logits


def error(m):
    with torch.no_grad():
        out = m(input_ids=held_out).logits
    return ((out - reference).norm() / reference.norm()).item()


rtn = copy.deepcopy(model)
qt.quantize_(rtn, None, method="rtn", bits=3, group_size=64, progress=False)
gptq = copy.deepcopy(model)
qt.quantize_(gptq, calibration, bits=3, group_size=64, act_order=True)
e_rtn, e_gptq = error(rtn), error(gptq)
print(f"relative logit error on held-out ids, 3-bit g64: RTN {e_rtn:.4f}, "
      f"GPTQ {e_gptq:.4f}")
assert e_gptq < e_rtn

out = args.out or tempfile.mkdtemp(prefix="qwha-gptq-")
qt.export_gptq(gptq, out)
print(f"GPTQ checkpoint: {out}: {sorted(os.listdir(out))}")
