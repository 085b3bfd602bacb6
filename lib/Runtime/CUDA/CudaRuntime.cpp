//===- CudaRuntime.cpp - The mgpu* runtime ABI over the CUDA driver -------===//
//
// Part of the QWHA project, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The functions host code lowered by MLIR's gpu-to-llvm calls, over the CUDA
// driver API, with upstream's (release/22.x CudaRuntimeWrappers.cpp)
// signatures and semantics, plus error reporting a host program can query
// and streams it can lend (include/qwha/Runtime/CudaRuntime.h). The header
// is included so that the compiler rejects any definition whose type differs
// from its declaration.
//
//===----------------------------------------------------------------------===//

#include "qwha/Runtime/CudaRuntime.h"

#include <cuda.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

struct ErrorState {
  std::mutex mutex;
  std::string first;   // The sticky message; empty when none.
  uint64_t later = 0;  // Failures since `first`.
  bool print = true;
};

ErrorState &errors() {
  static ErrorState *state = new ErrorState; // Never destroyed: mgpu calls
                                             // may run from global dtors.
  return *state;
}

void recordError(const std::string &message) {
  ErrorState &state = errors();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.print)
    std::fprintf(stderr, "%s\n", message.c_str());
  if (state.first.empty())
    state.first = message;
  else
    ++state.later;
}

std::string format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char buffer[1024];
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return buffer;
}

/// Reports a failed driver call `call` made by the mgpu function `where`.
/// Returns whether the call succeeded.
bool check(CUresult result, const char *where, const char *call,
           const std::string &detail = {}) {
  if (result == CUDA_SUCCESS)
    return true;
  const char *name = nullptr;
  const char *text = nullptr;
  // These fail for codes they do not know, and in the toolkit's stub
  // library (which answers everything with CUDA_ERROR_STUB_LIBRARY); the
  // number is always printed.
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = nullptr;
  if (cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = nullptr;
  if (!name) {
    switch (result) {
    case CUDA_ERROR_STUB_LIBRARY:
      name = "CUDA_ERROR_STUB_LIBRARY";
      text = "the CUDA driver library loaded is the toolkit's stub, not a "
             "driver";
      break;
    case CUDA_ERROR_NO_DEVICE:
      name = "CUDA_ERROR_NO_DEVICE";
      break;
    default:
      name = "<unknown CUDA error>";
      break;
    }
  }
  if (!text)
    text = "no description";
  std::string message =
      format("qwha-cuda-runtime: %s: %s failed: %s (%d): %s", where, call,
             name, static_cast<int>(result), text);
  if (!detail.empty())
    message += "\n" + detail;
  recordError(message);
  return false;
}

#define QWHA_CU(call) check((call), __func__, #call)

//===----------------------------------------------------------------------===//
// Contexts
//===----------------------------------------------------------------------===//

thread_local int32_t defaultDevice = 0;

/// The retained primary context of `ordinal`, or null when the driver or the
/// device failed (reported). Retained once per device, never released.
CUcontext primaryContext(const char *where, int32_t ordinal) {
  static std::mutex mutex;
  static std::vector<CUcontext> *contexts = new std::vector<CUcontext>;
  static bool initialized = false;
  static CUresult initResult = CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(mutex);
  if (!initialized) {
    initialized = true;
    initResult = cuInit(/*Flags=*/0);
    if (!check(initResult, where, "cuInit(0)"))
      return nullptr;
  } else if (initResult != CUDA_SUCCESS) {
    // Reported on every use, not only the first: the sticky error may have
    // been taken already.
    check(initResult, where, "cuInit(0) (failed before)");
    return nullptr;
  }
  if (ordinal < 0) {
    recordError(format("qwha-cuda-runtime: %s: invalid default device "
                       "ordinal %d",
                       where, ordinal));
    return nullptr;
  }
  if (static_cast<size_t>(ordinal) < contexts->size() &&
      (*contexts)[ordinal])
    return (*contexts)[ordinal];
  CUdevice device;
  if (!check(cuDeviceGet(&device, ordinal), where,
             format("cuDeviceGet(device %d)", ordinal).c_str()))
    return nullptr;
  CUcontext context = nullptr;
  // Does not change the current context.
  if (!check(cuDevicePrimaryCtxRetain(&context, device), where,
             "cuDevicePrimaryCtxRetain"))
    return nullptr;
  if (contexts->size() <= static_cast<size_t>(ordinal))
    contexts->resize(ordinal + 1, nullptr);
  (*contexts)[ordinal] = context;
  return context;
}

/// Makes the primary context of the thread's default device current for the
/// lifetime of the object, and restores the previous one afterwards. When
/// that fails (reported, naming the mgpu function `where`), the object is
/// false and the caller makes no driver call: one failure, one message.
class ScopedContext {
public:
  explicit ScopedContext(const char *where) : where(where) {
    CUcontext context = primaryContext(where, defaultDevice);
    pushed = context &&
             check(cuCtxPushCurrent(context), where, "cuCtxPushCurrent");
  }
  ~ScopedContext() {
    if (pushed)
      check(cuCtxPopCurrent(nullptr), where, "cuCtxPopCurrent");
  }
  explicit operator bool() const { return pushed; }
  ScopedContext(const ScopedContext &) = delete;
  ScopedContext &operator=(const ScopedContext &) = delete;

private:
  const char *where;
  bool pushed = false;
};

CUdeviceptr devicePtr(void *ptr) { return reinterpret_cast<CUdeviceptr>(ptr); }

/// Set when qwhaCudaDeviceConstant failed on this thread: its launches are
/// skipped until qwhaCudaTakeLastError takes the error.
thread_local bool skipLaunches = false;

//===----------------------------------------------------------------------===//
// Borrowed streams
//===----------------------------------------------------------------------===//

/// The stream qwhaCudaSetStream lent the calling thread. `active` is separate
/// from `stream` because the legacy default stream, null, can be borrowed
/// (torch's default stream is).
struct BorrowedStream {
  bool active = false;
  CUstream stream = nullptr;
  bool synchronize = false;
};

thread_local BorrowedStream borrowed;

bool isBorrowed(CUstream stream) {
  return borrowed.active && stream == borrowed.stream;
}

/// The device pointers cuMemAllocAsync returned and that were not freed yet.
/// mgpuMemFree must free exactly these with cuMemFreeAsync: cuMemFree does
/// not wait for pending work on memory from the stream-ordered allocator
/// (the driver documents it), so freeing them synchronously would let later
/// allocations overwrite buffers kernels still read. Memory from cuMemAlloc
/// or cuMemAllocManaged keeps upstream's synchronous cuMemFree even on a
/// borrowed stream. Process-wide: a buffer may be freed by another thread
/// than the one that allocated it.
class StreamOrderedAllocations {
public:
  void insert(CUdeviceptr ptr) {
    std::lock_guard<std::mutex> lock(mutex);
    pointers.insert(ptr);
  }
  /// Whether `ptr` was one of them; it no longer is.
  bool erase(CUdeviceptr ptr) {
    std::lock_guard<std::mutex> lock(mutex);
    return pointers.erase(ptr) != 0;
  }

private:
  std::mutex mutex;
  std::unordered_set<CUdeviceptr> pointers;
};

StreamOrderedAllocations &streamOrderedAllocations() {
  // Never destroyed, as the error state.
  static auto *allocations = new StreamOrderedAllocations;
  return *allocations;
}

/// The bytes of a dense row-major memref, or -1 (reported) when the memref
/// is not dense.
int64_t denseMemRefBytes(const char *where, int64_t rank,
                         const int64_t *sizes, const int64_t *strides,
                         int64_t elementSizeBytes) {
  int64_t expected = 1;
  for (int64_t i = rank - 1; i >= 0; --i) {
    if (sizes[i] != 1 && strides[i] != expected) {
      recordError(format("qwha-cuda-runtime: %s: memref of rank %lld is not "
                         "dense (dimension %lld: size %lld, stride %lld, "
                         "expected stride %lld)",
                         where, static_cast<long long>(rank),
                         static_cast<long long>(i),
                         static_cast<long long>(sizes[i]),
                         static_cast<long long>(strides[i]),
                         static_cast<long long>(expected)));
      return -1;
    }
    expected *= sizes[i];
  }
  return expected * elementSizeBytes;
}

/// A ranked memref descriptor: allocated and aligned pointers, offset, then
/// sizes[rank] and strides[rank].
struct MemRefDescriptor {
  char *allocated;
  char *aligned;
  int64_t offset;
  int64_t sizesAndStrides[1];
};

} // namespace

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

extern "C" CUmodule mgpuModuleLoad(void *data, size_t /*gpuBlobSize*/) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return nullptr;
  CUmodule module = nullptr;
  QWHA_CU(cuModuleLoadData(&module, data));
  return module;
}

extern "C" CUmodule mgpuModuleLoadJIT(void *data, int optLevel) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return nullptr;
  CUmodule module = nullptr;
  char log[4096] = {0};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log)),
                    reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  CUresult result = cuModuleLoadDataEx(&module, data, 3, options, values);
  check(result, __func__, "cuModuleLoadDataEx", log[0] ? log : "");
  return module;
}

extern "C" void mgpuModuleUnload(CUmodule module) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuModuleUnload(module));
}

extern "C" CUfunction mgpuModuleGetFunction(CUmodule module,
                                            const char *name) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return nullptr;
  CUfunction function = nullptr;
  if (!check(cuModuleGetFunction(&function, module, name), __func__,
             "cuModuleGetFunction"))
    recordError(format("qwha-cuda-runtime: (looking for kernel '%s')",
                       name ? name : "<null>"));
  return function;
}

//===----------------------------------------------------------------------===//
// Launches
//===----------------------------------------------------------------------===//

extern "C" void mgpuLaunchKernel(CUfunction function, intptr_t gridX,
                                 intptr_t gridY, intptr_t gridZ,
                                 intptr_t blockX, intptr_t blockY,
                                 intptr_t blockZ, int32_t smem,
                                 CUstream stream, void **params, void **extra,
                                 size_t /*paramsCount*/) {
  if (skipLaunches)
    return;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  if (smem > 0) {
    // Dynamic shared memory above the default 48 KiB must be allowed
    // explicitly (upstream does the same).
    int maxOptin = 0;
    CUdevice device;
    if (QWHA_CU(cuCtxGetDevice(&device)) &&
        QWHA_CU(cuDeviceGetAttribute(
            &maxOptin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            device)) &&
        smem > 48 * 1024 && smem <= maxOptin)
      QWHA_CU(cuFuncSetAttribute(
          function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem));
  }
  check(cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                       smem, stream, params, extra),
        __func__,
        format("cuLaunchKernel(grid %lld x %lld x %lld, block %lld x %lld x "
               "%lld, %d bytes of shared memory)",
               static_cast<long long>(gridX), static_cast<long long>(gridY),
               static_cast<long long>(gridZ), static_cast<long long>(blockX),
               static_cast<long long>(blockY), static_cast<long long>(blockZ),
               smem)
            .c_str());
}

extern "C" void mgpuLaunchClusterKernel(
    CUfunction function, intptr_t clusterX, intptr_t clusterY,
    intptr_t clusterZ, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
    intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t smem,
    CUstream stream, void **params, void **extra) {
  if (skipLaunches)
    return;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  if (smem > 48 * 1024)
    QWHA_CU(cuFuncSetAttribute(
        function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem));
  CUlaunchConfig config = {};
  config.gridDimX = gridX;
  config.gridDimY = gridY;
  config.gridDimZ = gridZ;
  config.blockDimX = blockX;
  config.blockDimY = blockY;
  config.blockDimZ = blockZ;
  config.sharedMemBytes = smem;
  config.hStream = stream;
  CUlaunchAttribute attributes[2] = {};
  attributes[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attributes[0].value.clusterDim.x = clusterX;
  attributes[0].value.clusterDim.y = clusterY;
  attributes[0].value.clusterDim.z = clusterZ;
  attributes[1].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE;
  attributes[1].value.clusterSchedulingPolicyPreference =
      CU_CLUSTER_SCHEDULING_POLICY_SPREAD;
  config.attrs = attributes;
  config.numAttrs = 2;
  check(cuLaunchKernelEx(&config, function, params, extra), __func__,
        format("cuLaunchKernelEx(cluster %lld x %lld x %lld, grid %lld x %lld "
               "x %lld, block %lld x %lld x %lld, %d bytes of shared memory)",
               static_cast<long long>(clusterX),
               static_cast<long long>(clusterY),
               static_cast<long long>(clusterZ), static_cast<long long>(gridX),
               static_cast<long long>(gridY), static_cast<long long>(gridZ),
               static_cast<long long>(blockX), static_cast<long long>(blockY),
               static_cast<long long>(blockZ), smem)
            .c_str());
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

extern "C" CUstream mgpuStreamCreate(void) {
  // No driver call: the stream is the caller's, and may be null.
  if (borrowed.active)
    return borrowed.stream;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return nullptr;
  CUstream stream = nullptr;
  QWHA_CU(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  return stream;
}

extern "C" void mgpuStreamDestroy(CUstream stream) {
  if (isBorrowed(stream))
    return;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuStreamDestroy(stream));
}

extern "C" void mgpuStreamSynchronize(CUstream stream) {
  // The point of borrowing: the caller orders later work on the stream
  // itself, and the host does not wait.
  if (isBorrowed(stream) && !borrowed.synchronize)
    return;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuStreamSynchronize(stream));
}

extern "C" void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuStreamWaitEvent(stream, event, /*Flags=*/0));
}

extern "C" CUevent mgpuEventCreate(void) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return nullptr;
  CUevent event = nullptr;
  QWHA_CU(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING));
  return event;
}

extern "C" void mgpuEventDestroy(CUevent event) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuEventDestroy(event));
}

extern "C" void mgpuEventSynchronize(CUevent event) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuEventSynchronize(event));
}

extern "C" void mgpuEventRecord(CUevent event, CUstream stream) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuEventRecord(event, stream));
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

extern "C" void *mgpuMemAlloc(uint64_t sizeBytes, CUstream stream,
                              bool isHostShared) {
  if (sizeBytes == 0)
    return nullptr;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return nullptr;
  CUdeviceptr ptr = 0;
  if (isHostShared) {
    check(cuMemAllocManaged(&ptr, sizeBytes, CU_MEM_ATTACH_GLOBAL), __func__,
          format("cuMemAllocManaged(%llu bytes)",
                 static_cast<unsigned long long>(sizeBytes))
              .c_str());
  } else if (isBorrowed(stream)) {
    // Stream-ordered: no device-wide synchronisation, usable by work queued
    // on the stream after this call.
    if (check(cuMemAllocAsync(&ptr, sizeBytes, stream), __func__,
              format("cuMemAllocAsync(%llu bytes, borrowed stream %p)",
                     static_cast<unsigned long long>(sizeBytes),
                     static_cast<void *>(stream))
                  .c_str()) &&
        ptr)
      streamOrderedAllocations().insert(ptr);
  } else {
    check(cuMemAlloc(&ptr, sizeBytes), __func__,
          format("cuMemAlloc(%llu bytes)",
                 static_cast<unsigned long long>(sizeBytes))
              .c_str());
  }
  return reinterpret_cast<void *>(ptr);
}

extern "C" void mgpuMemFree(void *ptr, CUstream stream) {
  if (!ptr)
    return;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  if (streamOrderedAllocations().erase(devicePtr(ptr)))
    check(cuMemFreeAsync(devicePtr(ptr), stream), __func__,
          format("cuMemFreeAsync(stream %p)", static_cast<void *>(stream))
              .c_str());
  else
    QWHA_CU(cuMemFree(devicePtr(ptr)));
}

extern "C" void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                           CUstream stream) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuMemcpyAsync(devicePtr(dst), devicePtr(src), sizeBytes, stream));
}

extern "C" void mgpuMemset32(void *dst, unsigned int value, size_t count,
                             CUstream stream) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuMemsetD32Async(devicePtr(dst), value, count, stream));
}

extern "C" void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             CUstream stream) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuMemsetD16Async(devicePtr(dst), value, count, stream));
}

//===----------------------------------------------------------------------===//
// Host memory registration
//===----------------------------------------------------------------------===//

extern "C" void mgpuMemHostRegister(void *ptr, uint64_t sizeBytes) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuMemHostRegister(ptr, sizeBytes, /*Flags=*/0));
}

extern "C" void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor,
                                          int64_t elementSizeBytes) {
  auto *memref = static_cast<MemRefDescriptor *>(descriptor);
  const int64_t *sizes = memref->sizesAndStrides;
  int64_t bytes = denseMemRefBytes(__func__, rank, sizes, sizes + rank,
                                   elementSizeBytes);
  if (bytes <= 0)
    return;
  mgpuMemHostRegister(memref->aligned + memref->offset * elementSizeBytes,
                      static_cast<uint64_t>(bytes));
}

extern "C" void mgpuMemHostUnregister(void *ptr) {
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuMemHostUnregister(ptr));
}

extern "C" void mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor,
                                            int64_t elementSizeBytes) {
  auto *memref = static_cast<MemRefDescriptor *>(descriptor);
  const int64_t *sizes = memref->sizesAndStrides;
  // Mirrors the registration: a memref that was refused is not unregistered.
  int64_t bytes = denseMemRefBytes(__func__, rank, sizes, sizes + rank,
                                   elementSizeBytes);
  if (bytes <= 0)
    return;
  mgpuMemHostUnregister(memref->aligned + memref->offset * elementSizeBytes);
}

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

extern "C" void mgpuSetDefaultDevice(int32_t device) {
  defaultDevice = device;
}

//===----------------------------------------------------------------------===//
// QWHA extensions
//===----------------------------------------------------------------------===//

extern "C" char *qwhaCudaTakeLastError(void) {
  skipLaunches = false;
  ErrorState &state = errors();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.first.empty())
    return nullptr;
  std::string message = state.first;
  if (state.later)
    message += format("\n(and %llu later CUDA errors)",
                      static_cast<unsigned long long>(state.later));
  state.first.clear();
  state.later = 0;
  char *copy = static_cast<char *>(std::malloc(message.size() + 1));
  if (copy)
    std::memcpy(copy, message.c_str(), message.size() + 1);
  return copy;
}

extern "C" void qwhaCudaFreeError(char *message) { std::free(message); }

extern "C" void qwhaCudaSetPrintErrors(bool print) {
  ErrorState &state = errors();
  std::lock_guard<std::mutex> lock(state.mutex);
  state.print = print;
}

extern "C" void qwhaCudaSetStream(CUstream stream, bool synchronize) {
  borrowed = {/*active=*/true, stream, synchronize};
}

extern "C" void qwhaCudaUnsetStream(void) { borrowed = {}; }

extern "C" CUstream qwhaCudaGetStream(void) { return borrowed.stream; }

extern "C" bool qwhaCudaIsStreamSet(bool *synchronize) {
  if (synchronize)
    *synchronize = borrowed.synchronize;
  return borrowed.active;
}

//===----------------------------------------------------------------------===//
// Constants copied to the device once
//===----------------------------------------------------------------------===//

namespace {
/// Guards every slot: one upload or release at a time, so a second caller
/// waits and then finds the slot set. Never destroyed: a library's
/// destructor may run after this one's.
std::mutex &deviceConstantMutex() {
  static std::mutex *mutex = new std::mutex;
  return *mutex;
}

/// Uploads `bytes` at `hostData` into a new allocation, or returns 0
/// (reported).
CUdeviceptr uploadConstant(const char *where, const void *hostData,
                           uint64_t bytes) {
  unsigned long long size = bytes;
  CUdeviceptr ptr = 0;
  if (!check(cuMemAlloc(&ptr, bytes), where,
             format("cuMemAlloc(%llu bytes) for a constant", size).c_str()))
    return 0;
  // On a stream of its own, waited for: the kernels reading the copy may
  // run on any stream, and a synchronous copy from pageable memory may
  // return before the data has arrived. Other work is not waited for.
  CUstream stream = nullptr;
  bool copied =
      check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), where,
            "cuStreamCreate") &&
      check(cuMemcpyHtoDAsync(ptr, hostData, bytes, stream), where,
            format("cuMemcpyHtoDAsync(%llu bytes)", size).c_str()) &&
      check(cuStreamSynchronize(stream), where, "cuStreamSynchronize");
  if (stream)
    check(cuStreamDestroy(stream), where, "cuStreamDestroy");
  if (copied)
    return ptr;
  check(cuMemFree(ptr), where, "cuMemFree");
  return 0;
}
} // namespace

extern "C" void *qwhaCudaDeviceConstant(void **slot, const void *hostData,
                                        uint64_t bytes) {
  if (void *device = __atomic_load_n(slot, __ATOMIC_ACQUIRE))
    return device;
  std::lock_guard<std::mutex> lock(deviceConstantMutex());
  if (void *device = __atomic_load_n(slot, __ATOMIC_ACQUIRE))
    return device;
  if (bytes == 0)
    return nullptr;
  ScopedContext scopedContext(__func__);
  CUdeviceptr ptr = scopedContext ? uploadConstant(__func__, hostData, bytes)
                                  : 0;
  if (!ptr) {
    // The host code launches its kernels anyway, with a null pointer: the
    // fault would poison the context for every user of the process.
    skipLaunches = true;
    return nullptr;
  }
  void *device = reinterpret_cast<void *>(ptr);
  __atomic_store_n(slot, device, __ATOMIC_RELEASE);
  return device;
}

extern "C" void qwhaCudaReleaseDeviceConstant(void **slot) {
  std::lock_guard<std::mutex> lock(deviceConstantMutex());
  void *device = __atomic_exchange_n(slot, nullptr, __ATOMIC_ACQ_REL);
  if (!device)
    return;
  ScopedContext scopedContext(__func__);
  if (!scopedContext)
    return;
  QWHA_CU(cuMemFree(devicePtr(device)));
}
