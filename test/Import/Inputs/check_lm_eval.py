"""Recomputes the float model's held-out cross-entropy of an lm_eval.py JSON
result with transformers, on the chunks lm_eval.split_chunks makes of the
same text, and checks the result's other fields.

    check_lm_eval.py RESULT.json MODEL_DIR TEXT_FILE
    check_lm_eval.py --same A.json B.json    # B's rows have A's CEs
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
import lm_eval  # noqa: E402

if sys.argv[1] == "--same":
    a, b = (json.loads(pathlib.Path(p).read_text()) for p in sys.argv[2:4])
    rows = {row["spec"]: row for row in [a["float"]] + a["configs"]}
    same = [row["cross_entropy"] == rows[row["spec"]]["cross_entropy"]
            for row in [b["float"]] + b["configs"]]
    print(f"same cross-entropies: {all(same)} ({len(same)} rows)")
    sys.exit(0 if all(same) else 1)

result = json.loads(pathlib.Path(sys.argv[1]).read_text())
model_dir = pathlib.Path(sys.argv[2])
tokens = lm_eval.tokenize_text(model_dir, pathlib.Path(sys.argv[3]).read_text())
calib, held = lm_eval.split_chunks(tokens, result["seq_len"], result["calib_chunks"])
assert len(held) == result["held_chunks"], (len(held), result["held_chunks"])
model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64).eval()
with torch.no_grad():
    logits = model(input_ids=torch.from_numpy(held), use_cache=False).logits.numpy()
total, count = lm_eval.cross_entropy_sum(logits, held)
ce = total / count
ours = result["float"]["cross_entropy"]
print(f"float CE: lm_eval {ours:.6f}, transformers {ce:.6f}, relative difference "
      f"{abs(ours - ce) / ce:.1e}: {'OK' if abs(ours - ce) <= 1e-4 * ce else 'FAIL'}")
ok = abs(ours - ce) <= 1e-4 * ce
for row in result["configs"]:
    good = (np.isfinite(row["cross_entropy"]) and
            abs(row["ce_ratio"] - (row["cross_entropy"] / ours - 1)) < 1e-12 and
            abs(row["perplexity"] - np.exp(row["cross_entropy"])) < 1e-9 * row["perplexity"] and
            0 < row["weight_bytes"] < result["float"]["weight_bytes"])
    print(f"{row['label']}: CE {row['cross_entropy']:.4f}, CE_q/CE_fp - 1 = "
          f"{row['ce_ratio']:+.3%}: {'OK' if good else 'FAIL'}")
    ok = ok and good
sys.exit(0 if ok else 1)
