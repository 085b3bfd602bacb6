#!/usr/bin/env bash
# The training-dynamics study (arXiv 2510.06213) end to end: train a small
# Llama on Debian's fortunes with a warmup-stable-decay schedule, then
# measure CE_q / CE_fp - 1 of RTN and GPTQ at 3 and 4 bits at every
# checkpoint and, in the same pass, of the LAWA average of the last
# $LAWA checkpoints (qwha-average --mode=lawa).
#
#   bash examples/training-dynamics/run_study.sh [OUT_DIR] [-- qwha_robustness options]
#
# Environment: BUILD (default build/, tools in $BUILD/bin), STEPS (2000),
# SAVE_EVERY (100), LAWA (5), STRIDE (1), CALIB_CHUNKS (32), EVAL_CHUNKS (64),
# CONFIGS (rtn4,gptq4,rtn3,gptq3). Needs torch, transformers, tokenizers,
# matplotlib, and the fortunes (apt-get install fortunes fortunes-min).
# Results: OUT_DIR/robustness.{json,png,md,txt} (default build/training-dynamics).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build/training-dynamics}
[[ $# -gt 0 ]] && shift
[[ ${1:-} == -- ]] && shift
build=${BUILD:-$root/build}

if [[ ! -f $out/run/schedule.json ]] || ! grep -q "\"total_steps\": ${STEPS:-2000}," "$out/run/schedule.json" \
   || [[ ! -d $out/run/step-$(printf %05d "${STEPS:-2000}") ]]; then
  rm -rf "$out/run"
  mkdir -p "$out"
  python3 "$here/train.py" --out "$out/run" --steps "${STEPS:-2000}" \
    --save-every "${SAVE_EVERY:-100}" --log-every 100 | tee "$out/train.log"
fi

python3 "$root/scripts/qwha_robustness.py" "$out/run" --build "$build" \
  --text "$out/run/heldout.txt" --seq-len 128 \
  --calib-chunks "${CALIB_CHUNKS:-32}" --max-eval-chunks "${EVAL_CHUNKS:-64}" \
  --configs "${CONFIGS:-rtn4,gptq4,rtn3,gptq3}" \
  --lawa "${LAWA:-5}" --stride "${STRIDE:-1}" --schedule "$out/run/schedule.json" \
  --work "$out/work" --json "$out/robustness.json" --plot "$out/robustness.png" \
  --markdown "$out/robustness.md" "$@" \
  | tee "$out/robustness.txt"
