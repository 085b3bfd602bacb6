/* A stand-in for the CUDA driver, built as libcuda.so.1, with which
 * libqwha_cuda_runtime.so runs without a GPU: "device" memory is host
 * memory, copies and memsets happen at once, and a launch calls the
 * CUfunction as a host function `void (void **params)` (test programs pass
 * one instead of a kernel; a module's kernels do nothing). Every call that
 * matters to stream ordering and memory (not context and device
 * bookkeeping) is appended to a log that mockCudaTakeLog returns, so tests
 * check which driver calls the runtime made, on which stream. Between
 * mockCudaBeginCapture and mockCudaEndCapture, the calls a real driver
 * refuses during (global-mode) stream capture fail and are logged as such.
 *
 * It defines the driver functions the runtime imports, by the names cuda.h
 * maps them to (cuMemAlloc is cuMemAlloc_v2, ...), with ABI-compatible
 * types rather than cuda.h's, so that building it needs no toolkit. A
 * runtime importing a function missing here fails to load, naming it. */

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream, *CUevent;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
};

#define EXPORT __attribute__((visibility("default")))
/* Handles are logged as 0x..., the null stream as 0x0 (not glibc's "(nil)"). */
#define H(handle) ((unsigned long)(uintptr_t)(handle))

/*--- The log -------------------------------------------------------------*/

/* Guards the log and the allocations: the runtime may be called from
   several threads. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *logText;
static size_t logSize;

static void record(const char *fmt, ...) {
  char line[256];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(line, sizeof(line) - 1, fmt, args);
  va_end(args);
  if (n < 0)
    return;
  if (n > (int)sizeof(line) - 2)
    n = sizeof(line) - 2;
  line[n++] = '\n';
  pthread_mutex_lock(&lock);
  logText = realloc(logText, logSize + n + 1);
  memcpy(logText + logSize, line, n);
  logSize += n;
  logText[logSize] = '\0';
  pthread_mutex_unlock(&lock);
}

/* The calls logged since the last call (malloc'ed, for the caller to free
   with mockCudaFree), or null when none. */
EXPORT char *mockCudaTakeLog(void) {
  pthread_mutex_lock(&lock);
  char *text = logText;
  logText = NULL;
  logSize = 0;
  pthread_mutex_unlock(&lock);
  return text;
}
EXPORT void mockCudaFree(void *p) { free(p); }

/*--- Stream capture ------------------------------------------------------*/

/* Whether a stream is being captured into a CUDA graph, process-wide as in
   cudaStreamCaptureModeGlobal (torch's default): then synchronous
   allocations, frees, copies and synchronisation, and module loads, fail on
   every thread. Stream-ordered work is accepted (captured, or run on other
   streams). */
static int capturing;

EXPORT void mockCudaBeginCapture(void) {
  __atomic_store_n(&capturing, 1, __ATOMIC_SEQ_CST);
  record("mockCudaBeginCapture");
}
EXPORT void mockCudaEndCapture(void) {
  __atomic_store_n(&capturing, 0, __ATOMIC_SEQ_CST);
  record("mockCudaEndCapture");
}

/* Logs `call` as refused when a capture is under way: the caller returns
   CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED then. */
static int refusedDuringCapture(const char *call) {
  if (!__atomic_load_n(&capturing, __ATOMIC_SEQ_CST))
    return 0;
  record("%s refused during stream capture", call);
  return 1;
}

/*--- Memory, tracked to tell pool allocations from others -----------------*/

/* Allocations by kind, so that a free of the wrong kind shows in the log.
   Few and short-lived in tests: a list is enough. */
enum Kind { DEVICE, POOL, MANAGED };
struct Allocation {
  void *ptr;
  enum Kind kind;
  struct Allocation *next;
};
static struct Allocation *allocations;
static const char *kindNames[] = {"device", "pool", "managed"};

static CUdeviceptr allocate(size_t bytes, enum Kind kind) {
  struct Allocation *a = malloc(sizeof(*a));
  a->ptr = calloc(1, bytes ? bytes : 1);
  a->kind = kind;
  pthread_mutex_lock(&lock);
  a->next = allocations;
  allocations = a;
  pthread_mutex_unlock(&lock);
  return (CUdeviceptr)(uintptr_t)a->ptr;
}

/* Frees `dptr`; its kind, or "unknown" when it is not an allocation. */
static const char *release(CUdeviceptr dptr) {
  const char *kind = "unknown";
  pthread_mutex_lock(&lock);
  for (struct Allocation **p = &allocations; *p; p = &(*p)->next) {
    if ((CUdeviceptr)(uintptr_t)(*p)->ptr == dptr) {
      struct Allocation *a = *p;
      kind = kindNames[a->kind];
      *p = a->next;
      free(a->ptr);
      free(a);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return kind;
}

/* How many allocations are live: leaks show at the end of a test. */
EXPORT int mockCudaLiveAllocations(void) {
  int n = 0;
  pthread_mutex_lock(&lock);
  for (struct Allocation *a = allocations; a; a = a->next)
    ++n;
  pthread_mutex_unlock(&lock);
  return n;
}

/*--- Initialisation, devices, contexts (not logged) ------------------------*/

EXPORT CUresult cuInit(unsigned flags) { return CUDA_SUCCESS; }

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal < 0 || ordinal > 1)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute,
                                     CUdevice device) {
  *value = 0;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  *context = (CUcontext)(uintptr_t)(0xc0 + device);
  return CUDA_SUCCESS;
}

static __thread CUcontext contextStack[16];
static __thread int contextDepth;

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext context) {
  if (contextDepth == 16)
    return CUDA_ERROR_INVALID_VALUE;
  contextStack[contextDepth++] = context;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *context) {
  if (!contextDepth)
    return CUDA_ERROR_INVALID_VALUE;
  --contextDepth;
  if (context)
    *context = contextStack[contextDepth];
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *device) {
  *device = contextDepth
                ? (int)((uintptr_t)contextStack[contextDepth - 1] - 0xc0)
                : 0;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case CUDA_SUCCESS:
    *name = "CUDA_SUCCESS";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_DEVICE:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    return CUDA_SUCCESS;
  case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    return CUDA_SUCCESS;
  default:
    return CUDA_ERROR_INVALID_VALUE;
  }
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  *text = "mock driver error";
  return CUDA_SUCCESS;
}

/*--- Modules and launches --------------------------------------------------*/

EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  if (refusedDuringCapture("cuModuleLoadData"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuModuleLoadData");
  *module = (CUmodule)0x30;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                                   unsigned numOptions, void *options,
                                   void **values) {
  if (refusedDuringCapture("cuModuleLoadDataEx"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuModuleLoadDataEx");
  *module = (CUmodule)0x30;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(CUmodule module) {
  record("cuModuleUnload");
  return CUDA_SUCCESS;
}

/* A module's kernels cannot run here: launching one does nothing, so that
   compiled programs go through their host code (their results are
   garbage). Test programs launch host functions instead. */
static void noKernel(void **params) {}

EXPORT CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                                    const char *name) {
  record("cuModuleGetFunction(%s)", name);
  *function = (CUfunction)noKernel;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncSetAttribute(CUfunction function, int attribute,
                                   int value) {
  return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(CUfunction function, unsigned gridX,
                               unsigned gridY, unsigned gridZ, unsigned blockX,
                               unsigned blockY, unsigned blockZ, unsigned smem,
                               CUstream stream, void **params, void **extra) {
  record("cuLaunchKernel(stream 0x%lx)", H(stream));
  if (!function)
    return CUDA_ERROR_INVALID_VALUE;
  ((void (*)(void **))function)(params);
  return CUDA_SUCCESS;
}

/* CUlaunchConfig's leading members; the rest is not read. */
struct LaunchConfig {
  unsigned grid[3], block[3], smem;
  CUstream stream;
};

EXPORT CUresult cuLaunchKernelEx(const struct LaunchConfig *config,
                                 CUfunction function, void **params,
                                 void **extra) {
  record("cuLaunchKernelEx(stream 0x%lx)", H(config->stream));
  if (!function)
    return CUDA_ERROR_INVALID_VALUE;
  ((void (*)(void **))function)(params);
  return CUDA_SUCCESS;
}

/*--- Streams and events ----------------------------------------------------*/

static uintptr_t nextHandle = 0x5000; /* Streams and events. */

EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  *stream = (CUstream)__atomic_fetch_add(&nextHandle, 1, __ATOMIC_RELAXED);
  record("cuStreamCreate -> 0x%lx", H(*stream));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
  record("cuStreamDestroy(0x%lx)", H(stream));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  if (refusedDuringCapture("cuStreamSynchronize"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuStreamSynchronize(0x%lx)", H(stream));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamWaitEvent(CUstream stream, CUevent event,
                                  unsigned flags) {
  record("cuStreamWaitEvent(stream 0x%lx, 0x%lx)", H(stream), H(event));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventCreate(CUevent *event, unsigned flags) {
  *event = (CUevent)__atomic_fetch_add(&nextHandle, 1, __ATOMIC_RELAXED);
  record("cuEventCreate -> 0x%lx", H(*event));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(CUevent event) {
  record("cuEventDestroy(0x%lx)", H(event));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
  record("cuEventRecord(0x%lx, stream 0x%lx)", H(event), H(stream));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuEventSynchronize(CUevent event) {
  if (refusedDuringCapture("cuEventSynchronize"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuEventSynchronize(0x%lx)", H(event));
  return CUDA_SUCCESS;
}

/*--- Memory ----------------------------------------------------------------*/

/* More than this is out of memory: tests reach the runtime's failure paths. */
#define MOCK_MEMORY_BYTES (1ull << 40)

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
  /* MOCK_CUDA_ALLOC_DELAY_US slows allocations down, so that tests of
     concurrent callers overlap. */
  const char *delay = getenv("MOCK_CUDA_ALLOC_DELAY_US");
  if (delay)
    usleep((useconds_t)atoi(delay));
  if (refusedDuringCapture("cuMemAlloc"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuMemAlloc(%zu)", bytes);
  if (bytes > MOCK_MEMORY_BYTES)
    return CUDA_ERROR_OUT_OF_MEMORY;
  *dptr = allocate(bytes, DEVICE);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes,
                                  unsigned flags) {
  if (refusedDuringCapture("cuMemAllocManaged"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuMemAllocManaged(%zu)", bytes);
  *dptr = allocate(bytes, MANAGED);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes,
                                CUstream stream) {
  record("cuMemAllocAsync(%zu, stream 0x%lx)", bytes, H(stream));
  *dptr = allocate(bytes, POOL);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  if (refusedDuringCapture("cuMemFree"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuMemFree(%s memory)", release(dptr));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  record("cuMemFreeAsync(%s memory, stream 0x%lx)", release(dptr), H(stream));
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                              CUstream stream) {
  record("cuMemcpyAsync(%zu, stream 0x%lx)", bytes, H(stream));
  memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  return CUDA_SUCCESS;
}

/* FNV-1a of the bytes copied: tests check what reached the device. */
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src,
                                     size_t bytes, CUstream stream) {
  if (!src) {
    record("cuMemcpyHtoDAsync(%zu, null source, stream 0x%lx)", bytes,
           H(stream));
    return CUDA_ERROR_INVALID_VALUE;
  }
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < bytes; ++i)
    hash = (hash ^ ((const unsigned char *)src)[i]) * 16777619u;
  record("cuMemcpyHtoDAsync(%zu, fnv1a 0x%08x, stream 0x%lx)", bytes, hash,
         H(stream));
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count,
                                 CUstream stream) {
  record("cuMemsetD32Async(%zu, stream 0x%lx)", count, H(stream));
  for (size_t i = 0; i < count; ++i)
    ((uint32_t *)(uintptr_t)dst)[i] = value;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value,
                                 size_t count, CUstream stream) {
  record("cuMemsetD16Async(%zu, stream 0x%lx)", count, H(stream));
  for (size_t i = 0; i < count; ++i)
    ((uint16_t *)(uintptr_t)dst)[i] = value;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostRegister_v2(void *ptr, size_t bytes, unsigned flags) {
  if (refusedDuringCapture("cuMemHostRegister"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuMemHostRegister(%zu)", bytes);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostUnregister(void *ptr) {
  if (refusedDuringCapture("cuMemHostUnregister"))
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  record("cuMemHostUnregister");
  return CUDA_SUCCESS;
}
