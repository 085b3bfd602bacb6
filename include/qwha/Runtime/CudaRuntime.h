/*===- CudaRuntime.h - The mgpu* runtime ABI over the CUDA driver -*- C -*-===*\
|*                                                                            *|
|* Part of the QWHA project, under the Apache License v2.0 with LLVM          *|
|* Exceptions.                                                                *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* libqwha_cuda_runtime.so implements the functions that host code lowered by *|
|* MLIR 22's gpu-to-llvm (GPUToLLVMConversion.cpp) and gpu.binary            *|
|* translation (SelectObjectAttr.cpp) calls, over the CUDA driver API.       *|
|* Debian's MLIR does not ship upstream's libmlir_cuda_runtime; this is the  *|
|* project's replacement. The signatures match upstream's                    *|
|* CudaRuntimeWrappers.cpp at release/22.x exactly: the generated code calls *|
|* them by name with no type information, so a mismatch is silent undefined  *|
|* behaviour. test/Runtime/CUDA/mgpu-abi.test pins them against the          *|
|* declarations mlir-translate emits.                                        *|
|*                                                                            *|
|* The types in parentheses are the LLVM IR types of the generated           *|
|* declarations (ptr, i64, ...). Handles are the driver's opaque pointers;   *|
|* this header does not need cuda.h.                                          *|
|*                                                                            *|
|* Errors: every failing driver call prints one line on stderr naming the    *|
|* mgpu function, the driver call and the CUDA error name and string, and   *|
|* the first such message is kept (sticky) until qwhaCudaTakeLastError      *|
|* takes it. The mgpu functions themselves return nothing or a null handle  *|
|* on failure, as upstream's do.                                             *|
|*                                                                            *|
|* Contexts: each call makes the primary context of the calling thread's    *|
|* default device (mgpuSetDefaultDevice, 0 unless set) current for its      *|
|* duration and restores the previous one; the primary context of a device *|
|* is retained on first use and never released.                             *|
|*                                                                            *|
|* Borrowed streams (QWHA extension): a host program that orders its own     *|
|* work on a stream (torch's current stream) lends it to the calling thread  *|
|* with qwhaCudaSetStream. Generated code then runs on that stream instead   *|
|* of one it creates, allocates and frees its buffers in stream order        *|
|* (cuMemAllocAsync, cuMemFreeAsync) and does not wait for it, so a call     *|
|* queues its work and returns without synchronising the host or the device. *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef QWHA_RUNTIME_CUDARUNTIME_H
#define QWHA_RUNTIME_CUDARUNTIME_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#if defined(_WIN32)
#define QWHA_CUDA_RUNTIME_EXPORT __declspec(dllexport)
#else
#define QWHA_CUDA_RUNTIME_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The driver's handle types, declared as cuda.h declares them. */
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

/*--- Modules -------------------------------------------------------------*/

/* ptr (ptr, i64): loads a cubin or fatbin (gpu-module-to-binary formats
   `bin` and `fatbin`). The size is unused, as upstream's. */
QWHA_CUDA_RUNTIME_EXPORT CUmodule mgpuModuleLoad(void *data,
                                                 size_t gpuBlobSize);
/* ptr (ptr, i32): JIT-compiles NUL-terminated PTX (format `isa`) at the
   given optimization level (0-4); the JIT log is part of any error. */
QWHA_CUDA_RUNTIME_EXPORT CUmodule mgpuModuleLoadJIT(void *data, int optLevel);
/* void (ptr) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuModuleUnload(CUmodule module);
/* ptr (ptr, ptr) */
QWHA_CUDA_RUNTIME_EXPORT CUfunction mgpuModuleGetFunction(CUmodule module,
                                                          const char *name);

/*--- Launches ------------------------------------------------------------*/

/* void (ptr, i64 x6, i32, ptr, ptr, ptr, i64). Grid and block sizes are
   intptr_t (MLIR's index) rather than the driver's unsigned int;
   paramsCount is unused, as upstream's. */
QWHA_CUDA_RUNTIME_EXPORT void
mgpuLaunchKernel(CUfunction function, intptr_t gridX, intptr_t gridY,
                 intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                 intptr_t blockZ, int32_t smem, CUstream stream, void **params,
                 void **extra, size_t paramsCount);
/* void (ptr, i64 x9, i32, ptr, ptr, ptr): launch_func with `clusters in`
   (sm_90 and later). */
QWHA_CUDA_RUNTIME_EXPORT void
mgpuLaunchClusterKernel(CUfunction function, intptr_t clusterX,
                        intptr_t clusterY, intptr_t clusterZ, intptr_t gridX,
                        intptr_t gridY, intptr_t gridZ, intptr_t blockX,
                        intptr_t blockY, intptr_t blockZ, int32_t smem,
                        CUstream stream, void **params, void **extra);

/*--- Streams and events --------------------------------------------------*/

/* ptr (): a non-blocking stream; the borrowed stream when the thread has
   one (no driver call; null when the borrowed stream is the default one,
   which is also the failure value). */
QWHA_CUDA_RUNTIME_EXPORT CUstream mgpuStreamCreate(void);
/* void (ptr): the borrowed stream is not destroyed. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuStreamDestroy(CUstream stream);
/* void (ptr): the borrowed stream is synchronised only if it was lent with
   `synchronize`. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuStreamSynchronize(CUstream stream);
/* void (ptr, ptr) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuStreamWaitEvent(CUstream stream,
                                                  CUevent event);
/* ptr (): an event without timing. */
QWHA_CUDA_RUNTIME_EXPORT CUevent mgpuEventCreate(void);
/* void (ptr) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuEventDestroy(CUevent event);
/* void (ptr) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuEventSynchronize(CUevent event);
/* void (ptr, ptr) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuEventRecord(CUevent event, CUstream stream);

/*--- Memory --------------------------------------------------------------*/

/* ptr (i64, ptr, i8): device memory, or managed memory when isHostShared
   (gpu.alloc host_shared); null for 0 bytes. Device memory on the thread's
   borrowed stream is allocated in stream order (cuMemAllocAsync, from the
   device's default pool); otherwise the stream is unused and allocation is
   synchronous, as upstream's. */
QWHA_CUDA_RUNTIME_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes,
                                            CUstream stream,
                                            bool isHostShared);
/* void (ptr, ptr): memory mgpuMemAlloc allocated in stream order is freed
   in stream order on `stream` (cuMemFreeAsync: later work on the stream
   must not use it), whichever thread frees it and whether or not the
   stream is still borrowed; other memory synchronously, as upstream's.
   Null is ignored. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemFree(void *ptr, CUstream stream);
/* void (ptr, ptr, i64, ptr): asynchronous on the stream. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemcpy(void *dst, void *src,
                                         size_t sizeBytes, CUstream stream);
/* void (ptr, i32, i64, ptr): count 32-bit words, asynchronous. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemset32(void *dst, unsigned int value,
                                           size_t count, CUstream stream);
/* void (ptr, i16, i64, ptr): count 16-bit words, asynchronous. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemset16(void *dst, unsigned short value,
                                           size_t count, CUstream stream);

/*--- Host memory registration --------------------------------------------*/

/* void (ptr, i64) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemHostRegister(void *ptr,
                                                  uint64_t sizeBytes);
/* void (i64, ptr, i64): `descriptor` points to a ranked memref descriptor
   of rank `rank` (allocated, aligned, offset, sizes[rank], strides[rank]);
   only dense row-major memrefs are supported (others are reported as an
   error and not registered). */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemHostRegisterMemRef(int64_t rank,
                                                        void *descriptor,
                                                        int64_t elementSizeBytes);
/* void (ptr) */
QWHA_CUDA_RUNTIME_EXPORT void mgpuMemHostUnregister(void *ptr);
/* void (i64, ptr, i64) */
QWHA_CUDA_RUNTIME_EXPORT void
mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor,
                            int64_t elementSizeBytes);

/*--- Devices -------------------------------------------------------------*/

/* void (i32): the device ordinal later calls from this thread use. */
QWHA_CUDA_RUNTIME_EXPORT void mgpuSetDefaultDevice(int32_t device);

/*--- QWHA extensions (not part of the mgpu ABI) --------------------------*/

/* Takes the sticky error: the message of the first failure since the last
   call (with a count of later failures, if any), or null when there was
   none, and clears it. Thread-safe; errors are process-wide. Also lets the
   calling thread launch kernels again after a failed
   qwhaCudaDeviceConstant. Free the message with qwhaCudaFreeError. */
QWHA_CUDA_RUNTIME_EXPORT char *qwhaCudaTakeLastError(void);
/* Frees a message qwhaCudaTakeLastError returned; null is allowed. */
QWHA_CUDA_RUNTIME_EXPORT void qwhaCudaFreeError(char *message);
/* Whether errors are printed on stderr as they happen (the default) or
   only kept. */
QWHA_CUDA_RUNTIME_EXPORT void qwhaCudaSetPrintErrors(bool print);

/* Lends `stream` to the calling thread until qwhaCudaUnsetStream (or the
   next qwhaCudaSetStream): see "Borrowed streams" above and mgpuStreamCreate,
   mgpuStreamDestroy, mgpuStreamSynchronize, mgpuMemAlloc and mgpuMemFree.
   Null, the legacy default stream, can be lent like any other (torch's
   default stream is null). With `synchronize`, mgpuStreamSynchronize of it
   still waits for it: a call returns with its work done, as upstream's. The
   stream must belong to the primary context of the thread's default device
   (mgpuSetDefaultDevice) and outlive the borrowing. Makes no driver call. */
QWHA_CUDA_RUNTIME_EXPORT void qwhaCudaSetStream(CUstream stream,
                                                bool synchronize);
/* Ends the calling thread's borrowing: upstream behaviour again. */
QWHA_CUDA_RUNTIME_EXPORT void qwhaCudaUnsetStream(void);
/* The calling thread's borrowed stream; null when it has none, or borrows
   the default stream (qwhaCudaIsStreamSet tells them apart). */
QWHA_CUDA_RUNTIME_EXPORT CUstream qwhaCudaGetStream(void);
/* Whether the calling thread borrows a stream; if so and `synchronize` is
   not null, stores the flag it was lent with there. With qwhaCudaGetStream,
   enough to restore a borrowing after a nested one. */
QWHA_CUDA_RUNTIME_EXPORT bool qwhaCudaIsStreamSet(bool *synchronize);

/*--- Constants copied to the device once (QWHA extension) ------------------*/
/* Called by the host code qwha-upload-kernel-constants generates: large
   kernel constants (packed weights, embedding tables) stay in the model
   library's read-only data instead of the kernel image. The library's
   constructor calls qwhaCudaDeviceConstant for each when it is loaded, and
   each entry point again for those it needs (returning the kept copy, or
   trying again after a failed upload). */

/* ptr (ptr, ptr, i64): the device copy of the `bytes` bytes at `hostData`,
   made once and kept in `*slot`. The first call, with `*slot` null,
   allocates device memory in the primary context of the calling thread's
   default device (cuMemAlloc, not stream-ordered: the copy outlives every
   stream), copies the data on a stream of its own and waits for that copy
   (not for other work), and stores the pointer in `*slot`. Later calls
   return `*slot` and make no driver call, so may run during stream capture
   (the first may not). Thread-safe. On failure (reported) returns null, leaves
   `*slot` null (the next call tries again) and makes the calling thread's
   mgpuLaunchKernel and mgpuLaunchClusterKernel do nothing until
   qwhaCudaTakeLastError takes the error: generated code launches its
   kernels regardless, and a kernel reading a null pointer would leave the
   context unusable for the whole process. */
QWHA_CUDA_RUNTIME_EXPORT void *qwhaCudaDeviceConstant(void **slot,
                                                      const void *hostData,
                                                      uint64_t bytes);
/* void (ptr): frees the device copy in `*slot`, if there is one, and clears
   the slot (in the primary context of the calling thread's default device,
   which must be the one it was made in). A generated library calls it from
   its destructor. */
QWHA_CUDA_RUNTIME_EXPORT void qwhaCudaReleaseDeviceConstant(void **slot);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QWHA_RUNTIME_CUDARUNTIME_H */
