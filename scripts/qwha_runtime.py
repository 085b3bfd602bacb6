"""The runtime of the qwha package (python-bindings/qwha/runtime.py), loaded
from the source tree: the scripts and tests that call compiled libraries
need neither the package built nor installed (it is standard library and
numpy only).

    from qwha_runtime import CompiledModel
"""

import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                     "python-bindings", "qwha", "runtime.py")
_spec = importlib.util.spec_from_file_location("qwha_runtime_impl", _PATH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

__all__ = list(_module.__all__)
globals().update({name: getattr(_module, name) for name in __all__})
