/* A stand-in for a library from `qwha-compile --target=cuda`, for testing
 * qwha.runtime without a GPU: each entry point calls the mgpu* runtime as
 * lowered host code does (a stream per call, buffers from mgpuMemAlloc on
 * it, kernels launched on it, temporaries freed, the stream synchronised
 * and destroyed, result buffers handed to the caller). The "kernels" are
 * host functions of the kernel parameters (pointers to the values, as the
 * driver takes them), which the mock driver of
 * test/Runtime/CUDA/Inputs/mock_libcuda.c calls on launch; its "device"
 * memory is host memory. With the toolkit's stub driver, every runtime call
 * that reaches the driver fails instead. */

#include "fake_cuda_model.h"

#include <stddef.h>

void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);

typedef void Kernel(void **params);

static void launch(Kernel *kernel, void *stream, void **params) {
  mgpuLaunchKernel((void *)kernel, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL,
                   0);
}

/* (const float *x, float *y, float s, int64_t n): y = s * x. */
static void scaleKernel(void **params) {
  const float *x = *(const float **)params[0];
  float *y = *(float **)params[1];
  float s = *(float *)params[2];
  int64_t n = *(int64_t *)params[3];
  for (int64_t i = 0; i < n; ++i)
    y[i] = s * x[i];
}

/* (const uint16_t *x, uint16_t *y, int64_t n): y = x. */
static void copy16Kernel(void **params) {
  const uint16_t *x = *(const uint16_t **)params[0];
  uint16_t *y = *(uint16_t **)params[1];
  int64_t n = *(int64_t *)params[2];
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i];
}

/* y = s * x through a temporary, as lowered code leaves some; the number of
   rows too. */
void _mlir_ciface_scale(qwha_scale_results *results, qwha_memref_f32_2d *arg0,
                        float arg1) {
  void *stream = mgpuStreamCreate();
  int64_t rows = arg0->sizes[0], n = rows * 3;
  float *tmp = mgpuMemAlloc(n * sizeof(float), stream, false);
  float *y = mgpuMemAlloc(n * sizeof(float), stream, false);
  const float *x = arg0->aligned + arg0->offset;
  void *first[] = {&x, &tmp, &arg1, &n};
  launch(scaleKernel, stream, first);
  const float *t = tmp;
  float one = 1.0f;
  void *second[] = {&t, &y, &one, &n};
  launch(scaleKernel, stream, second);
  mgpuMemFree(tmp, stream);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  results->r0 = (qwha_memref_f32_2d){y, y, 0, {rows, 3}, {3, 1}};
  results->r1 = rows;
}

/* -x twice: one buffer in both results. */
void _mlir_ciface_twice(qwha_twice_results *results, qwha_memref_f32_1d *arg0) {
  void *stream = mgpuStreamCreate();
  float *y = mgpuMemAlloc(4 * sizeof(float), stream, false);
  const float *x = arg0->aligned + arg0->offset;
  float minusOne = -1.0f;
  int64_t n = 4;
  void *params[] = {&x, &y, &minusOne, &n};
  launch(scaleKernel, stream, params);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  results->r0 = (qwha_memref_f32_1d){y, y, 0, {4}, {1}};
  results->r1 = results->r0;
}

/* x[1:3, 1:3] as a strided view of a copy of x. */
void _mlir_ciface_corner(qwha_memref_f32_2d *result, qwha_memref_f32_2d *arg0) {
  void *stream = mgpuStreamCreate();
  float *y = mgpuMemAlloc(16 * sizeof(float), stream, false);
  const float *x = arg0->aligned + arg0->offset;
  float one = 1.0f;
  int64_t n = 16;
  void *params[] = {&x, &y, &one, &n};
  launch(scaleKernel, stream, params);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  *result = (qwha_memref_f32_2d){y, y, 5, {2, 2}, {4, 1}};
}

/* x[::-1] as a view of a copy of x with a negative stride. */
void _mlir_ciface_reversed(qwha_memref_f32_1d *result,
                           qwha_memref_f32_1d *arg0) {
  void *stream = mgpuStreamCreate();
  float *y = mgpuMemAlloc(4 * sizeof(float), stream, false);
  const float *x = arg0->aligned + arg0->offset;
  float one = 1.0f;
  int64_t n = 4;
  void *params[] = {&x, &y, &one, &n};
  launch(scaleKernel, stream, params);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  *result = (qwha_memref_f32_1d){y, y, 3, {4}, {-1}};
}

/* A copy of x's bf16 bits. */
void _mlir_ciface_bits(qwha_memref_bf16_1d *result, qwha_memref_bf16_1d *arg0) {
  void *stream = mgpuStreamCreate();
  uint16_t *y = mgpuMemAlloc(2 * sizeof(uint16_t), stream, false);
  const uint16_t *x = arg0->aligned + arg0->offset;
  int64_t n = 2;
  void *params[] = {&x, &y, &n};
  launch(copy16Kernel, stream, params);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  *result = (qwha_memref_bf16_1d){y, y, 0, {2}, {1}};
}
