/* Entry points of fake_cuda_model.so: a header in the format qwha-compile
 * writes (typedefs, signature comments, declarations), written from the one
 * it writes for the same signatures with --target=cpu, plus the line it
 * writes for --target=cuda. The library is fake_cuda_model.c, which calls
 * the runtime as generated code does; test_runtime_cuda.py drives it.
 *
 * Calling convention: MLIR's C interface (`_mlir_ciface_<name>`), over
 * device memory: every memref descriptor's pointers are CUDA device
 * pointers, every returned buffer was allocated with mgpuMemAlloc and
 * belongs to the caller (free each distinct `allocated` once with
 * mgpuMemFree).
 */

#ifndef QWHA_FAKE_CUDA_MODEL_H
#define QWHA_FAKE_CUDA_MODEL_H

#define QWHA_TARGET_CUDA 1

#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef QWHA_MEMREF_F32_2D_DEFINED
#define QWHA_MEMREF_F32_2D_DEFINED
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} qwha_memref_f32_2d;
#endif

#ifndef QWHA_MEMREF_F32_1D_DEFINED
#define QWHA_MEMREF_F32_1D_DEFINED
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} qwha_memref_f32_1d;
#endif

#ifndef QWHA_MEMREF_BF16_1D_DEFINED
#define QWHA_MEMREF_BF16_1D_DEFINED
typedef struct {
  uint16_t *allocated;
  uint16_t *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} qwha_memref_bf16_1d;
#endif

/* @scale(tensor<?x3xf32> (read only), f32) -> (tensor<?x3xf32>, i64) */
typedef struct {
  qwha_memref_f32_2d r0;
  int64_t r1;
} qwha_scale_results;
void _mlir_ciface_scale(qwha_scale_results *results, qwha_memref_f32_2d *arg0, float arg1);

/* @twice(tensor<4xf32> (read only)) -> (tensor<4xf32>, tensor<4xf32>) */
typedef struct {
  qwha_memref_f32_1d r0;
  qwha_memref_f32_1d r1;
} qwha_twice_results;
void _mlir_ciface_twice(qwha_twice_results *results, qwha_memref_f32_1d *arg0);

/* @corner(tensor<4x4xf32> (read only)) -> tensor<2x2xf32> */
void _mlir_ciface_corner(qwha_memref_f32_2d *result, qwha_memref_f32_2d *arg0);

/* @reversed(tensor<4xf32> (read only)) -> tensor<4xf32> */
void _mlir_ciface_reversed(qwha_memref_f32_1d *result, qwha_memref_f32_1d *arg0);

/* @bits(tensor<2xbf16> (read only)) -> tensor<2xbf16> */
void _mlir_ciface_bits(qwha_memref_bf16_1d *result, qwha_memref_bf16_1d *arg0);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QWHA_FAKE_CUDA_MODEL_H */
