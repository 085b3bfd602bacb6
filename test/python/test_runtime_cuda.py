"""qwha.runtime with libraries from `qwha-compile --target=cuda`.

Without a GPU: the target read from the header, the lookup of
libqwha_cuda_runtime.so, and calls of Inputs/fake_cuda_model.c (a library
that calls the runtime as generated code does, with host functions as
kernels) and of a library qwha-compile built, in subprocesses whose
libcuda.so.1 is either the toolkit's stub (every driver call fails: the
runtime's message must become the exception) or the mock driver of
test/Runtime/CUDA/Inputs/mock_libcuda.c (host memory as device memory: the
arguments, the borrowed stream, the result copies and frees must be right).
Subprocesses, because the driver a process loads is the one it keeps.

With a GPU (torch.cuda.is_available()) and QWHA_GPU_ARTEFACTS naming a
directory `scripts/gpu-check.py build` wrote: every compiled case against
its CPU output.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import BINARY_DIR, SOURCE_DIR

try:
    import qwha.runtime as runtime
except ImportError:  # the package is not built: its runtime is plain Python
    _spec = importlib.util.spec_from_file_location(
        "qwha_runtime_source",
        os.path.join(SOURCE_DIR, "python-bindings", "qwha", "runtime.py"))
    runtime = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(runtime)

INPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs")
FAKE_HEADER = os.path.join(INPUTS, "fake_cuda_model.h")
CUDA_RUNTIME = os.path.join(BINARY_DIR, "lib", "libqwha_cuda_runtime.so")


def _stub_libcuda():
    candidates = [os.environ.get("QWHA_CUDA_STUB_LIBCUDA", "")]
    for root in (os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"):
        if root:
            candidates += [os.path.join(root, "lib64", "stubs", "libcuda.so"),
                           os.path.join(root, "lib", "stubs", "libcuda.so")]
    return next((c for c in candidates if c and os.path.isfile(c)), None)


def _cc():
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler (cc) to build the test libraries")
    return cc


@pytest.fixture
def fake_model(tmp_path):
    """fake_cuda_model.so and its header in tmp_path/model."""
    if not os.path.isfile(CUDA_RUNTIME):
        pytest.skip(f"{CUDA_RUNTIME} is not built")
    directory = tmp_path / "model"
    directory.mkdir()
    library = directory / "fake_cuda_model.so"
    subprocess.run([_cc(), "-shared", "-fPIC", "-I", INPUTS, "-o", str(library),
                    os.path.join(INPUTS, "fake_cuda_model.c")], check=True)
    shutil.copy(FAKE_HEADER, directory)
    return library


def _driver_dir(tmp_path, kind):
    """A directory holding a libcuda.so.1: the toolkit's stub or the mock."""
    pytest.importorskip("torch")  # CUDA libraries return torch tensors
    directory = tmp_path / kind
    directory.mkdir()
    if kind == "stub":
        stub = _stub_libcuda()
        if not stub:
            pytest.skip("no CUDA toolkit stub libcuda.so")
        os.symlink(stub, directory / "libcuda.so.1")
    else:
        subprocess.run([_cc(), "-shared", "-fPIC", "-fvisibility=hidden",
                        "-Wl,-soname,libcuda.so.1", "-o",
                        str(directory / "libcuda.so.1"),
                        os.path.join(SOURCE_DIR, "test", "Runtime", "CUDA",
                                     "Inputs", "mock_libcuda.c")], check=True)
    return directory


# Runs first in every subprocess: `rt` is this runtime module, `model` the
# fake library (loaded on device 0, the runtime from the build), calls run on
# the stream STREAM (torch sees no GPU here) and results land in host
# tensors, which the mock driver's "device" memory is. `DeviceArray` is
# host memory presented as device memory (__cuda_array_interface__).
_PRELUDE = """
import ctypes, importlib.util, sys
import numpy as np
import torch
spec = importlib.util.spec_from_file_location("rt", {module!r})
rt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rt)
STREAM = 0x1234
rt._current_cuda_stream = lambda torch, cuda: STREAM
rt._cuda_empty = lambda torch, shape, dtype, device: torch.empty(shape, dtype=dtype)
model = rt.CompiledModel({library!r}, cuda_runtime={runtime!r}, device=0)

# The mock driver (test/Runtime/CUDA/Inputs/mock_libcuda.c) loaded, and the
# calls it logged since the last take, one string each.
def mock_driver():
    driver = ctypes.CDLL("libcuda.so.1")
    driver.mockCudaTakeLog.restype = ctypes.c_void_p
    driver.mockCudaFree.argtypes = [ctypes.c_void_p]
    return driver

def mock_calls(driver):
    text = driver.mockCudaTakeLog()
    if not text:
        return []
    lines = ctypes.string_at(text).decode().splitlines()
    driver.mockCudaFree(text)
    return lines

class DeviceArray:
    def __init__(self, array, **extra):
        self.array = np.ascontiguousarray(array)
        self.__cuda_array_interface__ = dict(
            shape=self.array.shape, typestr=self.array.dtype.str,
            data=(self.array.ctypes.data, False), version=3, strides=None,
            **extra)
"""


def _run(driver, library, code):
    """Runs `code` after _PRELUDE with `driver` as libcuda.so.1; its stdout."""
    script = _PRELUDE.format(module=runtime.__file__, library=str(library),
                             runtime=CUDA_RUNTIME) + textwrap.dedent(code)
    env = dict(os.environ, LD_LIBRARY_PATH=str(driver))
    proc = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# --- Without a driver ---------------------------------------------------------


def test_header_target():
    with open(FAKE_HEADER) as f:
        cuda = f.read()
    assert runtime.header_target(cuda) == "cuda"
    cpu = cuda.replace("#define QWHA_TARGET_CUDA 1\n", "")
    assert runtime.header_target(cpu) == "cpu"
    assert runtime.header_target(cpu + "#  define  QWHA_TARGET_CUDA 1\n") == "cuda"
    assert runtime.header_target(cpu + "#define QWHA_TARGET_CUDA 0\n") == "cpu"
    assert runtime.header_target(cpu + "/* QWHA_TARGET_CUDA 1 */\n") == "cpu"
    # Both headers describe the same entry points.
    assert ({n: e.signature for n, e in runtime.parse_header(cuda).items()}
            == {n: e.signature for n, e in runtime.parse_header(cpu).items()})


def test_cpu_library_target(tmp_path):
    from conftest import tool
    source = tmp_path / "neg.mlir"
    source.write_text(
        "func.func @neg(%a: tensor<3xf32>) -> tensor<3xf32> {\n"
        "  %e = tensor.empty() : tensor<3xf32>\n"
        "  %0 = linalg.negf ins(%a : tensor<3xf32>) outs(%e : tensor<3xf32>)"
        " -> tensor<3xf32>\n  return %0 : tensor<3xf32>\n}\n")
    subprocess.run([tool("qwha-compile"), str(source), "-o",
                    str(tmp_path / "neg.so")], check=True)
    model = runtime.CompiledModel(tmp_path / "neg.so", cuda_runtime="/nowhere.so")
    assert model.target == "cpu" and model.device is None
    assert model.neg(np.arange(3, dtype=np.float32)).tolist() == [-0.0, -1.0, -2.0]


def test_cuda_runtime_lookup(tmp_path, monkeypatch):
    for name in ("QWHA_CUDA_RUNTIME", "QWHA_BINARY_DIR", "QWHA_TOOLS_DIR"):
        monkeypatch.delenv(name, raising=False)
    # Not beside a build: only the paths the test names are tried.
    monkeypatch.setattr(runtime, "__file__", str(tmp_path / "pkg" / "qwha" / "runtime.py"))
    library = tmp_path / "model" / "m.so"
    library.parent.mkdir()
    beside = library.parent / "libqwha_cuda_runtime.so"

    with pytest.raises(FileNotFoundError) as error:
        runtime.find_cuda_runtime(library)
    assert str(beside) in str(error.value)
    assert "QWHA_CUDA_RUNTIME" in str(error.value)

    monkeypatch.setenv("QWHA_BINARY_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("QWHA_TOOLS_DIR", str(tmp_path / "tools" / "bin"))
    with pytest.raises(FileNotFoundError) as error:
        runtime.find_cuda_runtime(library)
    for path in (beside, tmp_path / "build" / "lib" / "libqwha_cuda_runtime.so",
                 tmp_path / "tools" / "lib" / "libqwha_cuda_runtime.so"):
        assert str(path) in str(error.value)

    built = tmp_path / "build" / "lib" / "libqwha_cuda_runtime.so"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"")
    assert runtime.find_cuda_runtime(library) == built
    beside.write_bytes(b"")
    assert runtime.find_cuda_runtime(library) == beside

    # Named explicitly, nothing else is tried.
    monkeypatch.setenv("QWHA_CUDA_RUNTIME", str(tmp_path / "env.so"))
    with pytest.raises(FileNotFoundError,
                       match=r"env\.so \(\$QWHA_CUDA_RUNTIME\)$") as error:
        runtime.find_cuda_runtime(library)
    assert str(beside) not in str(error.value)
    with pytest.raises(FileNotFoundError, match=r"arg\.so \(cuda_runtime=\)$"):
        runtime.find_cuda_runtime(library, tmp_path / "arg.so")
    assert runtime.find_cuda_runtime(library, built) == built


def test_cuda_library_without_runtime(tmp_path, monkeypatch):
    for name in ("QWHA_CUDA_RUNTIME", "QWHA_BINARY_DIR", "QWHA_TOOLS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runtime, "__file__", str(tmp_path / "pkg" / "qwha" / "runtime.py"))
    shutil.copy(FAKE_HEADER, tmp_path / "m.h")
    (tmp_path / "m.so").write_bytes(b"")  # never loaded: the runtime is missing
    with pytest.raises(FileNotFoundError, match="m.so is a CUDA library"):
        runtime.CompiledModel(tmp_path / "m.so")


# --- The toolkit's stub driver: errors ----------------------------------------


def test_stub_driver_errors_raise(tmp_path, fake_model):
    out = _run(_driver_dir(tmp_path, "stub"), fake_model, """
        print("target:", model.target, model.device)
        x = DeviceArray(np.ones((2, 3), np.float32))
        try:
            model.scale(x, 2.0)
        except RuntimeError as e:
            print("error:", e)
        # Taken: the next call reports its own.
        try:
            model.twice(DeviceArray(np.ones(4, np.float32)))
        except RuntimeError as e:
            print("error:", str(e).splitlines()[0])
        synchronize = ctypes.c_bool()
        print("still borrowed:", rt._cuda_runtime.lib.qwhaCudaIsStreamSet(
            ctypes.byref(synchronize)))
    """)
    lines = out.splitlines()
    assert lines[0] == "target: cuda 0"
    # The first failure (two allocations and two launches failed).
    assert lines[1].startswith(
        "error: @scale of fake_cuda_model.so: qwha-cuda-runtime: mgpuMemAlloc: "
        "cuInit(0) failed: CUDA_ERROR_STUB_LIBRARY")
    assert lines[2] == "(and 3 later CUDA errors)"
    assert lines[3].startswith(
        "error: @twice of fake_cuda_model.so: qwha-cuda-runtime: mgpuMemAlloc: "
        "cuInit(0) (failed before) failed")
    assert lines[4] == "still borrowed: False"


def test_host_arguments_are_errors(tmp_path, fake_model):
    out = _run(_driver_dir(tmp_path, "stub"), fake_model, """
        for value in (np.ones((2, 3), np.float32), torch.ones(2, 3), [[1.0] * 3] * 2):
            try:
                model.scale(value, 2.0)
            except TypeError as e:
                print("error:", e)
        for value in (DeviceArray(np.ones((2, 4), np.float32)),
                      DeviceArray(np.ones(3, np.float32))):
            try:
                model.scale(value, 2.0)
            except ValueError as e:
                print("error:", e)
    """)
    assert out.splitlines() == [
        "error: @scale argument 0 (tensor<?x3xf32>): ndarray is host memory; "
        "fake_cuda_model.so runs on the GPU: pass a torch CUDA tensor or a CuPy "
        "array (host memory is not copied to the device)",
        "error: @scale argument 0 (tensor<?x3xf32>): the tensor is on cpu; "
        "fake_cuda_model.so runs on the GPU: pass a tensor on cuda:0 (host "
        "memory is not copied to the device)",
        "error: @scale argument 0 (tensor<?x3xf32>): list is host memory; "
        "fake_cuda_model.so runs on the GPU: pass a torch CUDA tensor or a CuPy "
        "array (host memory is not copied to the device)",
        "error: @scale argument 0 (tensor<?x3xf32>): dimension 1 is 4, the "
        "function needs 3 (shape (2, 4))",
        "error: @scale argument 0 (tensor<?x3xf32>): expected rank 2, got shape (3,)",
    ]


# --- The mock driver: what a call does ------------------------------------------


def test_mock_driver_calls(tmp_path, fake_model):
    out = _run(_driver_dir(tmp_path, "mock"), fake_model, """
        import json
        driver = mock_driver()
        lib = rt._cuda_runtime.lib

        def calls():
            return mock_calls(driver)

        out = {}
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        y, rows = model.scale(DeviceArray(x), 2.0)
        out["scale"] = [y.tolist(), str(y.dtype), rows, calls()]
        a, b = model.twice(DeviceArray(np.arange(4, dtype=np.float32)))
        out["twice"] = [a.tolist(), b.tolist(), a.data_ptr() != b.data_ptr(), calls()]
        x16 = np.arange(16, dtype=np.float32).reshape(4, 4)
        c = model.corner(DeviceArray(x16))
        out["corner"] = [c.tolist(), c.is_contiguous(), calls()]
        r = model.reversed(DeviceArray(np.arange(4, dtype=np.float32)))
        out["reversed"] = [r.tolist(), calls()]
        bits = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
        z = model.bits(DeviceArray(bits.view(torch.int16).numpy()))
        out["bits"] = [str(z.dtype), z.tolist(), calls()]
        # A producer stream named by the interface: the call waits for it on
        # the device, before any work.
        model.twice(DeviceArray(np.zeros(4, np.float32), stream=0x777))
        out["producer"] = calls()[:3]
        # A borrowing of the caller's own is restored.
        lib.qwhaCudaSetStream(0x999, True)
        model.twice(DeviceArray(np.zeros(4, np.float32)))
        flag = ctypes.c_bool()
        out["restored"] = [lib.qwhaCudaIsStreamSet(ctypes.byref(flag)),
                           hex(lib.qwhaCudaGetStream()), flag.value]
        lib.qwhaCudaUnsetStream()
        calls()
        out["live"] = driver.mockCudaLiveAllocations()
        print(json.dumps(out))
    """)
    out = json.loads(out)
    on = "stream 0x1234"
    launch = f"cuLaunchKernel({on})"
    y, rows, calls = out["scale"][0], out["scale"][2], out["scale"][3]
    assert y == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]] and out["scale"][1] == "torch.float32"
    assert rows == 2
    # No stream of its own, no synchronisation; the temporary freed by the
    # library and the result by the driver, in stream order after the copy.
    assert calls == [f"cuMemAllocAsync(24, {on})", f"cuMemAllocAsync(24, {on})",
                     launch, launch, f"cuMemFreeAsync(pool memory, {on})",
                     f"cuMemcpyAsync(24, {on})", f"cuMemFreeAsync(pool memory, {on})"]
    # One buffer, two results: copied twice, freed once.
    assert out["twice"][:3] == [[-0.0, -1.0, -2.0, -3.0], [-0.0, -1.0, -2.0, -3.0], True]
    assert out["twice"][3] == [f"cuMemAllocAsync(16, {on})", launch,
                               f"cuMemcpyAsync(16, {on})", f"cuMemcpyAsync(16, {on})",
                               f"cuMemFreeAsync(pool memory, {on})"]
    # A strided view: the span it reaches (elements 5 to 10) is copied.
    assert out["corner"][:2] == [[[5.0, 6.0], [9.0, 10.0]], True]
    assert f"cuMemcpyAsync(24, {on})" in out["corner"][2]
    assert out["reversed"][0] == [3.0, 2.0, 1.0, 0.0]
    assert out["bits"][:2] == ["torch.bfloat16", [1.5, -2.0]]
    assert out["producer"][0].startswith("cuEventCreate -> ")
    event = out["producer"][0].split()[-1]
    assert out["producer"][1:] == [f"cuEventRecord({event}, stream 0x777)",
                                   f"cuStreamWaitEvent({on}, {event})"]
    assert out["restored"] == [True, "0x999", True]
    assert out["live"] == 0


def test_mock_driver_compiled_library(tmp_path):
    """A library from qwha-compile --target=cuda (the smallest GPU
    integration case), through its real host code: the mock driver's
    launches do nothing, so only what the host does is checked."""
    from conftest import tool
    if not os.path.isfile(CUDA_RUNTIME):
        pytest.skip(f"{CUDA_RUNTIME} is not built")
    cases = os.path.join(SOURCE_DIR, "test", "Integration", "GPU", "Inputs")
    sources = sorted((os.path.join(cases, f) for f in os.listdir(cases)
                      if f.endswith(".mlir")), key=os.path.getsize) \
        if os.path.isdir(cases) else []
    if not sources:
        pytest.skip(f"no GPU integration cases in {cases}")
    library = tmp_path / "case.so"
    subprocess.run([tool("qwha-compile"), sources[0], "--target=cuda", "-o",
                    str(library)], check=True)
    out = _run(_driver_dir(tmp_path, "mock"), library, """
        import json
        driver = mock_driver()

        def calls():
            return mock_calls(driver)

        loaded = calls()
        entry = model.entry_points["forward"]
        shape = [n or 2 for n in entry.args[0].shape]
        y = model.forward(DeviceArray(np.ones(shape, np.float32)))
        print(json.dumps({"target": model.target, "loaded": loaded,
                          "result": [type(y).__name__, str(y.dtype)],
                          "calls": calls(),
                          "live": driver.mockCudaLiveAllocations()}))
    """)
    out = json.loads(out)
    assert out["target"] == "cuda"
    # The kernels are loaded when the library is.
    assert any(c.startswith("cuModuleLoad") for c in out["loaded"])
    assert out["result"] == ["Tensor", "torch.float32"]
    calls = out["calls"]
    assert any(c.startswith("cuLaunchKernel") for c in calls)
    for call in calls:
        assert not call.startswith(("cuStream", "cuMemAlloc(", "cuMemFree(")), calls
        if "stream" in call:
            assert call.endswith("stream 0x1234)"), calls
    allocated = sum(c.startswith("cuMemAllocAsync") for c in calls)
    assert allocated and allocated == sum(c.startswith("cuMemFreeAsync") for c in calls)
    assert out["live"] == 0


def _compile_cuda_layer(tmp_path):
    """tmp_path/q4.so: the 4-bit layer of test/Integration/GPU/Inputs/
    q4-g128-b1.mlir (24 KiB of codes, uploaded at load) for --target=cuda."""
    from conftest import tool
    if not os.path.isfile(CUDA_RUNTIME):
        pytest.skip(f"{CUDA_RUNTIME} is not built")
    source = os.path.join(SOURCE_DIR, "test", "Integration", "GPU", "Inputs",
                          "q4-g128-b1.mlir")
    library = tmp_path / "q4.so"
    subprocess.run([tool("qwha-compile"), source, "--target=cuda", "-o",
                    str(library)], check=True)
    return library


def test_mock_driver_uploads_constants_at_load(tmp_path):
    """A compiled layer whose packed weights (24 KiB) are more than the
    kernel image keeps: they stay in the library, which copies them to the
    device when it is loaded, once, after loading its kernels; calls only
    launch (so that a first call may be captured into a CUDA graph)."""
    library = _compile_cuda_layer(tmp_path)
    out = _run(_driver_dir(tmp_path, "mock"), library, """
        import json
        driver = mock_driver()

        def calls():
            return mock_calls(driver)

        loaded = calls()
        x = DeviceArray(np.ones((1, 2048), np.float32))
        model.forward(x)
        first = calls()
        model.forward(x)
        print(json.dumps({"loaded": loaded, "first": first, "second": calls(),
                          "live": driver.mockCudaLiveAllocations()}))
    """)
    out = json.loads(out)
    # The 24x256 words of 4-bit codes; scales and offsets (1.5 KiB each)
    # stay in the kernel image.
    loaded = out["loaded"]
    uploads = [c for c in loaded if c.startswith("cuMemcpyHtoD")]
    assert len(uploads) == 1 and uploads[0].startswith("cuMemcpyHtoDAsync(24576,"), loaded
    module = next(i for i, c in enumerate(loaded) if c.startswith("cuModuleLoad"))
    assert module < loaded.index("cuMemAlloc(24576)") < loaded.index(uploads[0])
    for call in (out["first"], out["second"]):
        assert any(c.startswith("cuLaunchKernel") for c in call)
        assert not any(c.startswith(("cuMemAlloc(", "cuMemcpyHtoD", "cuStreamCreate",
                                     "cuStreamSynchronize"))
                       for c in call), call
    # The device copy lives until the library is unloaded.
    assert out["live"] == 1


def test_mock_driver_calls_are_capturable(tmp_path):
    """Every call of a loaded library, the first too, may be captured into a
    CUDA graph: while the mock driver plays a global-mode stream capture, a
    call of a compiled layer with constants uploaded at load makes none of
    the driver calls a capture refuses. Loading a library then does (its
    module load), and is reported as a failed load."""
    library = _compile_cuda_layer(tmp_path)
    shutil.copy(library, tmp_path / "q4-again.so")
    shutil.copy(library.with_suffix(".h"), tmp_path / "q4-again.h")
    out = _run(_driver_dir(tmp_path, "mock"), library, f"""
        import json
        driver = mock_driver()
        mock_calls(driver)
        x = DeviceArray(np.ones((1, 2048), np.float32))
        driver.mockCudaBeginCapture()
        shapes = [list(model.forward(x).shape) for _ in range(2)]
        try:
            rt.CompiledModel({str(tmp_path / "q4-again.so")!r})
            load_error = None
        except RuntimeError as e:
            load_error = str(e)
        driver.mockCudaEndCapture()
        print(json.dumps({{"shapes": shapes, "calls": mock_calls(driver),
                          "load_error": load_error}}))
    """)
    out = json.loads(out)
    assert out["shapes"] == [[1, 24], [1, 24]]
    calls = out["calls"]
    loading = calls.index("cuModuleLoadData refused during stream capture")
    assert not any("refused" in c for c in calls[:loading]), calls
    assert sum(c.startswith("cuLaunchKernel") for c in calls[:loading]) == 2
    assert "q4-again.so: loading its GPU code failed" in out["load_error"]
    assert "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED" in out["load_error"]


# --- A GPU: the artefacts of scripts/gpu-check.py build -------------------------


def test_gpu_artefacts():
    """Every case `scripts/gpu-check.py build` compiled, run on the GPU on a
    side stream, against the CPU library's output."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    directory = os.environ.get("QWHA_GPU_ARTEFACTS")
    if not directory:
        pytest.skip("QWHA_GPU_ARTEFACTS does not name a gpu-check.py build directory")
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["cases"], "no cases in the manifest"
    for case in manifest["cases"]:
        if not case.get("cuda"):
            continue
        model = runtime.CompiledModel(os.path.join(directory, case["cuda"]))
        assert model.target == "cuda"
        inputs = [torch.from_numpy(np.load(os.path.join(directory, file))).cuda()
                  for file in case["inputs"]]
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            got = model.forward(*inputs)
        stream.synchronize()
        got = list(got) if isinstance(got, tuple) else [got]
        assert len(got) == len(case["outputs"]), case["name"]
        for y, file in zip(got, case["outputs"]):
            expected = np.load(os.path.join(directory, file))
            assert y.device.type == "cuda"
            # gpu-check.py's tolerance, the case's own for TF32 kernels: atol
            # relative to the output's magnitude.
            scale = float(np.abs(expected).max()) if expected.size else 0.0
            np.testing.assert_allclose(
                y.cpu().numpy(), expected, rtol=case.get("rtol", 1e-4),
                atol=case.get("atol_relative", 1e-4) * scale,
                err_msg=case["name"])
