"""Calls libraries built by `qwha-compile` from Python, on numpy arrays and
torch tensors.

    from qwha.runtime import CompiledModel
    m = CompiledModel("model.so")          # reads model.h beside it
    y = m.forward(ids, mask)               # or m.call("forward", ids, mask)

The entry points, their argument and result element types and ranks come
from the C header qwha-compile writes next to the library (`--header`
elsewhere: pass `header=`). Calls follow MLIR's C interface as that header
describes it:

- a memref or tensor argument is passed as a pointer to a descriptor
  (`allocated`, `aligned`, `offset`, `sizes[rank]`, `strides[rank]`) built
  with ctypes over the array's own memory when it is C-contiguous and of
  the argument's dtype (no copy), over a contiguous copy otherwise;
  static dimensions of the signature are checked before the call;
- scalars are passed by value;
- one memref result is written through a descriptor pointer passed first,
  one scalar result is returned, several results are written through a
  pointer to a struct of them;
- every returned buffer was malloc'ed by the library: it is copied into a
  numpy array and freed (each distinct allocation once).

Tensor arguments are read only to the library; a `memref` argument may be
written by it, and writes reach the caller's array when no copy was made.
f16 elements travel as numpy float16; bf16 elements as their bits
(uint16) in both directions. Standard library and numpy only.

CPU torch tensors are passed like numpy arrays, through ``Tensor.numpy()``
(no copy when contiguous and of the argument's dtype; a tensor that needs
grad is detached); when any argument is a torch tensor, array results come
back as torch tensors (``torch.from_numpy``, no further copy; bf16 results as
``torch.bfloat16``). Tensors on other devices are an error: the library runs
on the CPU. torch is never imported by this module for CPU libraries.

CUDA libraries (``qwha-compile --target=cuda``; their header defines
``QWHA_TARGET_CUDA``, ``CompiledModel.target`` is "cuda") have the same C
interface over device memory, and need torch:

- libqwha_cuda_runtime.so, the mgpu* functions they call, is loaded first
  (RTLD_GLOBAL): ``cuda_runtime=``, else ``$QWHA_CUDA_RUNTIME``, else the
  one beside the library, else the build tree's;
- array arguments are torch CUDA tensors on the library's device or objects
  with ``__cuda_array_interface__`` (CuPy arrays), passed by their device
  pointer (a contiguous converted copy when the layout or dtype differ, made
  by torch); host arrays are an error, never copied to the device;
- a call runs on torch's current stream, borrowed by the runtime
  (``qwhaCudaSetStream``): kernels, the library's allocations and frees,
  the copies of the results are queued on it and the host does not wait;
- array results come back as new torch tensors on the device (copied from
  the library's buffers, which are then freed in stream order), scalar
  results as Python values;
- a CUDA error raises RuntimeError with the runtime's message, which names
  the mgpu function and the driver call that failed.
"""

import ctypes
import filecmp
import os
import pathlib
import re
import threading

import numpy as np

__all__ = ["CompiledModel", "EntryPoint", "parse_header", "header_target",
           "find_cuda_runtime", "HeaderError"]


class HeaderError(ValueError):
    """The header does not describe the library the way qwha-compile writes it."""


# C spellings of the header -> (ctypes type, numpy dtype).
_C_TYPES = {
    "float": (ctypes.c_float, np.float32),
    "double": (ctypes.c_double, np.float64),
    "bool": (ctypes.c_bool, np.bool_),
    "int8_t": (ctypes.c_int8, np.int8),
    "int16_t": (ctypes.c_int16, np.int16),
    "int32_t": (ctypes.c_int32, np.int32),
    "int64_t": (ctypes.c_int64, np.int64),
    "uint8_t": (ctypes.c_uint8, np.uint8),
    "uint16_t": (ctypes.c_uint16, np.uint16),
    "uint32_t": (ctypes.c_uint32, np.uint32),
    "uint64_t": (ctypes.c_uint64, np.uint64),
}

_MEMREF_TYPEDEF = re.compile(
    r"typedef struct \{\s*(?P<ctype>[A-Za-z0-9_]+) \*allocated;.*?\}\s*"
    r"(?P<name>qwha_memref_(?P<elt>[a-z0-9]+)_(?P<rank>\d+)d);", re.S)
_RESULTS_TYPEDEF = re.compile(
    r"typedef struct \{(?P<body>[^{}]*)\}\s*(?P<name>qwha_[A-Za-z0-9_]+_results);", re.S)
_SIGNATURE = re.compile(r"/\* @(?P<name>[A-Za-z_][A-Za-z0-9_]*)\((?P<args>.*?)\) -> "
                        r"(?P<results>.*?) \*/")
_DECLARATION = re.compile(r"^(?P<ret>[A-Za-z0-9_]+) _mlir_ciface_(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                          r"\((?P<params>[^)]*)\);", re.M)
_SHAPED = re.compile(r"^(?:tensor|memref)<(?P<body>[^>]*)>")


class _Type:
    """One argument or result: a memref descriptor or a scalar."""

    def __init__(self, ctype, dtype, rank=None, element=None, descriptor=None):
        self.ctype = ctype          # element (memref) or value (scalar) ctypes type
        self.dtype = np.dtype(dtype)
        self.rank = rank            # None for scalars
        self.element = element      # MLIR element name for memrefs ("f32", "bf16", ...)
        self.descriptor = descriptor
        self.shape = None           # static shape from the signature, None per dynamic dim
        self.kind = "tensor"        # "tensor" or "memref" (arguments only)
        self.mlir = ""              # the type as the signature spells it

    @property
    def is_memref(self):
        return self.rank is not None

    def __repr__(self):
        return self.mlir or (self.element if self.is_memref else str(self.dtype))


def _descriptor_type(ctype, rank, name):
    fields = [("allocated", ctypes.POINTER(ctype)), ("aligned", ctypes.POINTER(ctype)),
              ("offset", ctypes.c_int64)]
    if rank:
        fields += [("sizes", ctypes.c_int64 * rank), ("strides", ctypes.c_int64 * rank)]
    return type(name, (ctypes.Structure,), {"_fields_": fields})


def _split_top_level(text):
    """Splits "a<b, c>, d" at the commas outside angle brackets and parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts


def _static_shape(mlir_type):
    """(kind, shape) of "tensor<?x3xf32>" -> ("tensor", (None, 3)); rank 0 -> ()."""
    match = _SHAPED.match(mlir_type)
    if not match:
        return None, None
    dims = match.group("body").split(",")[0].strip().split("x")[:-1]
    return mlir_type.split("<")[0], tuple(None if d == "?" else int(d) for d in dims)


class EntryPoint:
    """One `_mlir_ciface_<name>` of a library, typed from the header."""

    def __init__(self, name, args, results, signature):
        self.name = name
        self.args = args
        self.results = results
        self.signature = signature
        self._function = None
        self._cuda = None           # a _CudaTarget for CUDA libraries

    def __repr__(self):
        return f"<EntryPoint @{self.signature}>"

    def bind(self, library, cuda=None):
        self._cuda = cuda
        function = getattr(library, "_mlir_ciface_" + self.name)
        params = []
        if len(self.results) == 1 and self.results[0].is_memref:
            params.append(ctypes.POINTER(self.results[0].descriptor))
            function.restype = None
        elif len(self.results) == 1:
            function.restype = self.results[0].ctype
        elif self.results:
            fields = []
            for i, result in enumerate(self.results):
                fields.append((f"r{i}", result.descriptor if result.is_memref else result.ctype))
            self._results_struct = type(f"{self.name}_results", (ctypes.Structure,),
                                        {"_fields_": fields})
            params.append(ctypes.POINTER(self._results_struct))
            function.restype = None
        else:
            function.restype = None
        for arg in self.args:
            params.append(ctypes.POINTER(arg.descriptor) if arg.is_memref else arg.ctype)
        function.argtypes = params
        self._function = function
        return self

    def _convert(self, index, value, keep):
        arg = self.args[index]
        where = f"@{self.name} argument {index} ({arg})"
        if _is_torch_tensor(value):
            value = _torch_to_numpy(value, where)
        if not arg.is_memref:
            if np.ndim(value) != 0:
                raise ValueError(f"{where}: expected a scalar, got shape {np.shape(value)}")
            return np.asarray(value).astype(arg.dtype).item()
        array = np.asarray(value)
        if arg.element == "bf16" and array.dtype != np.uint16:
            raise TypeError(f"{where}: bf16 elements are passed as their bits (uint16), "
                            f"got {array.dtype}")
        if array.dtype != arg.dtype and not np.can_cast(array.dtype, arg.dtype, "same_kind"):
            raise TypeError(f"{where}: cannot pass {array.dtype} as {arg.dtype}")
        _check_shape(where, arg, array.shape)
        # No copy for a C-contiguous array of the right dtype.
        array = np.ascontiguousarray(array, dtype=arg.dtype)
        keep.append(array)
        return _describe(arg, array.ctypes.data, array.shape, keep)

    def __call__(self, *values):
        if self._function is None:
            raise RuntimeError(f"@{self.name} is not bound to a library")
        if len(values) != len(self.args):
            raise TypeError(f"@{self.name} takes {len(self.args)} arguments, "
                            f"got {len(values)}: {self.signature}")
        if self._cuda is not None:
            return self._call_cuda(values)
        keep = []
        converted = [self._convert(i, v, keep) for i, v in enumerate(values)]
        as_torch = any(_is_torch_tensor(v) for v in values)
        return self._pack(_finish(_take(self._invoke(converted)), self.results,
                                  as_torch))

    def _invoke(self, converted):
        """Calls the function: [(result type, its descriptor or scalar value)]."""
        if len(self.results) == 1 and self.results[0].is_memref:
            out = self.results[0].descriptor()
            self._function(ctypes.byref(out), *converted)
            return [(self.results[0], out)]
        if len(self.results) == 1:
            return [(self.results[0], self._function(*converted))]
        if not self.results:
            self._function(*converted)
            return []
        out = self._results_struct()
        self._function(ctypes.byref(out), *converted)
        return [(r, getattr(out, f"r{i}")) for i, r in enumerate(self.results)]

    def _pack(self, values):
        """What the call returns: None, the one result, or a tuple."""
        if not self.results:
            return None
        return values[0] if len(self.results) == 1 else tuple(values)

    # CUDA libraries --------------------------------------------------------

    def _call_cuda(self, values):
        cuda = self._cuda
        torch = _import_torch(cuda.name)
        keep, producers = [], set()
        converted = [self._convert_cuda(i, v, keep, producers, torch)
                     for i, v in enumerate(values)]
        stream = _current_cuda_stream(torch, cuda)
        runtime = cuda.runtime
        # The runtime's state is per thread (borrowed stream, default device)
        # and ctypes calls run on this one: set them for each call.
        runtime.lib.mgpuSetDefaultDevice(cuda.device)
        # Errors are process-wide and sticky: one left from elsewhere (it was
        # printed when it happened) would be reported as this call's.
        runtime.take_error()
        with runtime.borrowed(stream):
            for producer in producers - {stream}:
                runtime.wait(stream, producer)
            pairs = self._invoke(converted)
            error = runtime.take_error()
            if error is not None:
                # The descriptors may hold the buffers allocated before the
                # failure: free them, the message stays the first error's.
                _free_cuda(runtime, pairs, stream)
                raise RuntimeError(f"@{self.name} of {cuda.name}: {error}")
            values = _take_cuda(runtime, pairs, stream, torch, cuda)
            error = runtime.take_error()
        if error is not None:
            raise RuntimeError(f"@{self.name} of {cuda.name}: {error}")
        return self._pack(values)

    def _convert_cuda(self, index, value, keep, producers, torch):
        """The descriptor (or scalar) of one argument of a CUDA library;
        adds the stream of a __cuda_array_interface__ that names one to
        `producers`."""
        arg = self.args[index]
        cuda = self._cuda
        where = f"@{self.name} argument {index} ({arg})"
        if not arg.is_memref:
            if _is_torch_tensor(value):
                value = value.item()  # waits for a CUDA tensor's producers
            if np.ndim(value) != 0:
                raise ValueError(f"{where}: expected a scalar, got shape {np.shape(value)}")
            return np.asarray(value).astype(arg.dtype).item()
        want = _torch_dtype(torch, arg)
        interface = None if _is_torch_tensor(value) else \
            getattr(value, "__cuda_array_interface__", None)
        if interface is not None:
            pointer, shape, direct = _cuda_array_interface(where, arg, interface)
            _check_shape(where, arg, shape)
            if interface.get("stream") is not None:
                producers.add(_interface_stream(interface["stream"]))
            if not direct:
                # torch reads the interface (and synchronises with its
                # stream) and makes the copy below.
                value = torch.as_tensor(value, device=f"cuda:{cuda.device}")
        if _is_torch_tensor(value):
            if value.device.type != "cuda":
                raise TypeError(f"{where}: the tensor is on {value.device}; {cuda.name} "
                                f"runs on the GPU: pass a tensor on cuda:{cuda.device} "
                                "(host memory is not copied to the device)")
            if value.device.index != cuda.device:
                raise ValueError(f"{where}: the tensor is on {value.device}, "
                                 f"{cuda.name} runs on cuda:{cuda.device}")
            if arg.element == "bf16" and value.dtype in (torch.int16,
                                                         getattr(torch, "uint16", None)):
                value = value.view(torch.bfloat16)  # bits, as on the CPU
            if value.dtype != want:
                if arg.element == "bf16" or not torch.can_cast(value.dtype, want):
                    raise TypeError(f"{where}: cannot pass {value.dtype} as {want}")
                value = value.to(want)
            _check_shape(where, arg, tuple(value.shape))
            # No copy for a contiguous tensor. The copy, if any, is made on
            # the current stream, on which torch's allocator also orders its
            # reuse after this call's work.
            value = value.detach().contiguous()
            keep.append(value)
            return _describe(arg, value.data_ptr(), tuple(value.shape), keep)
        if interface is not None:
            return _describe(arg, pointer, shape, keep)
        raise TypeError(f"{where}: {type(value).__name__} is host memory; {cuda.name} "
                        "runs on the GPU: pass a torch CUDA tensor or a CuPy array "
                        "(host memory is not copied to the device)")


def _check_shape(where, arg, shape):
    """Rank and static dimensions of the signature against an argument's shape."""
    if len(shape) != arg.rank:
        raise ValueError(f"{where}: expected rank {arg.rank}, got shape {shape}")
    if arg.shape is not None:
        for dim, (want, got) in enumerate(zip(arg.shape, shape)):
            if want is not None and want != got:
                raise ValueError(f"{where}: dimension {dim} is {got}, the function "
                                 f"needs {want} (shape {shape})")


def _describe(arg, address, shape, keep):
    """A descriptor of the dense row-major buffer at `address` (kept alive in
    `keep`), passed by reference."""
    pointer = ctypes.cast(address, ctypes.POINTER(arg.ctype))
    desc = arg.descriptor()
    desc.allocated = pointer
    desc.aligned = pointer
    desc.offset = 0
    if arg.rank:
        # Row-major strides of the shape (numpy and torch may report any
        # stride for a dimension of size 1).
        strides, step = [], 1
        for n in reversed(shape):
            strides.append(step)
            step *= max(n, 1)
        desc.sizes[:] = list(shape)
        desc.strides[:] = strides[::-1]
    keep.append(desc)
    return ctypes.byref(desc)


def _is_torch_tensor(value):
    return (type(value).__module__.split(".")[0] == "torch"
            and hasattr(value, "numpy") and hasattr(value, "device"))


def _torch_to_numpy(tensor, where):
    """A numpy view of a CPU tensor (bf16 as its uint16 bits)."""
    if tensor.device.type != "cpu":
        raise TypeError(f"{where}: the tensor is on {tensor.device}; the "
                        f"library runs on the CPU (call .cpu() first)")
    tensor = tensor.detach()
    if str(tensor.dtype) == "torch.bfloat16":
        import torch  # only reached with a tensor in hand
        return tensor.view(torch.int16).numpy().view(np.uint16)
    return tensor.numpy()


def _finish(values, results, as_torch):
    """Array results as torch tensors when the call was given tensors."""
    if not as_torch:
        return values
    import torch  # only reached when a tensor was passed
    out = []
    for value, result in zip(values, results):
        if not result.is_memref:
            out.append(value)
        elif result.element == "bf16":
            out.append(torch.from_numpy(value.view(np.int16)).view(torch.bfloat16))
        else:
            out.append(torch.from_numpy(value))
    return out


_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None


def _take(pairs):
    """Copies results out of their descriptors, then frees each allocation once."""
    values, allocations = [], set()
    for result, value in pairs:
        if not result.is_memref:
            values.append(value)
            continue
        shape = tuple(value.sizes) if result.rank else ()
        strides = tuple(value.strides) if result.rank else ()
        address = ctypes.cast(value.aligned, ctypes.c_void_p).value
        if 0 in shape:
            array = np.empty(shape, result.dtype)
        else:
            lo = value.offset + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
            hi = value.offset + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
            flat = np.ctypeslib.as_array(
                ctypes.cast(address + lo * result.dtype.itemsize,
                            ctypes.POINTER(result.ctype)), shape=(hi - lo + 1,))
            flat = flat.view(result.dtype)
            array = np.lib.stride_tricks.as_strided(
                flat[value.offset - lo:], shape=shape,
                strides=[s * result.dtype.itemsize for s in strides]).copy()
        values.append(array)
        allocated = ctypes.cast(value.allocated, ctypes.c_void_p).value
        if allocated:
            allocations.add(allocated)
    for allocated in allocations:
        _libc.free(allocated)
    return values


# CUDA libraries ------------------------------------------------------------

_TARGET_CUDA = re.compile(r"^[ \t]*#[ \t]*define[ \t]+QWHA_TARGET_CUDA[ \t]+1[ \t]*$", re.M)

_CUDA_RUNTIME_NAME = "libqwha_cuda_runtime.so"


def header_target(text):
    """The device a qwha-compile header says its library runs on: "cuda"
    when it defines QWHA_TARGET_CUDA to 1, else "cpu"."""
    return "cuda" if _TARGET_CUDA.search(text) else "cpu"


def _import_torch(name):
    try:
        import torch
    except ImportError:
        raise ImportError(f"{name} is a CUDA library: calling it needs torch, "
                          "which cannot be imported") from None
    return torch


class _CudaTarget:
    """What the entry points of one CUDA library share."""

    def __init__(self, runtime, device, name):
        self.runtime = runtime      # the _CudaRuntime
        self.device = device        # device ordinal its kernels are loaded on
        self.name = name            # the library's file name, for messages


def _current_cuda_stream(torch, cuda):
    """The handle of torch's current stream on the library's device, which a
    call borrows. Raises when that device is not torch's current one: the
    library's kernels are loaded there only."""
    if not torch.cuda.is_available():
        raise RuntimeError(f"{cuda.name} runs on the GPU, and torch sees none "
                           "(torch.cuda.is_available() is False)")
    current = torch.cuda.current_device()
    if current != cuda.device:
        raise ValueError(f"{cuda.name} is loaded on cuda:{cuda.device}, the current "
                         f"device is cuda:{current} (use torch.cuda.device({cuda.device}))")
    return torch.cuda.current_stream(current).cuda_stream


def _cuda_empty(torch, shape, dtype, device):
    """A new tensor on the device (on the current stream) for a result."""
    return torch.empty(shape, dtype=dtype, device=f"cuda:{device}")


def _torch_dtype(torch, t):
    """The torch dtype of a memref's elements (bf16 included)."""
    # numpy's names are torch's (bool, float16, uint16, ...).
    return torch.bfloat16 if t.element == "bf16" else getattr(torch, t.dtype.name)


def _interface_stream(stream):
    """A __cuda_array_interface__ stream as a driver handle: 1 is the legacy
    default stream, which the driver (and torch) call 0."""
    return 0 if stream == 1 else stream


def _cuda_array_interface(where, arg, interface):
    """(device address, shape, whether it can be passed as it is) of a
    __cuda_array_interface__ (version 2 or 3)."""
    if interface.get("mask") is not None:
        raise TypeError(f"{where}: masked arrays are not supported")
    shape = tuple(int(n) for n in interface["shape"])
    address, readonly = interface["data"]
    if readonly and arg.kind == "memref":
        raise TypeError(f"{where}: the array is read only, and the library may "
                        "write this memref argument")
    dtype = np.dtype(interface["typestr"])
    if arg.element == "bf16":
        # No array library but torch spells bf16: its bits travel as 16-bit
        # integers, as on the CPU.
        if dtype.kind not in "iu" or dtype.itemsize != 2:
            raise TypeError(f"{where}: bf16 elements are passed as their bits "
                            f"(16-bit integers), got {dtype}")
        dtype = arg.dtype
    # Dense row-major (None means so); a dimension of size 1 may have any stride.
    dense, step = True, dtype.itemsize
    for n, stride in reversed(list(zip(shape, interface.get("strides") or [None] * len(shape)))):
        dense = dense and (n <= 1 or stride is None or stride == step)
        step *= n
    return address or 0, shape, dtype == arg.dtype and dense


def _take_cuda(runtime, pairs, stream, torch, cuda):
    """Copies results out of the library's device buffers into new tensors,
    then frees each allocation once; all queued on `stream`."""
    values = []
    try:
        for result, value in pairs:
            if not result.is_memref:
                values.append(value)
                continue
            shape = tuple(value.sizes) if result.rank else ()
            strides = tuple(value.strides) if result.rank else ()
            dtype = _torch_dtype(torch, result)
            itemsize = result.dtype.itemsize
            if 0 in shape:
                values.append(_cuda_empty(torch, shape, dtype, cuda.device))
                continue
            # The span of elements the view reaches is copied whole, from its
            # lowest address; the result is torch's view of the copy, with
            # negative strides as flips (torch has none).
            lo = value.offset + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
            hi = value.offset + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
            flat = _cuda_empty(torch, (hi - lo + 1,), dtype, cuda.device)
            address = ctypes.cast(value.aligned, ctypes.c_void_p).value or 0
            runtime.lib.mgpuMemcpy(flat.data_ptr(), address + lo * itemsize,
                                   (hi - lo + 1) * itemsize, stream)
            view = torch.as_strided(flat, shape, [abs(s) for s in strides], 0)
            flipped = [d for d, s in enumerate(strides) if s < 0]
            values.append((view.flip(flipped) if flipped else view).contiguous())
    finally:
        # After the copies, in stream order: the buffers are not reused
        # before the copies have read them.
        _free_cuda(runtime, pairs, stream)
    return values


def _free_cuda(runtime, pairs, stream):
    """Frees each distinct device allocation of the results once."""
    allocations = []
    for result, value in pairs:
        if result.is_memref:
            allocated = ctypes.cast(value.allocated, ctypes.c_void_p).value
            if allocated and allocated not in allocations:
                allocations.append(allocated)
    for allocated in allocations:
        runtime.lib.mgpuMemFree(allocated, stream)


class _CudaRuntime:
    """libqwha_cuda_runtime.so, loaded RTLD_GLOBAL so that the libraries
    loaded after it bind their mgpu* calls to it."""

    def __init__(self, path):
        self.path = path
        try:
            self.lib = ctypes.CDLL(os.fspath(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            raise OSError(f"cannot load the CUDA runtime {path}: {e} (CUDA libraries "
                          "need the NVIDIA driver's libcuda.so.1)") from None
        lib = self.lib
        c_void_p, c_bool = ctypes.c_void_p, ctypes.c_bool
        try:
            for name, restype, argtypes in [
                    ("mgpuSetDefaultDevice", None, [ctypes.c_int32]),
                    ("mgpuMemcpy", None, [c_void_p, c_void_p, ctypes.c_size_t, c_void_p]),
                    ("mgpuMemFree", None, [c_void_p, c_void_p]),
                    ("mgpuEventCreate", c_void_p, []),
                    ("mgpuEventDestroy", None, [c_void_p]),
                    ("mgpuEventRecord", None, [c_void_p, c_void_p]),
                    ("mgpuStreamWaitEvent", None, [c_void_p, c_void_p]),
                    ("qwhaCudaTakeLastError", c_void_p, []),
                    ("qwhaCudaFreeError", None, [c_void_p]),
                    ("qwhaCudaSetStream", None, [c_void_p, c_bool]),
                    ("qwhaCudaUnsetStream", None, []),
                    ("qwhaCudaGetStream", c_void_p, []),
                    ("qwhaCudaIsStreamSet", c_bool, [ctypes.POINTER(c_bool)])]:
                function = getattr(lib, name)
                function.restype = restype
                function.argtypes = argtypes
        except AttributeError as e:
            raise OSError(f"{path} is not a CUDA runtime this module can drive "
                          f"({e}): rebuild qwha_cuda_runtime") from None

    def take_error(self):
        """The runtime's sticky error message, taken, or None."""
        pointer = self.lib.qwhaCudaTakeLastError()
        if not pointer:
            return None
        try:
            return ctypes.string_at(pointer).decode(errors="replace")
        finally:
            self.lib.qwhaCudaFreeError(pointer)

    def wait(self, stream, producer):
        """Makes `stream` wait for the work queued so far on `producer`,
        without the host waiting."""
        event = self.lib.mgpuEventCreate()
        if event:
            self.lib.mgpuEventRecord(event, producer)
            self.lib.mgpuStreamWaitEvent(stream, event)
            self.lib.mgpuEventDestroy(event)

    def borrowed(self, stream):
        """A context in which the calling thread lends `stream` to the
        runtime (without synchronising it), restoring its previous borrowing
        afterwards."""
        return _Borrowed(self.lib, stream)


class _Borrowed:
    def __init__(self, lib, stream):
        self.lib = lib
        self.stream = stream

    def __enter__(self):
        synchronize = ctypes.c_bool(False)
        self.previous = (self.lib.qwhaCudaIsStreamSet(ctypes.byref(synchronize)),
                         self.lib.qwhaCudaGetStream(), synchronize.value)
        self.lib.qwhaCudaSetStream(self.stream, False)

    def __exit__(self, *exc):
        was_set, stream, synchronize = self.previous
        if was_set:
            self.lib.qwhaCudaSetStream(stream, synchronize)
        else:
            self.lib.qwhaCudaUnsetStream()


_cuda_runtime = None
_cuda_runtime_lock = threading.Lock()


def _cuda_runtime_candidates(library, explicit):
    """(paths to try in order, what to add to the message when none is)."""
    if explicit is not None:
        return [pathlib.Path(explicit)], " (cuda_runtime=)"
    if os.environ.get("QWHA_CUDA_RUNTIME"):
        return [pathlib.Path(os.environ["QWHA_CUDA_RUNTIME"])], " ($QWHA_CUDA_RUNTIME)"
    paths = [library.parent / _CUDA_RUNTIME_NAME]
    # The build tree's: the one named by the environment the tests and
    # tools use, and the one of the build this package was copied into
    # (<build>/python_packages/qwha) or that the conventional build of the
    # source tree (python-bindings/qwha, loaded by path) would hold.
    if os.environ.get("QWHA_BINARY_DIR"):
        paths.append(pathlib.Path(os.environ["QWHA_BINARY_DIR"]) / "lib" / _CUDA_RUNTIME_NAME)
    if os.environ.get("QWHA_TOOLS_DIR"):
        paths.append(pathlib.Path(os.environ["QWHA_TOOLS_DIR"]).parent / "lib"
                     / _CUDA_RUNTIME_NAME)
    here = pathlib.Path(__file__).resolve().parent
    if here.parent.name == "python_packages":
        paths.append(here.parent.parent / "lib" / _CUDA_RUNTIME_NAME)
    elif here.parent.name == "python-bindings":
        paths.append(here.parent.parent / "build" / "lib" / _CUDA_RUNTIME_NAME)
    unique = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique, " (pass cuda_runtime= or set QWHA_CUDA_RUNTIME)"


def find_cuda_runtime(library, cuda_runtime=None):
    """The libqwha_cuda_runtime.so a CUDA library at `library` would use:
    `cuda_runtime`, else $QWHA_CUDA_RUNTIME, else the one beside the library,
    else the build tree's. Raises FileNotFoundError naming the paths tried."""
    paths, note = _cuda_runtime_candidates(pathlib.Path(library).resolve(), cuda_runtime)
    for p in paths:
        if p.is_file():
            return p.resolve()
    raise FileNotFoundError(f"{pathlib.Path(library).name} is a CUDA library and needs "
                            f"{_CUDA_RUNTIME_NAME}; not found at: "
                            + ", ".join(map(str, paths)) + note)


def _load_cuda_runtime(path):
    """The process's one CUDA runtime: the libraries bind to the first one
    loaded globally, whatever they ask for later, so another file (not a
    copy) is an error rather than a runtime whose state they would not see."""
    global _cuda_runtime
    with _cuda_runtime_lock:
        if _cuda_runtime is None:
            _cuda_runtime = _CudaRuntime(path)
        elif path != _cuda_runtime.path and not filecmp.cmp(path, _cuda_runtime.path,
                                                             shallow=False):
            raise RuntimeError(f"cannot use the CUDA runtime {path}: this process "
                               f"already uses {_cuda_runtime.path}, which differs")
        return _cuda_runtime


def _default_cuda_device():
    """torch's current device when torch has CUDA, else 0 (calls then fail
    with a message saying why)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.current_device() if torch.cuda.is_available() else 0


def parse_header(text):
    """The entry points a qwha-compile header declares: {name: EntryPoint}
    (not bound to a library)."""
    memrefs = {}
    for m in _MEMREF_TYPEDEF.finditer(text):
        if m.group("ctype") not in _C_TYPES:
            raise HeaderError(f"unknown element type {m.group('ctype')} in {m.group('name')}")
        ctype, dtype = _C_TYPES[m.group("ctype")]
        if m.group("elt") == "f16":
            dtype = np.float16
        memrefs[m.group("name")] = (ctype, dtype, int(m.group("rank")), m.group("elt"),
                                    _descriptor_type(ctype, int(m.group("rank")), m.group("name")))
    structs = {m.group("name"): m.group("body") for m in _RESULTS_TYPEDEF.finditer(text)}
    signatures = {m.group("name"): m for m in _SIGNATURE.finditer(text)}

    def make(spelling):
        spelling = spelling.strip()
        pointer = spelling.endswith("*")
        base = spelling.rstrip("*").strip()
        if base in memrefs:
            if not pointer:
                raise HeaderError(f"memref descriptor {base} passed by value")
            ctype, dtype, rank, elt, desc = memrefs[base]
            return _Type(ctype, dtype, rank, elt, desc)
        if base in _C_TYPES and not pointer:
            return _Type(*_C_TYPES[base])
        raise HeaderError(f"cannot call through C type '{spelling}'")

    entries = {}
    for decl in _DECLARATION.finditer(text):
        name = decl.group("name")
        params = [p.strip() for p in decl.group("params").split(",") if p.strip()]
        params = [] if params == ["void"] else params
        # "TYPE *name" / "TYPE name" -> (TYPE[*], name)
        split = []
        for p in params:
            m = re.match(r"^(.*?)(\w+)$", p)
            split.append((m.group(1).replace(" ", ""), m.group(2)))
        results = []
        if decl.group("ret") != "void":
            results.append(make(decl.group("ret")))
        elif split and split[0][1] == "result":
            results.append(make(split.pop(0)[0]))
        elif split and split[0][1] == "results":
            struct = split.pop(0)[0].rstrip("*")
            if struct not in structs:
                raise HeaderError(f"@{name}: results struct {struct} is not defined")
            for member in structs[struct].split(";"):
                member = member.strip()
                if member:
                    spelling, _ = member.rsplit(" ", 1)
                    results.append(make(spelling + "*" if spelling in memrefs else spelling))
        args = [make(spelling) for spelling, _ in split]
        sig = signatures.get(name)
        if sig:
            mlir_args = _split_top_level(sig.group("args"))
            res_text = sig.group("results").strip()
            if res_text.startswith("(") and res_text.endswith(")"):
                res_text = res_text[1:-1]
            mlir_results = _split_top_level(res_text) if res_text != "()" else []
            for t, spelled in zip(args, mlir_args):
                t.mlir = spelled.replace(" (read only)", "")
                t.kind, t.shape = _static_shape(t.mlir)
            for t, spelled in zip(results, mlir_results):
                t.mlir = spelled
                t.kind, t.shape = _static_shape(spelled)
            signature = f"{name}({sig.group('args')}) -> {sig.group('results')}"
        else:
            signature = decl.group(0)
        entries[name] = EntryPoint(name, args, results, signature)
    if not entries:
        raise HeaderError("the header declares no _mlir_ciface_ entry point")
    return entries


class CompiledModel:
    """A qwha-compile'd library with its entry points as methods.

    ``target`` is "cpu" or "cuda", from the header. For CUDA libraries,
    ``cuda_runtime`` is the libqwha_cuda_runtime.so to load (see the module
    documentation for the default) and ``device`` the ordinal of the GPU the
    library's kernels are loaded on and run on (default: torch's current
    device); both are ignored for CPU libraries."""

    def __init__(self, library, header=None, *, cuda_runtime=None, device=None):
        self.path = pathlib.Path(library).resolve()
        header = pathlib.Path(header) if header else self.path.with_suffix(".h")
        if not header.exists():
            raise FileNotFoundError(f"{header}: no header beside {self.path.name} "
                                    "(qwha-compile writes one; pass header=)")
        self.header = header
        text = header.read_text()
        self.target = header_target(text)
        entries = parse_header(text)
        cuda = None
        if self.target == "cuda":
            runtime = _load_cuda_runtime(find_cuda_runtime(self.path, cuda_runtime))
            cuda = _CudaTarget(runtime, _default_cuda_device() if device is None
                               else int(device), self.path.name)
            # The library loads its kernels from its constructors, on the
            # loading thread's default device.
            runtime.lib.mgpuSetDefaultDevice(cuda.device)
            runtime.take_error()
        self._library = ctypes.CDLL(os.fspath(self.path))
        if cuda is not None:
            error = cuda.runtime.take_error()
            if error is not None:
                raise RuntimeError(f"{self.path.name}: loading its GPU code failed: {error}")
        self._cuda = cuda
        self.entry_points = {name: entry.bind(self._library, cuda)
                             for name, entry in entries.items()}

    @property
    def device(self):
        """The CUDA device ordinal of a CUDA library; None for the CPU."""
        return self._cuda.device if self._cuda else None

    def call(self, name, *args):
        try:
            entry = self.entry_points[name]
        except KeyError:
            raise AttributeError(f"{self.path.name} has no entry point @{name} "
                                 f"(it has {', '.join(sorted(self.entry_points))})") from None
        return entry(*args)

    def __getattr__(self, name):
        if name.startswith("_") or "entry_points" not in self.__dict__:
            raise AttributeError(name)
        if name not in self.entry_points:
            raise AttributeError(f"{self.path.name} has no entry point @{name}")
        return self.entry_points[name]

    def __repr__(self):
        target = f" (cuda:{self._cuda.device})" if self._cuda else ""
        return (f"<CompiledModel {self.path.name}{target}: "
                + "; ".join(e.signature for e in self.entry_points.values()) + ">")


if __name__ == "__main__":
    import sys
    for path in sys.argv[1:]:
        model = CompiledModel(path)
        for entry in model.entry_points.values():
            print(entry.signature)
