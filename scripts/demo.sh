#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# main job on the built-in example model (examples/mlp): raise the linear
# layers, calibrate, quantize with RTN and GPTQ at 4, 3 and 2 bits, run every
# variant on the CPU and print a summary table. The Hugging Face importer
# (a later step) will make a real model the default.
#
# Usage: scripts/demo.sh [--model m.mlir --samples s.safetensors --function f]

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

qwha_install_deps
qwha_build qwha-opt qwha-calibrate
python3 "$QWHA_ROOT/scripts/demo.py" --build "$QWHA_BUILD_DIR" \
  --llvm "$LLVM_PREFIX" "$@"
