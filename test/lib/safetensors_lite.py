"""A minimal safetensors reader and writer for tests, written from the format
description (https://github.com/huggingface/safetensors), independent of the
project's C++ implementation. Standard library only."""

import json
import struct

_FORMATS = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "I16": "h",
            "I8": "b", "U8": "B", "F16": "e"}


def write(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, flat list of values)}"""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, values = tensors[name]
        blob = struct.pack("<%d%s" % (len(values), _FORMATS[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read(path):
    """Returns ({name: (dtype, shape, flat list)}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + size])
    base = 8 + size
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        fmt = _FORMATS[entry["dtype"]]
        count = (end - begin) // struct.calcsize(fmt)
        values = list(struct.unpack_from("<%d%s" % (count, fmt), data, base + begin))
        out[name] = (entry["dtype"], entry["shape"], values)
    return out, metadata
