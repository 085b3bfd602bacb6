"""Drives libqwha_cuda_runtime.so's error paths where no GPU is needed: run
with the toolkit's stub libcuda.so.1 first in LD_LIBRARY_PATH, every driver
call fails with CUDA_ERROR_STUB_LIBRARY. Prints what the host sees."""

import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.qwhaCudaTakeLastError.restype = ctypes.c_void_p
lib.qwhaCudaFreeError.argtypes = [ctypes.c_void_p]
lib.qwhaCudaSetPrintErrors.argtypes = [ctypes.c_bool]
lib.mgpuStreamCreate.restype = ctypes.c_void_p
lib.mgpuMemAlloc.restype = ctypes.c_void_p
lib.mgpuMemAlloc.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_bool]
lib.mgpuMemFree.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.mgpuSetDefaultDevice.argtypes = [ctypes.c_int32]
lib.mgpuMemHostRegisterMemRef.argtypes = [ctypes.c_int64, ctypes.c_void_p,
                                          ctypes.c_int64]


def take():
    pointer = lib.qwhaCudaTakeLastError()
    if not pointer:
        return "none"
    message = ctypes.string_at(pointer).decode()
    lib.qwhaCudaFreeError(pointer)
    return message


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
