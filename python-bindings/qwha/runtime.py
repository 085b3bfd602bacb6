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
on the CPU. torch is never imported by this module.
"""

import ctypes
import os
import pathlib
import re

import numpy as np

__all__ = ["CompiledModel", "EntryPoint", "parse_header", "HeaderError"]


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

    def __repr__(self):
        return f"<EntryPoint @{self.signature}>"

    def bind(self, library):
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
        if array.ndim != arg.rank:
            raise ValueError(f"{where}: expected rank {arg.rank}, got shape {array.shape}")
        if arg.shape is not None:
            for dim, (want, got) in enumerate(zip(arg.shape, array.shape)):
                if want is not None and want != got:
                    raise ValueError(f"{where}: dimension {dim} is {got}, the function "
                                     f"needs {want} (shape {array.shape})")
        # No copy for a C-contiguous array of the right dtype.
        array = np.ascontiguousarray(array, dtype=arg.dtype)
        keep.append(array)
        pointer = ctypes.cast(array.ctypes.data, ctypes.POINTER(arg.ctype))
        desc = arg.descriptor()
        desc.allocated = pointer
        desc.aligned = pointer
        desc.offset = 0
        if arg.rank:
            # Row-major strides of the shape (numpy may report any stride
            # for a dimension of size 1).
            strides, step = [], 1
            for n in reversed(array.shape):
                strides.append(step)
                step *= max(n, 1)
            desc.sizes[:] = list(array.shape)
            desc.strides[:] = strides[::-1]
        keep.append(desc)
        return ctypes.byref(desc)

    def __call__(self, *values):
        if self._function is None:
            raise RuntimeError(f"@{self.name} is not bound to a library")
        if len(values) != len(self.args):
            raise TypeError(f"@{self.name} takes {len(self.args)} arguments, "
                            f"got {len(values)}: {self.signature}")
        keep = []
        converted = [self._convert(i, v, keep) for i, v in enumerate(values)]
        as_torch = any(_is_torch_tensor(v) for v in values)
        if len(self.results) == 1 and self.results[0].is_memref:
            out = self.results[0].descriptor()
            self._function(ctypes.byref(out), *converted)
            return _finish(_take([(self.results[0], out)]), self.results,
                           as_torch)[0]
        if len(self.results) == 1:
            return self._function(*converted)
        if not self.results:
            self._function(*converted)
            return None
        out = self._results_struct()
        self._function(ctypes.byref(out), *converted)
        return tuple(_finish(
            _take([(r, getattr(out, f"r{i}")) for i, r in enumerate(self.results)]),
            self.results, as_torch))


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
    """A qwha-compile'd library with its entry points as methods."""

    def __init__(self, library, header=None):
        self.path = pathlib.Path(library).resolve()
        header = pathlib.Path(header) if header else self.path.with_suffix(".h")
        if not header.exists():
            raise FileNotFoundError(f"{header}: no header beside {self.path.name} "
                                    "(qwha-compile writes one; pass header=)")
        self.header = header
        self._library = ctypes.CDLL(os.fspath(self.path))
        self.entry_points = {name: entry.bind(self._library)
                             for name, entry in parse_header(header.read_text()).items()}

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
        return (f"<CompiledModel {self.path.name}: "
                + "; ".join(e.signature for e in self.entry_points.values()) + ">")


if __name__ == "__main__":
    import sys
    for path in sys.argv[1:]:
        model = CompiledModel(path)
        for entry in model.entry_points.values():
            print(entry.signature)
