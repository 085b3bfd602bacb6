"""A minimal safetensors reader and writer for tests, written from the format
description (https://github.com/huggingface/safetensors), independent of the
project's C++ implementation. Standard library only."""

import json
import struct

_FORMATS = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "I16": "h",
            "I8": "b", "U8": "B", "F16": "e", "BOOL": "?", "BF16": "H"}


def bf16_bits(value):
    """bfloat16 bits of a float: its float32 bits rounded to the upper 16
    (nearest, ties to even); exact for values that are bfloat16 already."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    if (bits & 0x7FFFFFFF) > 0x7F800000:
        return (bits >> 16) | 0x0040
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def bf16_value(bits):
    return struct.unpack("<f", struct.pack("<I", bits << 16))[0]


def write(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, flat list of values, or the raw
    little-endian bytes)}. BF16 values are floats, BOOL values bools."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, values = tensors[name]
        if isinstance(values, (bytes, bytearray)):
            blob = bytes(values)
        else:
            if dtype == "BF16":
                values = [bf16_bits(v) for v in values]
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


def read(path, raw=False):
    """Returns ({name: (dtype, shape, flat list)}, metadata); with raw, the
    flat lists are the tensors' bytes. BF16 values are read as floats."""
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + size])
    base = 8 + size
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        if raw:
            out[name] = (entry["dtype"], entry["shape"],
                         data[base + begin:base + end])
            continue
        fmt = _FORMATS[entry["dtype"]]
        count = (end - begin) // struct.calcsize(fmt)
        values = list(struct.unpack_from("<%d%s" % (count, fmt), data, base + begin))
        if entry["dtype"] == "BF16":
            values = [bf16_value(v) for v in values]
        out[name] = (entry["dtype"], entry["shape"], values)
    return out, metadata
