#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds incrementally, runs
# the lit regression tests and the GoogleTest unit tests in one lit run, and
# ends with one summary line. Exit status 0 only if everything passed.
#
# Usage: scripts/test.sh [extra lit arguments, e.g. --filter=raise]

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

qwha_summary "$results"
exit $status
