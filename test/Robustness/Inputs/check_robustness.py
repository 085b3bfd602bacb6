"""Checks a qwha_robustness.py JSON result: each LAWA model's weights are
the mean of its members' (read back from the safetensors files), the
learning rates are the schedule's, every ratio is CE_q / CE_fp - 1 of the
recorded cross-entropies, and the plot is a PNG.

    check_robustness.py RESULT.json PLOT.png SCHEDULE.json
    check_robustness.py --same-float RESULT.json LM_EVAL.json
"""

import json
import pathlib
import struct
import sys

import numpy as np
from safetensors.numpy import load_file

if sys.argv[1] == "--same-float":
    report = json.loads(pathlib.Path(sys.argv[2]).read_text())
    lm = json.loads(pathlib.Path(sys.argv[3]).read_text())
    last = report["checkpoints"][-1]
    same = last["checkpoint"]["float_ce"] == lm["float"]["cross_entropy"]
    print(f"float CE of step {last['step']} as lm_eval.py: {same}")
    sys.exit(0 if same else 1)

report = json.loads(pathlib.Path(sys.argv[1]).read_text())
schedule = json.loads(pathlib.Path(sys.argv[3]).read_text())
ok = True
by_step = {c["step"]: c for c in report["checkpoints"]}
for c in report["checkpoints"]:
    if not c.get("lawa"):
        continue
    members = c["lawa"]["members"]
    avg = load_file(pathlib.Path(c["lawa_result"]["model"]) / "model.safetensors")
    inputs = [load_file(pathlib.Path(by_step[s]["path"]) / "model.safetensors") for s in members]
    worst = max(float(np.max(np.abs(avg[k].astype(np.float64)
                                    - np.mean([x[k].astype(np.float64) for x in inputs], axis=0))))
                for k in avg)
    good = worst < 1e-6
    ok = ok and good
    print(f"LAWA at step {c['step']} = mean of steps {','.join(map(str, members))}: "
          f"{'OK' if good else f'FAIL ({worst})'}")
lr = dict(zip(schedule["steps"], schedule["lr"]))
good = all(c["lr"] == lr[c["step"]] for c in report["checkpoints"])
ok = ok and good
print(f"learning rates from the schedule: {'OK' if good else 'FAIL'}")
good = True
for c in report["checkpoints"]:
    for kind in ("checkpoint", "lawa"):
        r = c.get(kind)
        if r:
            good = good and all(abs(r["ce_ratio"][s] - (r["cross_entropy"][s] / r["float_ce"] - 1))
                                < 1e-12 and np.isfinite(r["ce_ratio"][s]) for s in report["configs"])
            res = c[f"{kind}_result"]
            good = good and res["held_chunks"] == report["held_chunks"] \
                and res["calib_chunks"] == report["calib_chunks"]
ok = ok and good
print(f"ratios consistent: {'OK' if good else 'FAIL'}")
png = pathlib.Path(sys.argv[2]).read_bytes()
if png[:8] != b"\x89PNG\r\n\x1a\n":
    print("plot: not a PNG")
    sys.exit(1)
w, h = struct.unpack(">II", png[16:24])
print(f"plot: PNG {w}x{h}")
sys.exit(0 if ok else 1)
