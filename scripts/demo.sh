#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# project's main job on the built-in example. Until GPTQ and the real-model
# flow land, the main job is the foundation's vertical slice (raise, lower,
# run and compare a torch-mlir style MLP).
#
# Usage: scripts/demo.sh [--model path/to/model.mlir]

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

qwha_install_deps
qwha_build qwha-opt
python3 "$QWHA_ROOT/scripts/slice_demo.py" --build "$QWHA_BUILD_DIR" \
  --llvm "$LLVM_PREFIX" "$@"
