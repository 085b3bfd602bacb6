#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds incrementally, runs
# the lit regression tests and the GoogleTest unit tests in one lit run, then
# a short run of every fuzzer (scripts/fuzz.sh, when clang-22 is there), and
# ends with one summary line. Exit status 0 only if everything passed.
#
# Usage: scripts/test.sh [extra lit arguments, e.g. --filter=raise]
#   QWHA_FUZZ_SECONDS=N  seconds per fuzz target (default 20; 0 skips fuzzing)

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

qwha_install_deps --with-torch
qwha_install_python_build_deps
qwha_build all

results="$QWHA_BUILD_DIR/test-results.json"
log "Running lit and unit tests"
set +e
"$LLVM_PREFIX/bin/lit" -sv -j"$QWHA_JOBS" --output "$results" "$@" \
  "$QWHA_BUILD_DIR/test" "$QWHA_BUILD_DIR/test/Unit"
status=$?
set -e

# The fuzzers live in a build directory of their own (build-fuzz): every
# library is instrumented there. Their result is one more SUMMARY field.
fuzz_field=()
fuzz_seconds="${QWHA_FUZZ_SECONDS:-20}"
if ((fuzz_seconds > 0)) && qwha_have_clang; then
  fuzz_log="$QWHA_BUILD_DIR/fuzz.log"
  set +e
  bash "$QWHA_ROOT/scripts/fuzz.sh" --seconds "$fuzz_seconds" --seed 1 2>&1 | tee "$fuzz_log"
  fuzz_status=${PIPESTATUS[0]}
  set -e
  # `FUZZ: <passed>/<run> targets passed`; none if fuzz.sh failed before
  # running anything (a build error), which counts as one failure.
  read -r fuzz_passed fuzz_run < <(sed -n 's|^FUZZ: \([0-9]*\)/\([0-9]*\) .*|\1 \2|p' "$fuzz_log" | tail -1) || true
  fuzz_field=(fuzz "${fuzz_passed:-0}" "${fuzz_run:-1}")
  ((fuzz_status == 0)) || status=1
elif ((fuzz_seconds > 0)); then
  log "clang-22 not found: fuzzers skipped"
fi

qwha_summary "$results" "${fuzz_field[@]}"
exit $status
