"""Runs @forward of model.mlir, compiled ahead of time into model.so, from
Python: numpy arrays go in and come out through ctypes memref descriptors
laid out as in model.h (commands in README.md).

    python3 run.py ./model.so
"""

import ctypes
import sys

import numpy as np


def memref_descriptor(ctype, rank):
    """The ctypes twin of qwha_memref_<element>_<rank>d in the header."""
    fields = [("allocated", ctypes.POINTER(ctype)),
              ("aligned", ctypes.POINTER(ctype)),
              ("offset", ctypes.c_int64)]
    if rank:
        fields += [("sizes", ctypes.c_int64 * rank),
                   ("strides", ctypes.c_int64 * rank)]
    return type(f"MemRef{rank}D_{ctype.__name__}", (ctypes.Structure,),
                {"_fields_": fields})


MemRefF32_2D = memref_descriptor(ctypes.c_float, 2)

# Results are malloc'ed by the library and owned by the caller.
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None


def to_descriptor(array):
    """A descriptor over `array`'s memory (float32, C order); the array must
    outlive the call."""
    assert array.dtype == np.float32 and array.flags.c_contiguous
    data = array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    rank = array.ndim
    return MemRefF32_2D(data, data, 0,
                        (ctypes.c_int64 * rank)(*array.shape),
                        (ctypes.c_int64 * rank)(*(s // array.itemsize
                                                  for s in array.strides)))


def take_result(desc):
    """Copies a returned memref into a numpy array and frees the library's
    buffer."""
    shape = tuple(desc.sizes)
    strides = tuple(desc.strides)
    if 0 in shape:
        result = np.empty(shape, np.float32)
    else:
        span = 1 + sum((n - 1) * s for n, s in zip(shape, strides))
        flat = np.ctypeslib.as_array(desc.aligned, shape=(desc.offset + span,))
        result = np.lib.stride_tricks.as_strided(
            flat[desc.offset:], shape=shape,
            strides=[s * flat.itemsize for s in strides]).copy()
    _libc.free(ctypes.cast(desc.allocated, ctypes.c_void_p))
    return result


def load(path):
    library = ctypes.CDLL(path)
    library._mlir_ciface_forward.argtypes = [ctypes.POINTER(MemRefF32_2D),
                                             ctypes.POINTER(MemRefF32_2D)]
    library._mlir_ciface_forward.restype = None
    return library


def forward(library, x):
    """y = forward(x) for x of shape [batch, 8]; returns [batch, 3]."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    inputs = to_descriptor(x)
    output = MemRefF32_2D()
    library._mlir_ciface_forward(ctypes.byref(output), ctypes.byref(inputs))
    return take_result(output)


def main():
    library = load(sys.argv[1] if len(sys.argv) > 1 else "./model.so")
    # The inputs main.cpp uses: x[b][k] = ((8 b + k) mod 7 - 3) / 4.
    x = (np.arange(3 * 8).reshape(3, 8) % 7 - 3).astype(np.float32) / 4
    y = forward(library, x)
    print(f"forward: sizes = [{y.shape[0]}, {y.shape[1]}] data =")
    print("[" + ",\n ".join("[" + ", ".join(f"{v:.9g}" for v in row) + "]"
                            for row in y) + "]")
    return y


if __name__ == "__main__":
    main()
