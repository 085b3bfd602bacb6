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

python3 - "$results" <<'PY'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
ok = {"PASS", "XFAIL", "UNSUPPORTED"}
def count(suite):
    picked = [t for t in tests if t["name"].startswith(suite + " :: ")]
    return sum(t["code"] in ok for t in picked), len(picked)
lit_ok, lit_all = count("QWHA")
unit_ok, unit_all = count("QWHA-Unit")
skipped = sum(t["code"] == "UNSUPPORTED" for t in tests)
failed = (lit_all - lit_ok) + (unit_all - unit_ok)
print(f"SUMMARY: {lit_ok + unit_ok} passed, {failed} failed "
      f"(lit {lit_ok}/{lit_all}, unit {unit_ok}/{unit_all}"
      + (f", {skipped} unsupported here" if skipped else "") + ")")
PY
exit $status
