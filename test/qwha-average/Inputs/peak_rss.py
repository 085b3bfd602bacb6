"""Measures qwha-average's peak memory on checkpoints much larger than their
largest tensor, and checks that it stays within the bound the tool promises:
the memory of the largest tensor plus its output buffer (in fact a few
megabytes, as tensors are averaged a piece at a time).

usage: peak_rss.py <test/lib> make <dir> <checkpoints> <tensors> <tensor MiB>
       peak_rss.py <test/lib> measure <qwha-average> <dir> <checkpoints>
                   <tensors> <tensor MiB>

`make` writes <checkpoints> checkpoints of <tensors> F32 tensors of
<tensor MiB> MiB each (plus a BF16 one of a quarter of that size), and two
tiny ones. `measure` averages both sets and compares the peak resident set
size of the two runs (ru_maxrss of the child, from wait4), so that the
libraries' own memory cancels out; it checks a few output values, prints
the measurements and the throughput, and exits with 1 if the bound is
exceeded.

The two steps are separate processes because a child's ru_maxrss includes
its parent's memory at the fork: measured from the process that had just
built the checkpoints in memory, the tool would seem to need all of it."""

import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, sys.argv[1])
import safetensors_lite  # noqa: E402

MIB = 1 << 20


def peak_rss(command):
    """Peak resident set size of `command`, in bytes, and its wall time."""
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    stderr = child.stderr.read().decode()
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed:\n%s" % (" ".join(command), stderr))
    return usage.ru_maxrss * 1024, elapsed  # ru_maxrss is in KiB on Linux


def pattern(values, size):
    """`size` bytes of F32 values repeating `values` (4 of them)."""
    block = struct.pack("<4f", *values)
    return block * (size // len(block))


def spec():
    return [int(v) for v in sys.argv[-3:]]


def values_of(k, t):
    return (k + t, -k, 0.25 * k, t)


def make(root):
    checkpoints, tensors, tensor_mib = spec()
    tensor_bytes = tensor_mib * MIB
    os.makedirs(root, exist_ok=True)
    for k in range(2):
        safetensors_lite.write(os.path.join(root, "tiny%d.safetensors" % k),
                               {"w": ("F32", [4], [k, 1, 2, 3])})
    for k in range(checkpoints):
        content = {}
        for t in range(tensors):
            content["layer%d.weight" % t] = (
                "F32", [tensor_bytes // 4 // 1024, 1024],
                pattern(values_of(k, t), tensor_bytes))
        # A BF16 tensor: 1.0 + k/128 is exact in bfloat16.
        bf16 = struct.pack("<H", safetensors_lite.bf16_bits(1 + k / 128))
        content["norm"] = ("BF16", [tensor_bytes // 8],
                           bf16 * (tensor_bytes // 8))
        safetensors_lite.write(
            os.path.join(root, "checkpoint-%d.safetensors" % k), content)


def measure(tool, root):
    checkpoints, tensors, tensor_mib = spec()
    tensor_bytes = tensor_mib * MIB
    tiny = [os.path.join(root, "tiny%d.safetensors" % k) for k in range(2)]
    baseline, _ = peak_rss([tool] + tiny + [
        "-o", os.path.join(root, "tiny-out.safetensors")])
    paths = [os.path.join(root, "checkpoint-%d.safetensors" % k)
             for k in range(checkpoints)]
    total = sum(os.path.getsize(path) for path in paths)
    output = os.path.join(root, "out.safetensors")
    peak, seconds = peak_rss([tool] + paths + ["-o", output])
    extra = peak - baseline
    bound = 2 * tensor_bytes

    # Spot checks: the first values of each tensor are the means.
    result, _ = safetensors_lite.read(output, raw=True)
    for t in range(tensors):
        got = struct.unpack_from("<4f", result["layer%d.weight" % t][2])
        want = [sum(v) / checkpoints for v in
                zip(*[values_of(k, t) for k in range(checkpoints)])]
        if any(abs(g - w) > 1e-6 * max(1, abs(w)) for g, w in zip(got, want)):
            sys.exit("layer%d.weight: got %s, expected %s" % (t, got, want))
    norm = struct.unpack_from("<H", result["norm"][2])[0]
    mean = sum(1 + k / 128 for k in range(checkpoints)) / checkpoints
    if norm != safetensors_lite.bf16_bits(mean):
        sys.exit("norm: got bits %#x for the mean %r" % (norm, mean))

    print("inputs: %d checkpoints of %.0f MiB, largest tensor %d MiB" %
          (checkpoints, total / checkpoints / MIB, tensor_mib))
    print("peak RSS: %.1f MiB (tiny inputs: %.1f MiB), %.1f MiB more" %
          (peak / MIB, baseline / MIB, extra / MIB))
    print("throughput: %.0f MiB read in %.2f s, %.0f MiB/s" %
          (total / MIB, seconds, total / MIB / seconds))
    if extra > bound:
        sys.exit("peak RSS grew by %.1f MiB, more than the %.1f MiB of the "
                 "largest tensor and its output buffer" %
                 (extra / MIB, bound / MIB))
    print("bound: %.1f MiB <= %.1f MiB (largest tensor and its output "
          "buffer): ok" % (extra / MIB, bound / MIB))


if sys.argv[2] == "make":
    make(sys.argv[3])
else:
    measure(sys.argv[3], sys.argv[4])
