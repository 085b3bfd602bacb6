# Shared by the scripts in this folder: locations, dependency installation
# and the incremental build. Source it; do not run it.

set -euo pipefail

QWHA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QWHA_BUILD_DIR="${QWHA_BUILD_DIR:-$QWHA_ROOT/build}"
LLVM_PREFIX="${LLVM_PREFIX:-/usr/lib/llvm-22}"
QWHA_JOBS="${QWHA_JOBS:-2}"

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

qwha_build() {
  local cxx=clang++-22 cc=clang-22
  command -v "$cxx" >/dev/null || { cxx=c++; cc=cc; }
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  if [[ ! -f "$QWHA_BUILD_DIR/build.ninja" ]]; then
    log "Configuring $QWHA_BUILD_DIR"
    cmake -S "$QWHA_ROOT" -B "$QWHA_BUILD_DIR" -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
      "${launcher[@]}" >/dev/null
  fi
  log "Building (ninja -j$QWHA_JOBS)"
  ninja -C "$QWHA_BUILD_DIR" -j"$QWHA_JOBS" "$@"
}
