"""Drives qwhaCudaDeviceConstant and qwhaCudaReleaseDeviceConstant over the
mock driver (mock_libcuda.c, first in LD_LIBRARY_PATH as libcuda.so.1), as
the host code of qwha-upload-kernel-constants calls them, and prints the
driver calls each step made."""

import ctypes
import sys
import threading

from runtime_harness import (load_mock_driver, load_runtime, take_calls,
                             take_error)

lib = load_runtime(sys.argv[1])
driver = load_mock_driver()
c_void_p = ctypes.c_void_p


# A "kernel" for the mock driver, which calls it as a host function.
@ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_void_p))
def kernel(params):
    pass


def launch():
    lib.mgpuLaunchKernel(ctypes.cast(kernel, c_void_p), 1, 1, 1, 32, 1, 1, 0,
                         None, None, None, 0)


def calls():
    return take_calls(driver).strip() or "(none)"


def take():
    return take_error(lib) or "none"


def fnv1a(data):
    value = 2166136261
    for byte in data:
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return f"0x{value:08x}"


def step(title):
    print("== " + title, flush=True)


# 1000 floats 0, 1, ..., 999: the mock logs the FNV-1a of what it copied.
table = (ctypes.c_float * 1000)(*range(1000))
print("expected fnv1a:", fnv1a(bytes(table)))
slot = c_void_p()

step("first use")
device = lib.qwhaCudaDeviceConstant(ctypes.byref(slot), table, 4000)
print(calls())
print("slot holds the copy:", slot.value == device and device is not None)
print("copy equals the table:",
      ctypes.string_at(device, 4000) == bytes(table))
print("error:", take())

step("later uses")
again = [lib.qwhaCudaDeviceConstant(ctypes.byref(slot), table, 4000)
         for _ in range(3)]
print(calls())
print("same copy:", all(d == device for d in again))

step("threads racing for a new slot")
# Released together, while the first upload is slowed down in the mock's
# cuMemAlloc (MOCK_CUDA_ALLOC_DELAY_US): the others find the slot empty.
racing = c_void_p()
results = []
barrier = threading.Barrier(8)


def race():
    barrier.wait()
    results.append(lib.qwhaCudaDeviceConstant(ctypes.byref(racing), table,
                                              4000))


threads = [threading.Thread(target=race) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
log = calls().splitlines()
print("uploads:", sum(line.startswith("cuMemcpyHtoD") for line in log))
print("allocations:", sum(line.startswith("cuMemAlloc") for line in log))
print("one copy for all:", len(set(results)) == 1 and results[0] == racing.value)

step("release")
lib.qwhaCudaReleaseDeviceConstant(ctypes.byref(slot))
lib.qwhaCudaReleaseDeviceConstant(ctypes.byref(racing))
print(calls())
print("slot cleared:", slot.value is None)
lib.qwhaCudaReleaseDeviceConstant(ctypes.byref(slot))
print("released again:", calls())
print("live allocations:", driver.mockCudaLiveAllocations())

step("use after release uploads again")
lib.qwhaCudaDeviceConstant(ctypes.byref(slot), table, 4000)
print(calls())
lib.qwhaCudaReleaseDeviceConstant(ctypes.byref(slot))
calls()

step("no bytes")
print("device:", lib.qwhaCudaDeviceConstant(ctypes.byref(slot), table, 0))
print(calls())
print("error:", take())

step("out of memory")
lib.qwhaCudaSetPrintErrors(False)
print("device:", lib.qwhaCudaDeviceConstant(ctypes.byref(slot), table, 1 << 41))
launch()
print(calls())
print("error:", take())
print("slot stays empty:", slot.value is None)
launch()
print("after the error was taken:", calls())

step("failed copy")
print("device:", lib.qwhaCudaDeviceConstant(ctypes.byref(slot), None, 4000))
print(calls())
print("error:", take())
print("slot stays empty:", slot.value is None)
print("live allocations:", driver.mockCudaLiveAllocations())

step("a failed upload on another thread")
failing = threading.Thread(target=lambda: lib.qwhaCudaDeviceConstant(
    ctypes.byref(slot), None, 4000))
failing.start()
failing.join()
calls()
launch()
print("this thread launches:", calls())
take()
