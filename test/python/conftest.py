"""Shared helpers of the qwha Python package tests (run by
test/python/python-bindings.test under the interpreter that has nanobind,
numpy and pytest; QWHA_BINARY_DIR and QWHA_SOURCE_DIR name the build)."""

import json
import os
import struct

import numpy as np
import pytest

SOURCE_DIR = os.environ.get(
    "QWHA_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("QWHA_BINARY_DIR",
                            os.path.join(SOURCE_DIR, "build"))

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "U8": np.uint8}


def write_safetensors(path, tensors):
    """Writes {name: ndarray} in the safetensors format (numpy, from the
    format description; independent of the C++ reader)."""
    names = {v: k for k, v in _DTYPES.items()}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        blob = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[a.dtype.type], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + size])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + size + begin:8 + size + end],
                                  dtype=_DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def tool(name):
    for d in (os.path.join(BINARY_DIR, "bin"),
              os.path.join(BINARY_DIR, "bench", "gptq")):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    pytest.skip(f"{name} is not built in {BINARY_DIR}")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_layer(rng, rows, cols, samples=None):
    """A weight and the Hessian of correlated activations."""
    samples = samples or 4 * cols
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    mix = rng.standard_normal((cols, cols)).astype(np.float32) / np.sqrt(cols)
    x = (rng.standard_normal((samples, cols)).astype(np.float32) @ mix
         + 0.1 * rng.standard_normal((samples, cols)).astype(np.float32))
    h = (2.0 / samples) * (x.astype(np.float64).T @ x.astype(np.float64))
    return w, x.astype(np.float32), h.astype(np.float32)
