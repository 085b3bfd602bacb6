"""QWHA end to end on a tiny Llama: 2-bit GPTQ, Walsh-Hadamard adapters
initialised from the quantization error, fine-tuned with Adam to match the
float model (KL of the next-token distributions), exported, and compiled by
the compiler (float model + GPTQ checkpoint + adapter file, fused into
qwha.qlinear_wha): the compiled library gives the torch module's logits.

    python3 examples/python/torch_qwha_finetune.py [--steps 100] [--rank 8]
"""

import argparse
import os
import subprocess
import tempfile

import torch
import transformers

import qwha.tools
import qwha.torch as qt
from qwha.runtime import CompiledModel

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--rank", type=int, default=8)
args = parser.parse_args()

work = tempfile.mkdtemp(prefix="qwha-finetune-")
torch.manual_seed(0)
config = transformers.LlamaConfig(vocab_size=256, hidden_size=128,
                                  intermediate_size=256, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2,
                                  tie_word_embeddings=False)
teacher = transformers.LlamaForCausalLM(config).eval()
teacher.save_pretrained(os.path.join(work, "float"))
student = transformers.LlamaForCausalLM.from_pretrained(
    os.path.join(work, "float")).eval()

g = torch.Generator().manual_seed(1)
batches = [torch.randint(0, 256, (4, 32), generator=g) for _ in range(16)]
held_out = torch.randint(0, 256, (4, 32), generator=g)
qt.quantize_(student, [{"input_ids": b} for b in batches], bits=2,
             group_size=64, adapter_rank=args.rank)


def kl(ids):
    with torch.no_grad():
        target = torch.log_softmax(teacher(input_ids=ids).logits, -1)
    pred = torch.log_softmax(student(input_ids=ids).logits, -1)
    return torch.nn.functional.kl_div(pred, target, log_target=True,
                                      reduction="batchmean")


with torch.no_grad():
    before = kl(held_out).item()
optimizer = torch.optim.Adam(qt.trainable_adapters_(student), lr=1e-3)
student.train()
for step in range(args.steps):
    loss = kl(batches[step % len(batches)])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if (step + 1) % 20 == 0:
        print(f"step {step + 1}: train KL {loss.item():.4f}")
student.eval()
with torch.no_grad():
    after = kl(held_out).item()
print(f"held-out KL to the float model: {before:.4f} after initialisation, "
      f"{after:.4f} after {args.steps} steps of adapter fine-tuning")
assert after < before

qt.export_gptq(student, os.path.join(work, "gptq"))
qt.export_adapters(student, os.path.join(work, "adapters.safetensors"))
tools = {n: qwha.tools.find_tool(n) for n in ("qwha-import", "qwha-opt")}
subprocess.run([tools["qwha-import"], os.path.join(work, "float"), "-o",
                os.path.join(work, "model.mlir"), "--batch=4", "--seq-len=32",
                "--quiet"], check=True)
subprocess.run([tools["qwha-opt"], os.path.join(work, "model.mlir"),
                "-qwha-raise-linear",
                "-qwha-load-gptq=checkpoint=" + os.path.join(work, "gptq"),
                "-qwha-load-adapters=file=" +
                os.path.join(work, "adapters.safetensors"),
                "-qwha-fuse-adapters", "-o", os.path.join(work, "qwha.mlir")],
               check=True)
qwha.tools.compile(os.path.join(work, "qwha.mlir"),
                   os.path.join(work, "qwha.so"))
compiled = CompiledModel(os.path.join(work, "qwha.so"))
with torch.no_grad():
    expected = student(input_ids=held_out).logits
got = compiled.forward(held_out)
diff = (got - expected).abs().max().item()
print(f"compiled qwha.qlinear_wha model vs torch: max |diff| {diff:.2e} "
      f"(logits up to {expected.abs().max().item():.2f}); files in {work}")
assert diff < 1e-3
