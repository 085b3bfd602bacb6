#!/usr/bin/env python3
"""What the GPU kernels of compiled layers cost per instruction, without a
GPU: registers, spills and theoretical occupancy from `ptxas -v`, and the
length of every loop in the SASS, for tuning where no GPU is at hand.

    python3 bench/gpu/kernel_stats.py LAYER.mlir... [--chip sm_90]
        [--cuda-pipeline-options "..."] [--qwha-compile PATH] [--ptxas PATH]

Each module is compiled with `qwha-compile --target=cuda --emit=ptx` and
assembled with ptxas (from --cuda-path, $CUDA_HOME, PATH or
/usr/local/cuda). For each kernel it prints the registers per thread, the
spill bytes, the threads per block (.maxntid) and the resident warps per SM
those registers allow (the theoretical occupancy, before shared memory;
sm_80 and newer: 64 K registers and 64 warps per SM, registers allocated
per warp in units of 256). When cuobjdump and nvdisasm are found (the CUDA
toolkit, or the nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm wheels from
PyPI, whose bin/ directories may be put on PATH), it also prints each loop
of the SASS (a backward branch): its instructions, global loads and FFMAs,
which for the GEMV's weight loop give the instructions issued per weight.
Example: the 4096x4096 W4 g128 layer of make_layers.py with a batch of one
row (`tensor<1x4096xf32>`) has a weight loop of 271 instructions for 2 rows
x 32 codes, 4.2 per weight.
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]

# sm_80 and newer.
REGISTERS_PER_SM = 65536
MAX_WARPS_PER_SM = 64
MAX_BLOCKS_PER_SM = 32
REGISTER_UNIT = 256  # registers are allocated per warp in these units


def find_tool(name, cuda_path):
    candidates = []
    if cuda_path:
        candidates.append(pathlib.Path(cuda_path) / "bin" / name)
    if os.environ.get("CUDA_HOME"):
        candidates.append(pathlib.Path(os.environ["CUDA_HOME"]) / "bin" / name)
    found = shutil.which(name)
    if found:
        candidates.append(pathlib.Path(found))
    candidates.append(pathlib.Path("/usr/local/cuda/bin") / name)
    return next((str(c) for c in candidates if c.is_file()), None)


def resident_warps(registers, threads):
    """Warps per SM the registers allow for blocks of `threads`."""
    warps_per_block = -(-threads // 32)
    per_warp = -(-registers * 32 // REGISTER_UNIT) * REGISTER_UNIT
    blocks = min(REGISTERS_PER_SM // (per_warp * warps_per_block),
                 MAX_WARPS_PER_SM // warps_per_block, MAX_BLOCKS_PER_SM)
    return blocks * warps_per_block


def ptxas_report(ptxas, ptx, chip, cubin):
    """{kernel: {registers, spills, stack}} from ptxas -v."""
    proc = subprocess.run([ptxas, f"-arch={chip}", "-v", str(ptx), "-o", str(cubin)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"ptxas failed:\n{proc.stderr}")
    kernels, current = {}, None
    for line in proc.stderr.splitlines():
        match = re.search(r"Compiling entry function '([^']+)'", line)
        if match:
            current = kernels.setdefault(match.group(1), {})
            continue
        match = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                          r"(\d+) bytes spill loads", line)
        if match and current is not None:
            current["stack"] = int(match.group(1))
            current["spills"] = int(match.group(2)) + int(match.group(3))
        match = re.search(r"Used (\d+) registers", line)
        if match and current is not None:
            current["registers"] = int(match.group(1))
    return kernels


def block_sizes(ptx_text):
    """{kernel: threads per block} from the .maxntid/.reqntid directives."""
    sizes = {}
    for match in re.finditer(r"\.entry\s+(\w+)\s*\((.*?)\)\s*(\.[^{]*)\{",
                             ptx_text, re.S):
        directive = re.search(r"\.(?:maxntid|reqntid)\s+(\d+)\s*,\s*(\d+)\s*,\s*(\d+)",
                              match.group(3))
        if directive:
            x, y, z = (int(v) for v in directive.groups())
            sizes[match.group(1)] = x * y * z
    return sizes


def sass_loops(cuobjdump, cubin):
    """{kernel: [(instructions, global loads, ffma)]}, one entry per loop."""
    proc = subprocess.run([cuobjdump, "-sass", str(cubin)], capture_output=True,
                          text=True)
    if proc.returncode:
        raise RuntimeError(f"cuobjdump failed:\n{proc.stderr or proc.stdout}")
    loops, kernel, code = {}, None, []

    def finish():
        if kernel is None:
            return
        found = []
        for index, (address, text) in enumerate(code):
            match = re.search(r"\bBRA\s+(?:`?\(?)(0x[0-9a-f]+)", text)
            if not match:
                continue
            target = int(match.group(1), 16)
            if target >= address:
                continue
            body = [t for a, t in code[:index + 1] if a >= target]
            found.append((len(body), sum("LDG" in t for t in body),
                          sum(re.search(r"\bFFMA\b", t) is not None for t in body)))
        loops[kernel] = found

    for line in proc.stdout.splitlines():
        match = re.match(r"\s*Function\s*:\s*(\S+)", line)
        if match:
            finish()
            kernel, code = match.group(1), []
            continue
        match = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if match and kernel is not None:
            code.append((int(match.group(1), 16), match.group(2)))
    finish()
    return loops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", type=pathlib.Path)
    parser.add_argument("--chip", default="sm_90")
    parser.add_argument("--cuda-pipeline-options", default="")
    parser.add_argument("--cuda-path", help="the CUDA toolkit's directory")
    parser.add_argument("--ptxas", help="ptxas to use (default: the toolkit's)")
    parser.add_argument("--qwha-compile", type=pathlib.Path,
                        help="default: on PATH, else $QWHA_BINARY_DIR/bin or build/bin")
    args = parser.parse_args()
    if args.qwha_compile is None:
        found = shutil.which("qwha-compile")
        args.qwha_compile = pathlib.Path(found) if found else pathlib.Path(
            os.environ.get("QWHA_BINARY_DIR", ROOT / "build")) / "bin" / "qwha-compile"
    ptxas = args.ptxas or find_tool("ptxas", args.cuda_path)
    if not ptxas:
        print("error: no ptxas (pass --cuda-path or set CUDA_HOME)", file=sys.stderr)
        return 2
    cuobjdump = find_tool("cuobjdump", args.cuda_path)
    if cuobjdump and not find_tool("nvdisasm", args.cuda_path):
        cuobjdump = None
    status = 0
    with tempfile.TemporaryDirectory() as scratch:
        for module in args.modules:
            ptx = pathlib.Path(scratch) / (module.stem + ".ptx")
            cubin = ptx.with_suffix(".cubin")
            command = [str(args.qwha_compile), str(module), "--target=cuda",
                       f"--chip={args.chip}", "--emit=ptx", "-o", str(ptx)]
            if args.cuda_pipeline_options:
                command.append(f"--cuda-pipeline-options={args.cuda_pipeline_options}")
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode:
                print(f"{module}: qwha-compile failed:\n{proc.stderr}", file=sys.stderr)
                status = 1
                continue
            try:
                kernels = ptxas_report(ptxas, ptx, args.chip, cubin)
                loops = sass_loops(cuobjdump, cubin) if cuobjdump else {}
            except RuntimeError as e:
                print(f"{module}: {e}", file=sys.stderr)
                status = 1
                continue
            sizes = block_sizes(ptx.read_text())
            print(f"== {module.name} ({args.chip})")
            print(f"{'kernel':<40} {'regs':>5} {'spill B':>8} {'threads':>8} "
                  f"{'warps/SM':>9}  loops (SASS instructions / LDG / FFMA)")
            for name, info in kernels.items():
                threads = sizes.get(name)
                warps = resident_warps(info["registers"], threads) if threads else None
                loop_text = ", ".join(f"{n}/{l}/{f}" for n, l, f in loops.get(name, []))
                print(f"{name:<40} {info['registers']:>5} {info['spills']:>8} "
                      f"{threads if threads else '-':>8} "
                      f"{warps if warps else '-':>9}  "
                      + (loop_text or ("-" if cuobjdump else "(no cuobjdump)")))
    return status


if __name__ == "__main__":
    sys.exit(main())
