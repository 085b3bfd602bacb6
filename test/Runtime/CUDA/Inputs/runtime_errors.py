"""Drives libqwha_cuda_runtime.so's error paths where no GPU is needed: run
with the toolkit's stub libcuda.so.1 first in LD_LIBRARY_PATH, every driver
call fails with CUDA_ERROR_STUB_LIBRARY. Prints what the host sees."""

import ctypes
import sys
import threading

from runtime_harness import load_runtime, take_error

lib = load_runtime(sys.argv[1])

# Handles that are not the driver's: with a stream borrowed, nothing may pass
# them to the driver, which fails every call anyway.
LENT = 0x1234
OTHER = 0x5678


def take():
    return take_error(lib) or "none"


def step(title):
    print("== " + title, flush=True)
    print("== " + title, file=sys.stderr, flush=True)


step("initially")
print("error:", take())

step("stream create")
print("stream:", lib.mgpuStreamCreate())
print("error:", take())
print("error:", take())

step("two failures")
print("alloc:", lib.mgpuMemAlloc(16, None, False))
lib.mgpuStreamSynchronize(None)
print("error:", take())

step("quiet")
lib.qwhaCudaSetPrintErrors(False)
print("alloc:", lib.mgpuMemAlloc(16, None, True))
print("error:", take())
lib.qwhaCudaSetPrintErrors(True)

step("no driver calls")
print("alloc 0 bytes:", lib.mgpuMemAlloc(0, None, False))
lib.mgpuMemFree(None, None)
lib.mgpuSetDefaultDevice(1)
print("error:", take())


class MemRef2D(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * 2),
                ("strides", ctypes.c_int64 * 2)]


step("strided memref")
buffer = (ctypes.c_float * 64)()
view = MemRef2D(ctypes.addressof(buffer), ctypes.addressof(buffer), 0,
                (4, 4), (8, 1))
lib.mgpuMemHostRegisterMemRef(2, ctypes.byref(view), 4)
print("error:", take())


def borrowed():
    synchronize = ctypes.c_bool(True)
    is_set = lib.qwhaCudaIsStreamSet(ctypes.byref(synchronize))
    return f"set {is_set} stream {lib.qwhaCudaGetStream()} " \
           f"synchronize {synchronize.value}"


step("no borrowed stream")
print("borrowed:", borrowed())

step("borrowed stream")
lib.qwhaCudaSetStream(LENT, False)
print("borrowed:", borrowed())
print("stream:", hex(lib.mgpuStreamCreate()))
lib.mgpuStreamSynchronize(LENT)
lib.mgpuStreamDestroy(LENT)
print("error:", take())

step("borrowed stream: memory")
print("alloc:", lib.mgpuMemAlloc(16, LENT, False))
print("error:", take())
lib.mgpuMemFree(0xdead0000, LENT)
print("error:", take())

step("borrowed stream: other streams")
lib.mgpuStreamSynchronize(OTHER)
print("error:", take())
lib.mgpuStreamDestroy(OTHER)
print("error:", take())

step("borrowed stream: other threads")
thread = threading.Thread(
    target=lambda: print("thread borrowed:", borrowed(), flush=True))
thread.start()
thread.join()
print("borrowed:", borrowed())

step("borrowed stream, synchronized")
lib.qwhaCudaSetStream(LENT, True)
print("borrowed:", borrowed())
lib.mgpuStreamDestroy(LENT)
print("error:", take())
lib.mgpuStreamSynchronize(LENT)
print("error:", take())

step("borrowed default stream")
lib.qwhaCudaSetStream(None, False)
print("borrowed:", borrowed())
print("stream:", lib.mgpuStreamCreate())
lib.mgpuStreamSynchronize(None)
lib.mgpuStreamDestroy(None)
print("error:", take())

step("unset")
lib.qwhaCudaUnsetStream()
print("borrowed:", borrowed())
print("stream:", lib.mgpuStreamCreate())
print("error:", take())
