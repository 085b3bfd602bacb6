"""Spelling tensors in MLIR source, for the scripts that generate test
modules. Standard library only."""


def fmt(v):
    """A float literal MLIR parses back to the same value."""
    return repr(float(v))


def dense(shape, values):
    """dense<...> of `values` (row-major, already spelled or numbers)."""
    def nest(dims, flat):
        if not dims:
            return flat.pop(0)
        return "[" + ", ".join(nest(dims[1:], flat) for _ in range(dims[0])) + "]"
    return "dense<" + nest(list(shape), [str(v) for v in values]) + ">"


def tensor(shape, elem="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"
