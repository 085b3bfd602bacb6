#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) in build-fuzz/ with ASan and UBSan and
# runs each for a while on a working copy of its seed corpus. Exits non-zero
# if any target crashed, hung, ran out of memory, leaked or tripped a
# sanitizer, and says where libFuzzer saved the input. Needs clang-22.
#
# Usage: scripts/fuzz.sh [--seconds N] [--fresh] [--seed N] [target...]
#   --seconds N  run each target N seconds (default 60)
#   --fresh      start from the seeds alone, dropping what earlier runs found
#   --seed N     libFuzzer's random seed (default: a new one each run); the
#                test command fixes it, so that its short runs explore the
#                same inputs every time instead of a different sample
#   targets      safetensors calibration adapters gptq-checkpoint
#                checkpoint-index transformer-config trainer-state mlir
#                (default: all)
#
# The last line is `FUZZ: <passed>/<run> targets passed` (scripts/test.sh
# reads it). A crash is replayed with `build-fuzz/fuzz/qwha-fuzz-<target>
# <file>`; docs/fuzzing.md turns one into a regression test.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

QWHA_FUZZ_DIR="${QWHA_FUZZ_DIR:-$QWHA_ROOT/build-fuzz}"
ALL_TARGETS=(safetensors calibration adapters gptq-checkpoint checkpoint-index
             transformer-config trainer-state mlir)

seconds=60
fresh=0
seed=0
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --fresh) fresh=1; shift ;;
    --seed) seed="$2"; shift 2 ;;
    --seed=*) seed="${1#*=}"; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] ||
    { echo "fuzz.sh: unknown target '$t' (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] ||
  { echo "fuzz.sh: --seconds needs a positive integer" >&2; exit 2; }
qwha_have_clang || { echo "fuzz.sh: libFuzzer needs clang-22" >&2; exit 2; }

# Longest input per target: headers of a few tensors for the file readers
# (an index and its shards, or a config and a checkpoint, need more), a
# function or two for MLIR (the longest seed is 8 KiB).
max_len() {
  case "$1" in
    mlir) echo 8192 ;;
    gptq-checkpoint|checkpoint-index) echo 4096 ;;
    *) echo 2048 ;;
  esac
}
dictionary() {
  case "$1" in
    mlir) echo "$QWHA_ROOT/fuzz/mlir.dict" ;;
    transformer-config|trainer-state) echo "$QWHA_ROOT/fuzz/config.dict" ;;
    *) echo "$QWHA_ROOT/fuzz/safetensors.dict" ;;
  esac
}

# Only the libraries the fuzzers link are built here, all instrumented: no
# tests, benchmarks, Python package or CUDA runtime.
qwha_configure "$QWHA_FUZZ_DIR" -DQWHA_BUILD_FUZZERS=ON \
  -DQWHA_BUILD_TESTS=OFF -DQWHA_BUILD_BENCHMARKS=OFF \
  -DQWHA_BUILD_PYTHON=OFF -DQWHA_ENABLE_CUDA=OFF
log "Building fuzzers in $QWHA_FUZZ_DIR (ninja -j$QWHA_JOBS)"
ninja -C "$QWHA_FUZZ_DIR" -j"$QWHA_JOBS" "${targets[@]/#/qwha-fuzz-}"

export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$LLVM_PREFIX/bin/llvm-symbolizer}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed_targets=()
report=()
for t in "${targets[@]}"; do
  work="$QWHA_FUZZ_DIR/fuzz-work/$t"
  ((fresh)) && rm -rf "$work/corpus"
  mkdir -p "$work/corpus"
  # Seeds are copied over what earlier runs found, which stays: a long run
  # goes on where the last one stopped.
  cp "$QWHA_ROOT/fuzz/corpus/$t/"* "$work/corpus/"
  log "Fuzzing $t for ${seconds}s"
  set +e
  "$QWHA_FUZZ_DIR/fuzz/qwha-fuzz-$t" "$work/corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -seed="$seed" \
    -max_len="$(max_len "$t")" -dict="$(dictionary "$t")" \
    -artifact_prefix="$work/" -print_final_stats=1 \
    > "$work/log.txt" 2>&1
  status=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log.txt" | tail -1)"
  units="$(ls "$work/corpus" | wc -l)"
  if ((status == 0)); then
    passed=$((passed + 1))
    report+=("$(printf '  %-18s ok     %10s execs %7s/s  corpus %s' "$t" "${execs:-?}" "${rate:-?}" "$units")")
  else
    failed_targets+=("$t")
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log.txt" | tail -1)"
    # The first report line says what went wrong.
    grep -m1 -E '^==[0-9]+==ERROR|runtime error|fuzz invariant failed|ERROR: libFuzzer' \
      "$work/log.txt" >&2 || tail -20 "$work/log.txt" >&2
    report+=("$(printf '  %-18s FAILED %10s execs  input: %s  log: %s' "$t" "${execs:-?}" "${artifact:-none saved}" "$work/log.txt")")
  fi
done

printf '%s\n' "${report[@]}"
echo "FUZZ: $passed/${#targets[@]} targets passed"
((${#failed_targets[@]} == 0))
