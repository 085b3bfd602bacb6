#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer: builds
# the project, its tools and unit tests in build-asan/ (a build of its own:
# instrumented objects must not mix with the normal build's), then runs the
# lit and unit tests there. Ends with a SUMMARY line like scripts/test.sh and
# exits non-zero on any failure or sanitizer report.
#
# Only the project's code is instrumented. Debian's libMLIR.so, mlir-runner
# and code the JIT or qwha-compile generates are not; the executables link the
# sanitizer runtimes themselves, so their malloc and free are intercepted for
# everything in the process and no LD_PRELOAD is needed. See docs/fuzzing.md.
#
# Usage: scripts/sanitize.sh [extra lit arguments, e.g. --filter=gptq]

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

QWHA_ASAN_DIR="${QWHA_ASAN_DIR:-$QWHA_ROOT/build-asan}"
# -O1 keeps stack traces close to the source and compiles faster than -O3;
# line tables are enough for symbolized reports. Undefined behaviour aborts
# (no recovery), so that lit sees it as a failure rather than a log line.
QWHA_SANITIZE_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -gline-tables-only"

# The same dependencies as scripts/test.sh, so that the same tests run.
qwha_install_deps --with-torch
# Left out: the Python extension and libqwha_cuda_runtime.so, shared
# libraries that uninstrumented processes (python, mlir-runner) load.
# Instrumented, they would need the ASan runtime preloaded into those
# processes, and the CUDA runtime, linked with -z defs, cannot leave the
# runtime's symbols undefined. Their tests report unsupported here; the
# normal suite runs them (docs/fuzzing.md).
qwha_configure "$QWHA_ASAN_DIR" \
  -DQWHA_BUILD_BENCHMARKS=OFF \
  -DQWHA_BUILD_PYTHON=OFF -DQWHA_ENABLE_CUDA=OFF \
  -DCMAKE_CXX_FLAGS="$QWHA_SANITIZE_FLAGS" \
  -DCMAKE_C_FLAGS="$QWHA_SANITIZE_FLAGS" \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
log "Building $QWHA_ASAN_DIR (ninja -j$QWHA_JOBS)"
ninja -C "$QWHA_ASAN_DIR" -j"$QWHA_JOBS" all

# Reports must fail the test that triggered them: ASan and UBSan exit
# non-zero; print_stacktrace gives UBSan reports a location beyond one line.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_stack_use_after_return=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$LLVM_PREFIX/bin/llvm-symbolizer}"

results="$QWHA_ASAN_DIR/test-results.json"
log "Running lit and unit tests under the sanitizers"
set +e
"$LLVM_PREFIX/bin/lit" -sv -j"$QWHA_JOBS" --output "$results" \
  --param sanitizers=1 "$@" "$QWHA_ASAN_DIR/test" "$QWHA_ASAN_DIR/test/Unit"
status=$?
set -e
qwha_summary "$results"
exit $status
