"""What the scripts driving libqwha_cuda_runtime.so through ctypes share:
the runtime with the types of the functions they call, its sticky error,
and the log of the mock driver (mock_libcuda.c) when that is the
libcuda.so.1 loaded."""

import ctypes

c_void_p = ctypes.c_void_p


def load_runtime(path):
    lib = ctypes.CDLL(path)
    lib.qwhaCudaTakeLastError.restype = c_void_p
    lib.qwhaCudaFreeError.argtypes = [c_void_p]
    lib.qwhaCudaSetPrintErrors.argtypes = [ctypes.c_bool]
    lib.qwhaCudaSetStream.argtypes = [c_void_p, ctypes.c_bool]
    lib.qwhaCudaGetStream.restype = c_void_p
    lib.qwhaCudaIsStreamSet.argtypes = [ctypes.POINTER(ctypes.c_bool)]
    lib.qwhaCudaIsStreamSet.restype = ctypes.c_bool
    lib.qwhaCudaDeviceConstant.restype = c_void_p
    lib.qwhaCudaDeviceConstant.argtypes = [ctypes.POINTER(c_void_p), c_void_p,
                                           ctypes.c_uint64]
    lib.qwhaCudaReleaseDeviceConstant.argtypes = [ctypes.POINTER(c_void_p)]
    lib.mgpuStreamCreate.restype = c_void_p
    lib.mgpuStreamDestroy.argtypes = [c_void_p]
    lib.mgpuStreamSynchronize.argtypes = [c_void_p]
    lib.mgpuMemAlloc.restype = c_void_p
    lib.mgpuMemAlloc.argtypes = [ctypes.c_uint64, c_void_p, ctypes.c_bool]
    lib.mgpuMemFree.argtypes = [c_void_p, c_void_p]
    lib.mgpuSetDefaultDevice.argtypes = [ctypes.c_int32]
    lib.mgpuMemHostRegisterMemRef.argtypes = [ctypes.c_int64, c_void_p,
                                              ctypes.c_int64]
    lib.mgpuLaunchKernel.argtypes = [c_void_p] + [ctypes.c_int64] * 6 + [
        ctypes.c_int32, c_void_p, c_void_p, c_void_p, ctypes.c_size_t]
    return lib


def take_error(lib):
    """The runtime's sticky error, taken: its message, or None."""
    pointer = lib.qwhaCudaTakeLastError()
    if not pointer:
        return None
    message = ctypes.string_at(pointer).decode()
    lib.qwhaCudaFreeError(pointer)
    return message


def load_mock_driver():
    """The mock driver the runtime loaded as libcuda.so.1."""
    driver = ctypes.CDLL("libcuda.so.1")
    driver.mockCudaTakeLog.restype = c_void_p
    driver.mockCudaFree.argtypes = [c_void_p]
    return driver


def take_calls(driver):
    """The driver calls logged since the last take, one per line ("" if
    none)."""
    text = driver.mockCudaTakeLog()
    if not text:
        return ""
    calls = ctypes.string_at(text).decode()
    driver.mockCudaFree(text)
    return calls
