"""Drives libqwha_cuda_runtime.so over the mock driver (mock_libcuda.c,
first in LD_LIBRARY_PATH as libcuda.so.1) the way generated code does, and
prints the driver calls each step made: with a borrowed stream
(qwhaCudaSetStream) nothing creates, synchronises or destroys a stream, and
device memory is allocated and freed in order on the borrowed one."""

import ctypes
import sys

from runtime_harness import (load_mock_driver, load_runtime, take_calls,
                             take_error)

lib = load_runtime(sys.argv[1])
driver = load_mock_driver()
c_void_p = ctypes.c_void_p

LENT = 0x1234
OTHER = 0x5678


# The "kernel": the mock driver calls the CUfunction as a host function of
# the kernel's parameters, here one pointer to 4 floats it fills.
@ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_void_p))
def kernel(params):
    out = ctypes.cast(ctypes.cast(params[0], ctypes.POINTER(c_void_p))[0],
                      ctypes.POINTER(ctypes.c_float))
    for i in range(4):
        out[i] = 10.0 + i


def launch(stream, buffer):
    pointer = c_void_p(buffer)
    params = (c_void_p * 1)(ctypes.addressof(pointer))
    lib.mgpuLaunchKernel(ctypes.cast(kernel, c_void_p), 1, 1, 1, 4, 1, 1, 0,
                         stream, params, None, 1)
    return list(ctypes.cast(buffer, ctypes.POINTER(ctypes.c_float))[:4])


def generated_call():
    """What a call of compiled code does: its own stream, a buffer, a kernel,
    the buffer freed, the stream synchronised and destroyed."""
    stream = lib.mgpuStreamCreate()
    buffer = lib.mgpuMemAlloc(16, stream, False)
    print("kernel wrote:", launch(stream, buffer))
    lib.mgpuMemFree(buffer, stream)
    lib.mgpuStreamSynchronize(stream)
    lib.mgpuStreamDestroy(stream)
    return stream


def step(title):
    """Prints the previous step's driver calls and errors, then the title."""
    sys.stdout.write(take_calls(driver))
    error = take_error(lib)
    if error:
        print("error:", error)
    if title:
        print("== " + title)


step("upstream")
generated_call()

step("borrowed stream")
lib.qwhaCudaSetStream(LENT, False)
print("stream:", hex(generated_call()))

step("borrowed default stream")
lib.qwhaCudaSetStream(None, False)
print("stream:", generated_call())

step("stream-ordered memory freed after the borrowing")
lib.qwhaCudaSetStream(LENT, False)
buffer = lib.mgpuMemAlloc(16, LENT, False)
lib.qwhaCudaUnsetStream()
lib.mgpuMemFree(buffer, None)

step("memory from before the borrowing")
buffer = lib.mgpuMemAlloc(16, None, False)
lib.qwhaCudaSetStream(LENT, False)
lib.mgpuMemFree(buffer, LENT)

step("host-shared memory on a borrowed stream")
buffer = lib.mgpuMemAlloc(16, LENT, True)
lib.mgpuMemFree(buffer, LENT)

step("other streams while borrowing")
buffer = lib.mgpuMemAlloc(16, OTHER, False)
lib.mgpuMemFree(buffer, OTHER)
lib.mgpuStreamSynchronize(OTHER)
lib.mgpuStreamDestroy(OTHER)

step("borrowed stream, synchronized")
lib.qwhaCudaSetStream(LENT, True)
generated_call()

step("unset")
lib.qwhaCudaUnsetStream()
generated_call()

step(None)
print("live allocations:", driver.mockCudaLiveAllocations())
