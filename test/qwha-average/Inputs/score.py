"""A stand-in for an evaluation script, for the greedy soup tests.

usage: score.py <test/lib> <target> <checkpoint> [--negate] [--fail-candidates]
                [--kill]

Prints a log line, then the score |s - target| (or its negation), where s is
the checkpoint's scalar model.scalar. A checkpoint directory must hold
config.json, as a real evaluation would load it. --fail-candidates exits
with status 3 on the tool's candidate soups, as a failing evaluation
would; --kill kills the shell that runs it (or itself, if the shell
exec'd it) with SIGKILL, as an out-of-memory killer would."""

import os
import signal
import sys

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

target, path = float(sys.argv[2]), sys.argv[3]
flags = sys.argv[4:]
if "--kill" in flags:
    with open("/proc/%d/comm" % os.getppid()) as f:
        parent = f.read().strip()
    shell = parent in ("sh", "dash", "bash", "ash", "busybox")
    os.kill(os.getppid() if shell else os.getpid(), signal.SIGKILL)
    sys.exit(0)
if "--fail-candidates" in flags and "candidate" in os.path.basename(path):
    sys.exit(3)
if os.path.isdir(path):
    if not os.path.exists(os.path.join(path, "config.json")):
        sys.exit("no config.json in " + path)
    path = os.path.join(path, "model.safetensors")
tensors, _ = safetensors_lite.read(path)
score = abs(tensors["model.scalar"][2][0] - target)
print("evaluating %s" % path)
print(-score if "--negate" in flags else score)
